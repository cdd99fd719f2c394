import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ProvisioningError } from "../../src/errors.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { CATALOG_GROUPS, createWorkspace, lastSeq, makeDirectory, writesSince, type Workspace } from "./harness.js";

// these tests spawn processes (sandbox, CLI): allow for a loaded CI machine
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let sandbox: SandboxHandle;
let ws: Workspace;
const holders: ChildProcess[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ profile: "full", groups: CATALOG_GROUPS });
});
afterAll(async () => {
  await sandbox?.stop();
});
beforeEach(async () => {
  await sandbox.reset(CATALOG_GROUPS);
  ws = await createWorkspace({ sandbox });
});
afterEach(async () => {
  for (const h of holders.splice(0)) {
    if (h.exitCode === null && h.signalCode === null) {
      h.kill("SIGKILL");
      await new Promise((r) => h.once("exit", r));
    }
  }
  await ws.close();
});

function holdLock(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/sync/fixtures/hold-lock.ts", path], { stdio: ["ignore", "pipe", "inherit"] });
  holders.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve(child));
    child.once("exit", (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
}

function allowHint(stderr: string, flag: string): string {
  const m = new RegExp(`"${flag} (\\d+)"`).exec(stderr);
  if (!m) throw new Error(`no ${flag} hint in: ${stderr}`);
  return m[1]!;
}

describe("sync CLI", () => {
  it("applies on the first run (no implicit dry run) and prints a one-line JSON summary with --json", async () => {
    const r = await ws.cli(["--json"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!);
    expect(summary).toMatchObject({ ok: true, created: 12, failed: 0, dryRun: false, mode: "live" });
    expect(summary.membershipsAdded).toBeGreaterThan(0);
    expect(typeof summary.durationMs).toBe("number");
    expect(r.stdout + r.stderr).not.toContain(ws.sandbox.apiKey);
    const audit = readFileSync(join(ws.dir, "provisioning-audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(audit.length).toBeGreaterThan(0);
    expect(audit[0]).toHaveProperty("op");
    expect(audit[0]).toHaveProperty("status");
    expect(readFileSync(join(ws.dir, "provisioning-audit.jsonl"), "utf8")).not.toContain(ws.sandbox.apiKey);
  });

  it("--dry-run prints the plan and writes nothing", async () => {
    const r = await ws.cli(["--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('plan for target "default"');
    expect(r.stdout).toMatch(/createUser\s+user0@example\.com/);
    expect(r.stdout).toMatch(/dry run .*created 12/);
    expect(await writesSince(sandbox)).toEqual([]);
    const j = await ws.cli(["--dry-run", "--json"]);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout.trim());
    expect(out.plans[0].operations.filter((o: { op: string }) => o.op === "createUser")).toHaveLength(12);
    expect(await writesSince(sandbox)).toEqual([]);
  });

  it("an empty source aborts with exit 5 and zero writes", async () => {
    ws.writeDirectory({ users: [], groups: [] });
    const r = await ws.cli([]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/no users/);
    expect(await writesSince(sandbox)).toEqual([]);
  });

  it("a vanished mapped IdP group aborts with exit 5 and zero writes", async () => {
    const d = makeDirectory();
    d.groups = d.groups.filter((g) => g.name !== "it-admins");
    ws.writeDirectory(d);
    const r = await ws.cli([]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('"it-admins"');
    expect(await writesSince(sandbox)).toEqual([]);
  });

  it("a short or failing source read aborts with exit 5 and zero writes", async () => {
    const short = await ws
      .run({ source: { read: async () => ({ directory: makeDirectory(), complete: false, incompleteReason: "page 3 was short", fingerprint: "test" }) } })
      .catch((e: unknown) => e);
    expect(short).toBeInstanceOf(ProvisioningError);
    expect((short as ProvisioningError).code).toBe("SYNC_SOURCE_INCOMPLETE");
    expect((short as ProvisioningError).exitCode).toBe(5);
    const failing = await ws.run({ source: { read: async () => Promise.reject(new Error("connection reset")) } }).catch((e: unknown) => e);
    expect((failing as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect((failing as ProvisioningError).exitCode).toBe(5);
    expect(await writesSince(sandbox)).toEqual([]);
  });

  it("the deletion guard refuses with exit 3 and --allow-deletions N lets the run through", async () => {
    expect((await ws.cli([])).code).toBe(0);
    const d = makeDirectory();
    const keep = new Set(d.users.slice(0, 4).map((u) => u.id));
    ws.writeDirectory({ users: d.users.filter((u) => keep.has(u.id)), groups: d.groups.map((g) => ({ ...g, members: g.members.filter((m) => keep.has(m)) })) });
    const seq = await lastSeq(sandbox);
    const refused = await ws.cli([]);
    expect(refused.code).toBe(3);
    expect(await writesSince(sandbox, seq)).toEqual([]);
    // a dry run shows the plan and the refusal apply would meet
    const dry = await ws.run({ dryRun: true });
    expect(dry.targets[0]!.refused?.code).toBe("SYNC_GUARD_DELETIONS");
    expect(dry.summary.skippedByGuards).toBe(dry.targets[0]!.plan.operations.length);
    expect(dry.summary.ok).toBe(false);
    const n = allowHint(refused.stderr, "--allow-deletions");
    const allowed = await ws.cli(["--allow-deletions", n, "--json"]);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout.trim()).deactivated).toBe(Number(n));
  });

  it("the removal guard refuses with exit 3 and --allow-removals N lets the run through", async () => {
    ws.writeDirectory(makeDirectory(30));
    expect((await ws.cli([])).code).toBe(0);
    const d = makeDirectory(30);
    // everyone stays in scope through another group: only memberships go, nobody is deprovisioned
    const everyone = d.users.map((u) => u.id);
    for (const g of d.groups) if (g.name === "analysts-finance") g.members = [];
    for (const g of d.groups) if (g.name === "data-governance-leads") g.members = everyone;
    ws.writeDirectory(d);
    const seq = await lastSeq(sandbox);
    const refused = await ws.cli([]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("finance-readers");
    expect(refused.stderr).not.toContain("--allow-deletions");
    expect(await writesSince(sandbox, seq)).toEqual([]);
    const allowed = await ws.cli(["--allow-removals", allowHint(refused.stderr, "--allow-removals"), "--json"]);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout.trim()).membershipsRemoved).toBeGreaterThan(5);
  });

  it("a second run while the lock is held exits 4; a holder killed with SIGKILL does not block the next run", async () => {
    const holder = await holdLock(join(ws.dir, ".provisioning.lock"));
    const blocked = await ws.cli([]);
    expect(blocked.code).toBe(4);
    expect(blocked.stderr).toMatch(/holds the lock/);
    expect(await writesSince(sandbox)).toEqual([]);
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    expect((await ws.cli([])).code).toBe(0);
  });

  it("two concurrent runs: one applies, the other exits 4", async () => {
    // the run that holds the lock must still be running when the other starts: its writes are slowed
    await sandbox.setFaults([{ route: "^(POST|PATCH) ", kind: "latency", latencyMs: 1500 }]);
    try {
      const [a, b] = await Promise.all([ws.cli([]), ws.cli([])]);
      expect([a.code, b.code].sort()).toEqual([0, 4]);
    } finally {
      await sandbox.setFaults([]);
    }
  });

  it("a corrupt snapshot state exits 3 and --rebuild-state recovers from live", async () => {
    ws.writeConfig("", undefined);
    expect((await ws.cli(["--mode", "snapshot"])).code).toBe(0);
    const statePath = join(ws.dir, ".provisioning-state.sqlite");
    expect(existsSync(statePath)).toBe(true);
    writeFileSync(statePath, "garbage, not a database ".repeat(400));
    const corrupt = await ws.cli(["--mode", "snapshot"]);
    expect(corrupt.code).toBe(3);
    expect(corrupt.stderr).toContain("--rebuild-state");
    const seq = await lastSeq(sandbox);
    const rebuilt = await ws.cli(["--mode", "snapshot", "--rebuild-state", "--json"]);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout.trim())).toMatchObject({ created: 0, membershipsAdded: 0 });
    expect(await writesSince(sandbox, seq)).toEqual([]);
  });

  it("a snapshot bound to another mapping is refused with exit 3", async () => {
    expect((await ws.cli(["--mode", "snapshot"])).code).toBe(0);
    ws.writeConfig("", "groups:\n  data-platform-engineers: catalog-admins\n  it-admins: catalog-admins\n  analysts-finance: finance-readers\n  analysts-marketing: mkt-readers\n  data-governance-leads: [data-stewards, mkt-readers]\n");
    const r = await ws.cli(["--mode", "snapshot"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/group mapping/);
  });

  it("--plan-in applies a reviewed plan, and refuses it (exit 3) when the source changed since --plan-out", async () => {
    const planFile = join(ws.dir, "plan.json");
    const out = await ws.cli(["--plan-out", planFile]);
    expect(out.code).toBe(0);
    expect(await writesSince(sandbox)).toEqual([]);
    const plan = readFileSync(planFile, "utf8");
    expect(plan).not.toContain(ws.sandbox.apiKey);

    const d = makeDirectory();
    d.users[1]!.givenName = "Changed";
    ws.writeDirectory(d);
    const stale = await ws.cli(["--plan-in", planFile]);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toMatch(/source changed/);
    expect(await writesSince(sandbox)).toEqual([]);

    ws.writeDirectory(makeDirectory());
    const applied = await ws.cli(["--plan-in", planFile, "--json"]);
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout.trim()).created).toBe(12);
  });

  it("a configuration error exits 2 and prints file:line", async () => {
    writeFileSync(ws.configFile, `catalog:\n  url: ${sandbox.baseUrl}\ngroups:\n  it-admins: catalog-admins\nsync:\n  source:\n    type: file\n    path: directory.json\n  concurrency: many\n`);
    const r = await ws.cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/provisioning\.yaml:9/);
  });

  it("a managed Catalog group missing from the Catalog exits 2 with a hint", async () => {
    await sandbox.reset(["catalog-admins", "finance-readers", "mkt-readers"]);
    const r = await ws.cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"data-stewards"');
    expect(r.stderr).toContain("create it in the Catalog first");
  });

  it("an unknown option exits 2", async () => {
    const r = await ws.cli(["--allow-everything"]);
    expect(r.code).toBe(2);
  });
});
