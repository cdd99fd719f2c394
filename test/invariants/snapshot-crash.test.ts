import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Directory } from "../../src/sync/directory.js";
import { createWorld, directory, MANAGED, MAPPING, person, type Person, type World } from "./world.js";

const T0 = Date.parse("2025-03-01T08:00:00Z");
const people: Person[] = Array.from({ length: 8 }, (_, i) => person(`s${i}`));
const IDP = Object.keys(MAPPING);

function initial(): Directory {
  return directory(people.map((p, i) => ({ p, groups: [IDP[i % IDP.length]!, ...(i % 3 === 0 ? ["analysts-marketing"] : [])] })));
}

/** people 0–1 leave the directory, 2 moves to another group */
function changed(): Directory {
  return directory(
    people.slice(2).map((p, j) => {
      const i = j + 2;
      return { p, groups: i === 2 ? ["data-governance-leads"] : [IDP[i % IDP.length]!, ...(i % 3 === 0 ? ["analysts-marketing"] : [])] };
    }),
  );
}

/** the Catalog the directory asks for: externalId → active, group → externalIds */
function expected(d: Directory, gone: string[] = []): { users: Record<string, boolean>; groups: Record<string, string[]> } {
  const users: Record<string, boolean> = {};
  for (const u of d.users) users[u.id] = true;
  for (const id of gone) users[id] = false;
  const groups: Record<string, string[]> = Object.fromEntries(MANAGED.map((g) => [g, [] as string[]]));
  for (const g of d.groups) {
    const target = MAPPING[g.name];
    if (target) groups[target] = [...new Set([...groups[target]!, ...g.members])].sort();
  }
  return { users, groups };
}

