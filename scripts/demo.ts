/**
 * npm run demo [-- --json]
 *
 * The offline demo, with no accounts: builds the Action with the demo config
 * (examples/demo-provisioning.yaml, or PROVISIONING_CONFIG), starts a local Catalog sandbox
 * with the design's groups, replays realistic logins (Entra ID over waad and over SAML, Okta,
 * Google Workspace, a generic SAML IdP) through the built Action in the local harness, then a
 * repeat login and a group change, and prints the Catalog's users, memberships and audit trail.
 * Stops the sandbox and exits 0 when every login completed.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { booleanOption, parseCommandLine, UsageError } from "../src/cli/args.js";
import { ExitCode, runMain, table } from "../src/cli/output.js";
import { loadProvisioningConfig } from "../src/config/load.js";
import { managedCatalogGroups } from "../src/config/mapping.js";
import { buildActionBundle } from "../src/deploy/bundle.js";
import { ActionHarness, type HarnessEvent, type RunResult } from "../src/action-harness/harness.js";
import { spawnSandbox } from "../src/sandbox/process.js";
import type { AuditEntry } from "../src/sandbox/types.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEMO_CONFIG = resolve(repoRoot, "examples/demo-provisioning.yaml");
const DEMO_BUNDLE = resolve(repoRoot, "dist/demo/catalog-provisioning.js");
const DESIGN_GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];

const LOGINS: { title: string; event: string }[] = [
  { title: "Entra ID (waad): group names", event: "entra-waad.json" },
  { title: "Entra ID (SAML): object ids, anchored by oid", event: "entra-saml.json" },
  { title: "Okta: comma-flattened federated_groups", event: "okta.json" },
  { title: "Google Workspace: extended group objects", event: "google-workspace.json" },
  { title: "generic SAML: one group as a single string", event: "generic-saml.json" },
  { title: "repeat login (Entra ID waad), nothing changed", event: "entra-waad.json" },
  { title: "group change (Okta): marketing and governance out, finance in", event: "okta-group-change.json" },
];

interface ScimListUser {
  id: string;
  userName: string;
  externalId?: string;
  active?: boolean;
}
interface ScimListGroup {
  id: string;
  displayName: string;
  members?: { value: string }[];
}

export interface DemoUserRow {
  userName: string;
  externalId: string;
  active: boolean;
  groups: string[];
}

async function scimList<T>(baseUrl: string, apiKey: string, resource: "Users" | "Groups"): Promise<T[]> {
  const out: T[] = [];
  for (let start = 1; ; ) {
    const res = await fetch(`${baseUrl}/${resource}?startIndex=${start}&count=100`, {
      headers: { authorization: `Bearer ${apiKey}`, accept: "application/scim+json" },
    });
    if (!res.ok) throw new Error(`listing "${resource}" failed with ${res.status}`);
    const page = (await res.json()) as { Resources?: T[]; totalResults?: number; itemsPerPage?: number };
    const items = page.Resources ?? [];
    out.push(...items);
    if (items.length === 0 || out.length >= (page.totalResults ?? 0)) return out;
    start += items.length;
  }
}

function loginLine(n: number, title: string, r: RunResult): string {
  const path = /path=(\S+)/.exec(r.persistedLog)?.[1] ?? "-";
  const adds = /adds=(\d+)/.exec(r.persistedLog)?.[1] ?? "0";
  const removes = /removes=(\d+)/.exec(r.persistedLog)?.[1] ?? "0";
  const status = r.outcome === "success" ? path : `${r.outcome}${r.failure ? ` (${r.failure})` : ""}`;
  return `${String(n).padStart(2)}. ${title.padEnd(64)} ${status.padEnd(10)} +${adds} -${removes}  ${r.requests.length} request${r.requests.length === 1 ? "" : "s"}  ${r.durationMs} ms`;
}

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), { json: { type: "boolean" } }, "npm run demo [-- --json]");
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const json = booleanOption(args, "json");
  const say = (s: string): void => {
    if (!json) process.stdout.write(`${s}\n`);
  };

  const configFile = process.env.PROVISIONING_CONFIG ? resolve(process.env.PROVISIONING_CONFIG) : DEMO_CONFIG;
  const config = loadProvisioningConfig({ file: configFile });
  const bundle = await buildActionBundle({ configFile });
  mkdirSync(dirname(DEMO_BUNDLE), { recursive: true });
  writeFileSync(DEMO_BUNDLE, bundle.code);
  say(`built the Action with "${configFile}" (${bundle.bytes} bytes)`);

  const groups = [...new Set([...DESIGN_GROUPS, ...config.targets.flatMap((t) => managedCatalogGroups(t.groups))])];
  const sandbox = await spawnSandbox({ groups });
  try {
    say(`started a local Catalog at ${sandbox.baseUrl} with groups ${groups.map((g) => `"${g}"`).join(", ")}\n`);
    const secrets: Record<string, string> = {};
    for (const t of config.targets) {
      secrets[t.catalog.urlSecret] = sandbox.baseUrl;
      secrets[t.catalog.apiKeySecret] = sandbox.apiKey;
    }
    const harness = new ActionHarness({ bundleFile: DEMO_BUNDLE, secrets, baseUrl: sandbox.baseUrl });

    say("logins through the built Action:");
    const logins: Record<string, unknown>[] = [];
    let failed = false;
    for (const [i, login] of LOGINS.entries()) {
      const event = JSON.parse(readFileSync(resolve(repoRoot, "examples/events", login.event), "utf8")) as HarnessEvent;
      const r = await harness.run(event);
      if (r.outcome !== "success") failed = true;
      say(loginLine(i + 1, login.title, r));
      logins.push({
        title: login.title,
        event: `examples/events/${login.event}`,
        outcome: r.outcome,
        requests: r.requests.map(({ method, path, status }) => ({ method, path, status })),
        log: r.persistedLog,
        durationMs: r.durationMs,
      });
    }

    const [users, catalogGroups, audit] = await Promise.all([
      scimList<ScimListUser>(sandbox.baseUrl, sandbox.apiKey, "Users"),
      scimList<ScimListGroup>(sandbox.baseUrl, sandbox.apiKey, "Groups"),
      sandbox.audit(),
    ]);
    const rows: DemoUserRow[] = users
      .map((u) => ({
        userName: u.userName,
        externalId: u.externalId ?? "",
        active: u.active !== false,
        groups: catalogGroups
          .filter((g) => (g.members ?? []).some((m) => m.value === u.id))
          .map((g) => g.displayName)
          .sort(),
      }))
      .sort((a, b) => a.userName.localeCompare(b.userName));

    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          catalog: sandbox.baseUrl,
          logins,
          users: rows,
          groups: catalogGroups.map((g) => ({ displayName: g.displayName, members: (g.members ?? []).length })),
          audit: audit.map(({ seq, method, path, status, summary }: AuditEntry) => ({ seq, method, path, status, summary })),
        })}\n`,
      );
    } else {
      say("\nCatalog users and memberships:");
      say(table([["userName", "externalId", "active", "groups"], ...rows.map((r) => [r.userName, r.externalId, r.active ? "yes" : "no", r.groups.join(", ") || "-"])]));
      say("\nCatalog groups:");
      say(table([["group", "members"], ...catalogGroups.map((g) => [g.displayName, String((g.members ?? []).length)])]));
      say("\naudit trail (the Catalog's writes):");
      const groupName = new Map(catalogGroups.map((g) => [g.id, g.displayName]));
      const where = (a: AuditEntry): string => (a.resourceType === "Group" && a.resourceId ? `group "${groupName.get(a.resourceId) ?? a.resourceId}"` : a.path);
      say(table([["#", "method", "resource", "status", "what"], ...audit.map((a) => [String(a.seq), a.method, where(a), String(a.status), a.summary])]));
    }
    return failed ? ExitCode.OPERATIONS_FAILED : ExitCode.OK;
  } finally {
    await sandbox.stop();
  }
}

runMain(main);
