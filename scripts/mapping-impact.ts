/**
 * `npm run mapping:impact -- --config <new provisioning.yaml> [--current provisioning.yaml] [--json]`
 *
 * Shows, per Catalog group, who would gain and lose membership if the new mapping were applied:
 * two dry runs of the sync planner with the current config's source, the live Catalog and the
 * ownership ledger. Read-only. Exit codes: 0 done, 1 the new mapping names Catalog groups that
 * do not exist, 2 configuration error, 5 incomplete source read.
 */
import { booleanOption, parseCommandLineOrHelp, stringOption, UsageError } from "../src/cli/args.js";
import { errorJson, runMain } from "../src/cli/output.js";
import { ExitCode, exitCodeOf } from "../src/errors.js";
import { loadProvisioningConfig } from "../src/config/load.js";
import { runMappingImpact } from "../src/verify/impact-run.js";
import type { GroupImpact } from "../src/verify/impact.js";

const USAGE = "npm run mapping:impact -- --config <new provisioning.yaml> [--current provisioning.yaml] [--json]";

function line(g: GroupImpact): string[] {
  const out: string[] = [];
  const head = g.status === "added" ? " (newly managed)" : g.status === "removed" ? " (no longer managed: its members stay as they are)" : "";
  out.push(`"${g.group}"${head}`);
  const list = (xs: string[]) => xs.join(", ");
  if (g.gain.length) out.push(`  + gain (${g.gain.length}): ${list(g.gain)}`);
  if (g.lose.length) out.push(`  - lose (${g.lose.length}): ${list(g.lose)}`);
  if (g.keep.length) out.push(`  = no longer granted but kept, not granted by this project (${g.keep.length}): ${list(g.keep)}`);
  if (g.gain.length + g.lose.length + g.keep.length === 0) out.push("  no change");
  if (g.pending.gain.length || g.pending.lose.length) {
    out.push(`  (the next sync changes these under either mapping: +${g.pending.gain.length} -${g.pending.lose.length})`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseCommandLineOrHelp(process.argv.slice(2), { config: { type: "string" }, current: { type: "string" }, json: { type: "boolean" } }, USAGE);
  if (!args) return ExitCode.OK;
  const json = booleanOption(args, "json");
  try {
    const nextFile = stringOption(args, "config");
    if (nextFile === undefined) throw new UsageError('"--config <new provisioning.yaml>" is required', USAGE);
    const currentFile = stringOption(args, "current");
    const config = loadProvisioningConfig({ ...(currentFile !== undefined ? { file: currentFile } : {}), env: process.env });
    const next = loadProvisioningConfig({ file: nextFile, env: process.env });
    const results = await runMappingImpact({ config, next, env: process.env });
    const code = results.some((r) => r.missingCatalogGroups.length > 0) ? ExitCode.OPERATIONS_FAILED : ExitCode.OK;
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: code === ExitCode.OK, exitCode: code, targets: results })}\n`);
      return code;
    }
    for (const r of results) {
      process.stdout.write(`mapping impact for target "${r.target}" (dry run, nothing written)\n`);
      for (const g of r.groups) process.stdout.write(`${line(g).join("\n")}\n`);
      if (r.missingCatalogGroups.length) {
        process.stdout.write(`the new mapping names Catalog groups that do not exist: ${r.missingCatalogGroups.map((g) => `"${g}"`).join(", ")} (create them in the Catalog first)\n`);
      }
      if (r.missingIdpGroups.length) {
        process.stdout.write(`the new mapping names IdP groups the source does not have (the sync would stop): ${r.missingIdpGroups.map((g) => `"${g}"`).join(", ")}\n`);
      }
    }
    return code;
  } catch (e) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, exitCode: exitCodeOf(e), error: errorJson(e) })}\n`);
    throw e;
  }
}

runMain(main);
