/**
 * `npm run doctor -- [--json] [--config provisioning.yaml] [--tenant tenant.yaml]`
 *
 * Checks provisioning.yaml and tenant.yaml, every target's Catalog (URL, TLS, API key and the
 * next key during a rotation, capabilities, the mapped Catalog groups, privileged groups) and
 * the Auth0 deploy credentials. Prints a pass/fail table with the fix for each failure.
 * Exit codes: 0 all passed, 1 a check failed, 2 a configuration error. Never prints a secret.
 */
import { booleanOption, parseCommandLineOrHelp, stringOption } from "../src/cli/args.js";
import { runMain, table } from "../src/cli/output.js";
import { ExitCode } from "../src/errors.js";
import { runDoctor } from "../src/doctor/run.js";

const USAGE = "npm run doctor -- [--json] [--config provisioning.yaml] [--tenant tenant.yaml]";

async function main(): Promise<number> {
  const args = parseCommandLineOrHelp(process.argv.slice(2), { json: { type: "boolean" }, config: { type: "string" }, tenant: { type: "string" } }, USAGE);
  if (!args) return ExitCode.OK;
  const configFile = stringOption(args, "config");
  const tenantFile = stringOption(args, "tenant");
  const result = await runDoctor({
    env: process.env,
    ...(configFile !== undefined ? { configFile } : {}),
    ...(tenantFile !== undefined ? { tenantFile } : {}),
  });
  if (booleanOption(args, "json")) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.exitCode;
  }
  const rows = result.checks.map((c) => [c.status.toUpperCase(), c.target, c.check, c.detail.replace(/\n+/g, " ")]);
  process.stdout.write(`${table([["status", "target", "check", "detail"], ...rows])}\n`);
  const failures = result.checks.filter((c) => (c.status === "fail" || c.status === "warn") && c.fix);
  if (failures.length > 0) {
    process.stdout.write("\nhow to fix:\n");
    for (const c of failures) process.stdout.write(`  ${c.status === "fail" ? "FAIL" : "WARN"} ${c.target ? `[${c.target}] ` : ""}${c.check}: ${c.fix}\n`);
  }
  const failed = result.checks.filter((c) => c.status === "fail").length;
  process.stdout.write(`\n${failed === 0 ? "all checks passed" : `${failed} check(s) failed`}\n`);
  return result.exitCode;
}

runMain(main);
