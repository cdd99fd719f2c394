/**
 * `npm run sync -- [--dry-run] [--mode live|snapshot] [--allow-deletions N] [--allow-removals N]
 *   [--json] [--plan-out plan.json] [--plan-in plan.json] [--rebuild-state] [--config file]`
 *
 * Exit codes: 0 done, 1 some operations failed, 2 configuration error, 3 refused by a guard,
 * 4 another run holds the lock, 5 incomplete source read.
 */
import { booleanOption, choiceOption, countOption, parseCommandLineOrHelp, stringOption } from "../src/cli/args.js";
import { errorJson, formatError, runMain } from "../src/cli/output.js";
import { ExitCode, exitCodeOf } from "../src/errors.js";
import { loadProvisioningConfig } from "../src/config/load.js";
import { runSync } from "../src/sync/run.js";
import { createProgress, silentProgress } from "../src/sync/progress.js";
import { formatPlan, formatSummary } from "../src/cli/sync-output.js";
import { tuneHeapForSync } from "../src/sync/heap.js";

const USAGE =
  "npm run sync -- [--dry-run] [--mode live|snapshot] [--allow-deletions N] [--allow-removals N] [--json] [--plan-out file] [--plan-in file] [--rebuild-state] [--config file]";

async function main(): Promise<number> {
  tuneHeapForSync();
  const args = parseCommandLineOrHelp(
    process.argv.slice(2),
    {
      "dry-run": { type: "boolean" },
      mode: { type: "string" },
      "allow-deletions": { type: "string" },
      "allow-removals": { type: "string" },
      json: { type: "boolean" },
      "plan-out": { type: "string" },
      "plan-in": { type: "string" },
      "rebuild-state": { type: "boolean" },
      config: { type: "string" },
    },
    USAGE,
  );
  if (!args) return ExitCode.OK;
  const json = booleanOption(args, "json");
  const mode = choiceOption(args, "mode", ["live", "snapshot"] as const);
  const allowDeletions = countOption(args, "allow-deletions");
  const allowRemovals = countOption(args, "allow-removals");
  const planOut = stringOption(args, "plan-out");
  const planIn = stringOption(args, "plan-in");
  const configFile = stringOption(args, "config");
  const dryRun = booleanOption(args, "dry-run");

  try {
    const config = loadProvisioningConfig({ ...(configFile !== undefined ? { file: configFile } : {}), env: process.env });
    const result = await runSync({
      config,
      env: process.env,
      ...(mode ? { mode } : {}),
      dryRun,
      ...(allowDeletions !== undefined ? { allowDeletions } : {}),
      ...(allowRemovals !== undefined ? { allowRemovals } : {}),
      ...(planOut !== undefined ? { planOut } : {}),
      ...(planIn !== undefined ? { planIn } : {}),
      rebuildState: booleanOption(args, "rebuild-state"),
      progress: json ? silentProgress : createProgress(process.stderr),
    });
    const refused = result.targets.find((t) => t.refused)?.refused;
    if (json) {
      if (result.summary.dryRun && !planOut) {
        process.stdout.write(`${JSON.stringify({ summary: result.summary, plans: result.targets.map((t) => t.plan) })}\n`);
      } else {
        process.stdout.write(`${JSON.stringify(result.summary)}\n`);
      }
    } else {
      if (result.summary.dryRun) for (const t of result.targets) process.stdout.write(`${formatPlan(t.plan)}\n`);
      if (result.planFile) process.stdout.write(`plan written to "${result.planFile}"\n`);
      process.stdout.write(`${formatSummary(result.summary)}\n`);
    }
    if (refused) {
      process.stderr.write(`${formatError(refused)}\n`);
      return exitCodeOf(refused);
    }
    return result.summary.failed > 0 ? ExitCode.OPERATIONS_FAILED : ExitCode.OK;
  } catch (e) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, exitCode: exitCodeOf(e), error: errorJson(e) })}\n`);
    throw e;
  }
}

runMain(main);