async function actual(w: World): Promise<{ users: Record<string, boolean>; groups: Record<string, string[]> }> {
  const list = await w.users();
  const ext = new Map(list.map((u) => [u.id, u.externalId ?? `?${u.id}`]));
  const users: Record<string, boolean> = {};
  for (const u of list) {
    const key = u.externalId ?? `?${u.id}`;
    expect(users[key], `duplicate "${key}"`).toBeUndefined();
    users[key] = u.active;
  }
  const g = await w.groups();
  const groups = Object.fromEntries(MANAGED.map((name) => [name, g[name]!.members.map((id) => ext.get(id)!).sort()]));
  return { users, groups };
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** the crash fixture bundled once (inside the repository so that its packages resolve): a fast start */
const crashScript = join(root, "node_modules", ".cache", "invariants", `crash-sync-${process.pid}.mjs`);

async function bundleCrashScript(): Promise<void> {
  mkdirSync(dirname(crashScript), { recursive: true });
  await build({
    entryPoints: [join(root, "test/invariants/fixtures/crash-sync.ts")],
    outfile: crashScript,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "silent",
  });
}

function crashRun(w: World, when: "before" | "after", n: number, now: number): Promise<{ signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [crashScript, w.configFile, when, String(n), new Date(now).toISOString()], {
      env: { ...process.env, ...w.env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("exit", (_code, signal) => resolve({ signal, stdout }));
  });
}

/** what the snapshot state holds: users (id → externalId, active) and group members */
function snapshot(w: World): { users: Map<string, { externalId: string | null; active: number | null }>; members: Set<string>; intents: number } {
  const db = new Database(join(w.dir, ".provisioning-state.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const users = new Map(
      (db.prepare("SELECT id, externalId, active FROM users").all() as { id: string; externalId: string | null; active: number | null }[]).map((u) => [u.id, u]),
    );
    const members = new Set((db.prepare("SELECT group_id, user_id FROM members").all() as { group_id: string; user_id: string }[]).map((m) => `${m.group_id}/${m.user_id}`));
    const intents = (db.prepare("SELECT count(*) AS n FROM intents").get() as { n: number }).n;
    return { users, members, intents };
  } finally {
    db.close();
  }
}

describe.each([
  ["full", [["after", 1], ["before", 4], ["after", 7]]],
  ["minimal", [["before", 2], ["after", 5]]],
] as const)("the snapshot records only what the Catalog accepted; a crash at any point, then a rerun, converges with no duplicate and nothing lost (%s profile)", (profile, points) => {
  let w: World;
  beforeAll(async () => {
    [w] = await Promise.all([createWorld(profile, { mode: "snapshot" }), bundleCrashScript()]);
  });
  afterAll(async () => {
    await w?.close();
    rmSync(crashScript, { force: true });
  });

  for (const [when, n] of points) {
    it(`a crash ${when} operation ${n} of the first run, then again ${when} operation 1 of a run with leavers`, async () => {
      await w.reset({ mode: "snapshot" });
      w.writeDirectory(initial());
      const crashed = await crashRun(w, when, n, T0);
      expect(crashed.signal).toBe("SIGKILL");
      expect(crashed.stdout).not.toContain("finished");

      const rerun = await w.sync({ now: () => new Date(T0 + 1000) });
      expect(rerun.summary.failed).toBe(0);
      expect(rerun.summary.created).toBeLessThan(people.length + 1);
      expect(await actual(w)).toEqual(expected(initial()));

      // a second crash, in a run that removes and deactivates
      w.writeDirectory(changed());
      const again = await crashRun(w, when, 1, T0 + 60_000);
      expect(again.signal).toBe("SIGKILL");
      const rerun2 = await w.sync({ now: () => new Date(T0 + 120_000) });
      expect(rerun2.summary.failed).toBe(0);
      expect(await actual(w)).toEqual(expected(changed(), [people[0]!.id, people[1]!.id]));

      // converged: one more run writes nothing, and the snapshot matches the Catalog
      const seq = await w.seq();
      const last = await w.sync({ now: () => new Date(T0 + 180_000) });
      expect(last.summary.failed).toBe(0);
      expect(await w.writesSince(seq)).toEqual([]);
      const snap = snapshot(w);
      expect(snap.intents).toBe(0);
      const live = await w.users();
      expect([...snap.users.keys()].sort()).toEqual(live.map((u) => u.id).sort());
    });
  }

  it("operations the Catalog refused are not recorded as done in the snapshot", async () => {
    await w.reset({ mode: "snapshot" });
    w.writeDirectory(initial());
    // a first run fills the snapshot; the second, with every other member PATCH refused, must record only what went through
    await w.sync({ now: () => new Date(T0) });
    w.writeDirectory(changed());
    // member changes and user PATCHes travel inside /Bulk requests too: the first of those (and its retry) is refused, the later ones go through
    await w.sandbox.setFaults([
      { route: "^PATCH /(Groups|Users)", kind: "5xx", status: 503, share: 0.5 },
      { route: "^POST /Bulk", kind: "5xx", status: 503, count: 2 },
    ]);
    const partial = await w.sync({ now: () => new Date(T0 + 60_000) });
    await w.sandbox.setFaults([]);
    expect(partial.summary.failed).toBeGreaterThan(0);

    const snap = snapshot(w);
    const live = await w.users();
    const groups = await w.groups();
    const liveMembers = new Set(MANAGED.flatMap((name) => groups[name]!.members.map((id) => `${groups[name]!.id}/${id}`)));
    // every membership and every user state in the snapshot is one the Catalog holds
    for (const m of snap.members) expect(liveMembers.has(m), `snapshot member "${m}" is not in the Catalog`).toBe(true);
    for (const u of live) {
      const s = snap.users.get(u.id);
      if (s && s.active !== null) expect(Boolean(s.active), `user "${u.externalId}"`).toBe(u.active);
    }

    const rerun = await w.sync({ now: () => new Date(T0 + 120_000) });
    expect(rerun.summary.failed).toBe(0);
    expect(await actual(w)).toEqual(expected(changed(), [people[0]!.id, people[1]!.id]));
  });
});
