import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { ScimUser } from "../../src/scim/types.js";
import { createWorkspace, lastSeq, MAPPING, writesSince, type Workspace } from "./harness.js";

// these tests spawn processes (sandbox, CLI): allow for a loaded CI machine
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

function ldapSourceYaml(mode: "live" | "snapshot"): string {
  const base = inject("ldapBaseDn");
  return `catalog:
  url: http://127.0.0.1:1/scim/v2
${MAPPING}sync:
  mode: ${mode}
  concurrency: 4
  source:
    type: ldap
    url: ${inject("ldapUrl")}
    bindDn: "${inject("ldapBindDn")}"
    bindPasswordEnv: LDAP_BIND_PASSWORD
    users:
      baseDn: "ou=people,${base}"
    groups:
      baseDn: "ou=groups,${base}"
`;
}

/** All Catalog users, read straight from the sandbox. */
async function catalogUsers(ws: Workspace): Promise<ScimUser[]> {
  const res = await fetch(`${ws.sandbox.baseUrl}/Users?count=1000`, { headers: { authorization: `Bearer ${ws.sandbox.apiKey}` } });
  return ((await res.json()) as { Resources?: ScimUser[] }).Resources ?? [];
}

async function groupMembers(ws: Workspace): Promise<Record<string, string[]>> {
  const res = await fetch(`${ws.sandbox.baseUrl}/Groups?count=100`, { headers: { authorization: `Bearer ${ws.sandbox.apiKey}` } });
  const groups = ((await res.json()) as { Resources?: { id: string; displayName: string }[] }).Resources ?? [];
  const out: Record<string, string[]> = {};
  for (const g of groups) {
    const r = await fetch(`${ws.sandbox.baseUrl}/Groups/${g.id}`, { headers: { authorization: `Bearer ${ws.sandbox.apiKey}` } });
    out[g.displayName] = (((await r.json()) as { members?: { value: string }[] }).members ?? []).map((m) => m.value).sort();
  }
  return out;
}

function crashRun(ws: Workspace, after: number, mode: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/sync/fixtures/crash-run.ts", ws.configFile, String(after), mode], {
      env: { ...process.env, ...ws.env, LDAP_BIND_PASSWORD: inject("ldapBindPassword") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("exit", (code, signal) => resolve({ code, signal, stdout }));
  });
}

describe.each([
  ["live", "full"],
  ["snapshot", "full"],
  ["live", "minimal"],
  ["snapshot", "minimal"],
] as const)("sync end to end, OpenLDAP → sandbox (%s mode, %s profile)", (mode, profile) => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace({ profile, mode });
    ws.env.LDAP_BIND_PASSWORD = inject("ldapBindPassword");
    (await import("node:fs")).writeFileSync(ws.configFile, ldapSourceYaml(mode));
  });
  afterAll(async () => {
    await ws?.close();
  });

  it("first run creates users and memberships, a second run writes nothing", async () => {
    const first = await ws.run();
    expect(first.summary.failed).toBe(0);
    expect(first.summary.created).toBeGreaterThan(3);
    expect(first.summary.membershipsAdded).toBeGreaterThan(3);
    const audit = await ws.sandbox.audit();
    expect(audit.some((e) => e.method === "POST" && (e.path === "/Users" || e.path === "/Bulk"))).toBe(true);
    expect(audit.some((e) => e.method === "PATCH" && e.path.startsWith("/Groups/"))).toBe(true);
    const users = await catalogUsers(ws);
    expect(users.length).toBe(first.summary.created);
    expect(users.every((u) => typeof u.externalId === "string" && u.externalId.length > 0)).toBe(true);

    const seq = await lastSeq(ws.sandbox);
    const second = await ws.run();
    expect(second.summary).toMatchObject({ created: 0, updated: 0, membershipsAdded: 0, membershipsRemoved: 0, deactivated: 0, failed: 0 });
    expect(await writesSince(ws.sandbox, seq)).toEqual([]);
  });

  it("a crash between operations, then a rerun, converges with no duplicate and nothing lost", async () => {
    const before = { users: await catalogUsers(ws), members: await groupMembers(ws) };
    await ws.sandbox.reset(["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"]);
    const { rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    for (const f of [".provisioning-state.sqlite", ".provisioning-ledger.json"]) rmSync(join(ws.dir, f), { force: true });

    const crashed = await crashRun(ws, 3, mode);
    expect(crashed.signal).toBe("SIGKILL");
    expect(crashed.stdout).not.toContain("finished");
    const partial = await catalogUsers(ws);
    expect(partial.length).toBeGreaterThan(0);

    const rerun = await ws.run();
    expect(rerun.summary.failed).toBe(0);
    const after = await catalogUsers(ws);
    const externalIds = after.map((u) => u.externalId);
    expect(new Set(externalIds).size).toBe(externalIds.length);
    expect(after.map((u) => u.userName.toLowerCase()).sort()).toEqual(before.users.map((u) => u.userName.toLowerCase()).sort());
    const byIdAfter = new Map(after.map((u) => [u.id, u.externalId]));
    const byIdBefore = new Map(before.users.map((u) => [u.id, u.externalId]));
    const membersNow = await groupMembers(ws);
    for (const [group, ids] of Object.entries(before.members)) {
      expect((membersNow[group] ?? []).map((id) => byIdAfter.get(id)).sort(), group).toEqual(ids.map((id) => byIdBefore.get(id)).sort());
    }

    const seq = await lastSeq(ws.sandbox);
    const third = await ws.run();
    expect(third.summary.failed).toBe(0);
    expect(await writesSince(ws.sandbox, seq)).toEqual([]);
  });
});
