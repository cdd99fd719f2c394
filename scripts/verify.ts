/**
 * `npm run verify -- [--json] [--config file]`
 *
 * Read-only: compares what the Catalog holds with what the mapping, the ownership ledger and
 * the sync source (when configured) say it should hold. Sends GET requests only.
 * Exit codes: 0 clean, 1 findings, 2 configuration error, 5 incomplete source read.
 */
import { booleanOption, parseCommandLineOrHelp, stringOption } from "../src/cli/args.js";
import { errorJson, runMain, table } from "../src/cli/output.js";
import { ExitCode, exitCodeOf } from "../src/errors.js";
import { loadProvisioningConfig } from "../src/config/load.js";
import { runVerify } from "../src/verify/run.js";

const USAGE = "npm run verify -- [--json] [--config file]";

async function main(): Promise<number> {
  const args = parseCommandLineOrHelp(process.argv.slice(2), { json: { type: "boolean" }, config: { type: "string" } }, USAGE);
  if (!args) return ExitCode.OK;
  const json = booleanOption(args, "json");
  const configFile = stringOption(args, "config");
  try {
    const config = loadProvisioningConfig({ ...(configFile !== undefined ? { file: configFile } : {}), env: process.env });
    const result = await runVerify({ config, env: process.env });
    const code = result.ok ? ExitCode.OK : ExitCode.OPERATIONS_FAILED;
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: result.ok, exitCode: code, targets: result.targets, findings: result.findings })}\n`);
      return code;
    }
    for (const t of result.targets) {
      const n = result.findings.filter((f) => f.target === t.target).length;
      process.stdout.write(
        `target "${t.target}" (${t.catalogUrl}): ${t.users} users, ${t.groups} managed groups, compared with the ${t.reference === "source" ? "sync source and the ledger" : "ownership ledger"}: ${n === 0 ? "clean" : `${n} finding(s)`}\n`,
      );
    }
    if (result.findings.length > 0) {
      process.stdout.write(`${table([["target", "finding", "group", "user", "detail"], ...result.findings.map((f) => [f.target, f.kind, f.group ?? "", f.userName ?? f.scimId ?? f.externalId ?? "", f.detail])])}\n`);
    }
    return code;
  } catch (e) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, exitCode: exitCodeOf(e), error: errorJson(e) })}\n`);
    throw e;
  }
}

runMain(main);
