/**
 * npm run action:run -- --event <file.json> [--bundle dist/actions/catalog-provisioning.js]
 *   [--secrets k=v,...] [--sandbox] [--profile full|minimal] [--times n] [--json]
 *
 * Runs the built Post-Login Action in the local harness and prints what happened: the Catalog
 * requests, the `api` calls, the claims, the log line, the duration. The Catalog is the one in
 * CATALOG_SCIM_URL / CATALOG_API_KEY, or a sandbox started for the run (`--sandbox`, the
 * default when those are unset) with the managed groups of provisioning.yaml.
 * Exit 0 when every run completed (a deny is a completed run), 1 when one failed, 2 on usage
 * or configuration errors.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { booleanOption, choiceOption, countOption, parseCommandLine, stringOption, UsageError } from "../src/cli/args.js";
import { ExitCode, runMain } from "../src/cli/output.js";
import { loadProvisioningConfig } from "../src/config/load.js";
import { managedCatalogGroups } from "../src/config/mapping.js";
import { ActionHarness, type HarnessEvent, type RunResult } from "../src/action-harness/harness.js";
import { formatRun, runJson } from "../src/action-harness/report.js";
import { spawnSandbox, type SandboxProcess } from "../src/sandbox/process.js";

const USAGE =
  "npm run action:run -- --event <file.json> [--bundle <file>] [--secrets k=v,...] [--sandbox] [--profile full|minimal] [--times n] [--json]";
const DEFAULT_BUNDLE = "dist/actions/catalog-provisioning.js";

function readEvent(file: string): HarnessEvent {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`cannot read event file "${file}"`);
  }
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`event file "${file}" is not valid JSON: ${e instanceof Error ? e.message.toLowerCase() : String(e)}`);
  }
  const user = (event as { user?: { user_id?: unknown } } | null)?.user;
  if (!user || typeof user.user_id !== "string") throw new UsageError(`event file "${file}" must hold an object with "user.user_id"`);
  return event as HarnessEvent;
}

function parseSecrets(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!spec) return out;
  for (const pair of spec.split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`"--secrets" takes name=value pairs separated by ",", got an entry without "="`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseCommandLine(
    process.argv.slice(2),
    {
      event: { type: "string" },
      bundle: { type: "string" },
      secrets: { type: "string" },
      sandbox: { type: "boolean" },
      profile: { type: "string" },
      times: { type: "string" },
      json: { type: "boolean" },
    },
    USAGE,
  );
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, USAGE);
  const eventFile = stringOption(args, "event");
  if (!eventFile) throw new UsageError(`"--event" is required`, USAGE);
  const times = countOption(args, "times") ?? 1;
  if (times < 1) throw new UsageError(`"--times" must be at least 1`);
  const profile = choiceOption(args, "profile", ["full", "minimal"] as const) ?? "full";
  const json = booleanOption(args, "json");
  const bundleFile = resolve(stringOption(args, "bundle") ?? DEFAULT_BUNDLE);
  if (!existsSync(bundleFile)) throw new UsageError(`bundle "${bundleFile}" does not exist`, "run `npm run build` first");
  const event = readEvent(eventFile);
  const extraSecrets = parseSecrets(stringOption(args, "secrets"));

  const config = loadProvisioningConfig(process.env.PROVISIONING_CONFIG ? { file: process.env.PROVISIONING_CONFIG } : {});
  const useSandbox = booleanOption(args, "sandbox") || !process.env.CATALOG_SCIM_URL || !process.env.CATALOG_API_KEY;

  let sandbox: SandboxProcess | undefined;
  const secrets: Record<string, string> = {};
  try {
    if (useSandbox) {
      const groups = [...new Set(config.targets.flatMap((t) => managedCatalogGroups(t.groups)))].sort();
      sandbox = await spawnSandbox({ groups, profile });
      for (const t of config.targets) {
        secrets[t.catalog.urlSecret] = sandbox.baseUrl;
        secrets[t.catalog.apiKeySecret] = sandbox.apiKey;
      }
      if (!json) process.stdout.write(`sandbox (${profile}) at ${sandbox.baseUrl} with groups ${groups.map((g) => `"${g}"`).join(", ")}\n`);
    } else {
      for (const t of config.targets) {
        const url = process.env[t.catalog.urlSecret] ?? process.env.CATALOG_SCIM_URL;
        const key = process.env[t.catalog.apiKeySecret] ?? process.env.CATALOG_API_KEY;
        const next = process.env[t.catalog.apiKeyNextSecret];
        if (url) secrets[t.catalog.urlSecret] = url;
        if (key) secrets[t.catalog.apiKeySecret] = key;
        if (next) secrets[t.catalog.apiKeyNextSecret] = next;
      }
    }
    Object.assign(secrets, extraSecrets);
    const baseUrl = sandbox?.baseUrl ?? process.env.CATALOG_SCIM_URL;
    const harness = new ActionHarness({ bundleFile, secrets, ...(baseUrl ? { baseUrl } : {}) });
    const results: RunResult[] = [];
    for (let i = 0; i < times; i++) {
      const r = await harness.run(event);
      results.push(r);
      if (!json) process.stdout.write(`${formatRun(r, `login ${i + 1}/${times}`)}\n`);
    }
    if (json) process.stdout.write(`${JSON.stringify({ event: eventFile, runs: results.map(runJson) })}\n`);
    return results.some((r) => r.outcome === "failed") ? ExitCode.OPERATIONS_FAILED : ExitCode.OK;
  } finally {
    await sandbox?.stop();
  }
}

runMain(main);
