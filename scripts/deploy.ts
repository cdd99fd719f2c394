/**
 * `npm run deploy -- [--dry-run] [--json] [--prune-secrets] [--unpin]
 *                   [--rollback [--to <version>]] [--list-versions] [--action <name>]`
 *
 * Publishes the Actions of tenant.yaml to the Auth0 tenant in AUTH0_DOMAIN with the client
 * credentials in AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET. Exit codes: 0 done, 1 failed,
 * 2 configuration error, 3 refused by a guard. Never prompts; never prints a secret.
 */
import { parseArgs } from "node:util";
import { ConfigError, exitCodeOf, ExitCode, ProvisioningError } from "../src/errors.js";
import { runDeploy, runListVersions, runRollback } from "../src/deploy/run.js";
import { formatPlan } from "../src/deploy/plan.js";

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        "prune-secrets": { type: "boolean" },
        unpin: { type: "boolean" },
        rollback: { type: "boolean" },
        to: { type: "string" },
        "list-versions": { type: "boolean" },
        action: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`deploy: ${(e as Error).message}`);
    return ExitCode.CONFIG;
  }
  const json = args.json === true;
  const env = process.env;
  const client = {
    env,
    ...(env.DEPLOY_TIMEOUT_SECONDS ? { timeoutInSeconds: Number(env.DEPLOY_TIMEOUT_SECONDS) } : {}),
    ...(env.DEPLOY_MAX_RETRIES ? { maxRetries: Number(env.DEPLOY_MAX_RETRIES) } : {}),
    log: (line: string) => {
      if (!json) console.error(line);
    },
  };
  const out = (value: unknown, lines: string[]) => {
    if (json) console.log(JSON.stringify(value));
    else for (const l of lines) console.log(l);
  };
  try {
    if (args["list-versions"]) {
      const r = await runListVersions({ ...client, ...(args.action ? { action: args.action } : {}) });
      out({ ok: true, ...r }, [
        `versions of "${r.action}" (newest first):`,
        ...r.versions.map((v) => `  ${String(v.number).padStart(3)}  ${v.created_at ?? "-"}  ${v.deployed ? "deployed" : "        "}  ${v.fingerprint?.slice(0, 12) ?? "-"}${v.pinned ? "  pinned" : ""}`),
      ]);
      return ExitCode.OK;
    }
    if (args.rollback) {
      let to: number | undefined;
      if (args.to !== undefined) {
        to = Number(args.to);
        if (!Number.isInteger(to) || to < 1) throw new ConfigError(`"--to" must be a version number, got "${args.to}"`);
      }
      const r = await runRollback({ ...client, ...(args.action ? { action: args.action } : {}), ...(to !== undefined ? { to } : {}) });
      out({ ok: true, rollback: r }, [`rolled back "${r.action}" to version ${r.to} (deployed as version ${r.version}) and pinned it; the next deploy needs --unpin`]);
      return ExitCode.OK;
    }
    const r = await runDeploy({ ...client, dryRun: args["dry-run"] === true, pruneSecrets: args["prune-secrets"] === true, unpin: args.unpin === true });
    const lines = formatPlan(r.plan);
    if (r.dryRun) lines.unshift("plan (dry run, nothing written):");
    else if (r.noop) lines.push("nothing to do: the tenant matches tenant.yaml");
    else if (r.applied) {
      for (const d of r.applied.deployed) lines.push(`deployed "${d.name}" as version ${d.version ?? "?"}`);
      for (const b of r.applied.bound) lines.push(`"${b.trigger}" bindings: ${b.order.join(", ")}`);
    }
    out({ ok: true, dryRun: r.dryRun, noop: r.noop, plan: r.plan, ...(r.applied ? { applied: r.applied } : {}) }, lines);
    return r.dryRun && r.plan.refusals.length > 0 ? ExitCode.REFUSED : ExitCode.OK;
  } catch (e) {
    const code = exitCodeOf(e);
    const message = e instanceof ConfigError ? e.format() : e instanceof Error ? e.message : String(e);
    const hint = e instanceof ProvisioningError && !(e instanceof ConfigError) && e.hint ? ` (hint: ${e.hint})` : "";
    if (json) {
      console.log(JSON.stringify({ ok: false, exitCode: code, code: e instanceof ProvisioningError ? e.code : "UNEXPECTED", message, ...(e instanceof ProvisioningError && e.details?.step ? { step: e.details.step } : {}) }));
    } else console.error(`deploy: ${message}${hint}`);
    return code;
  }
}

// the SDK can leave a request timer running: end explicitly
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`deploy: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(ExitCode.OPERATIONS_FAILED);
  },
);
