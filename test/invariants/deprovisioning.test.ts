import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exitCodeOf } from "../../src/errors.js";
import type { Directory } from "../../src/sync/directory.js";
import { createWorld, directory, person, recordingFetch, type Person, type RecordedRequest, type World, useWorld } from "./world.js";

const DAY = 86_400_000;
const T0 = Date.parse("2025-03-01T08:00:00Z");

/** the exit code the sync CLI ends with for this run (scripts/sync.ts maps errors through `exitCodeOf`) */
async function exitOf(run: Promise<unknown>): Promise<number> {
  try {
    await run;
    return 0;
  } catch (e) {
    return exitCodeOf(e);
  }
}

function userWritesDeactivating(recorded: RecordedRequest[]): number {
  let n = 0;
  for (const r of recorded) {
    const text = JSON.stringify(r.body ?? "");
    if (r.method === "DELETE") n++;
    else if (/"active"/.test(text) && /false/.test(text)) n++;
  }
  return n;
}

describe.each(["full", "minimal"] as const)(
  "deprovisioning happens only in the sync, only for users it owns, deactivates before any delete (%s profile)",
  (profile) => {
    const w = useWorld(profile, { reset: { syncYaml: "  deprovision:\n    deleteAfterDays: 0\n" } });

    const ada = person("ada");
    const bob = person("bob");
    const cyd = person("cyd");

    it("deactivates (active=false) in one run and deletes only in a later one, with a grace period of 0 days", async () => {
      const manual = await w.sandbox.seedUser({ userName: "manual@acme.example", externalId: "manual-1", active: true });
      const loginOnly = person("login-only");
      const l = await w.login(loginOnly, ["analysts-finance"]);
      expect(l.summary.path).toBe("created");
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: bob, groups: ["analysts-marketing"] }]));
      await w.sync({ now: () => new Date(T0) });
      const bobId = (await w.users()).find((u) => u.externalId === bob.id)!.id;
      const seq = await w.seq();

      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }]));
      const first = await w.sync({ now: () => new Date(T0 + DAY) });
      expect(first.summary).toMatchObject({ deactivated: 1, deleted: 0, failed: 0 });
      const afterFirst = await w.users();
      expect(afterFirst.find((u) => u.id === bobId)).toMatchObject({ active: false });

      const second = await w.sync({ now: () => new Date(T0 + DAY + 60_000) });
      expect(second.summary).toMatchObject({ deactivated: 0, deleted: 1, failed: 0 });

      // the sandbox audit: the deactivating PATCH strictly before the DELETE
      const writes = (await w.writesSince(seq)).filter((e) => e.resourceId === bobId || e.path.endsWith(`/Users/${bobId}`));
      const kinds = writes.filter((e) => e.path.startsWith("/Users/")).map((e) => e.method);
      expect(kinds).toEqual(["PATCH", "DELETE"]);

      // only users it owns: the seeded user and the user only the login created stay as they were
      const users = await w.users();
      expect(users.find((u) => u.id === manual.id)).toMatchObject({ active: true, externalId: "manual-1" });
      expect(users.find((u) => u.externalId === loginOnly.id)).toMatchObject({ active: true });
      expect(users.find((u) => u.id === bobId)).toBeUndefined();
    });

    it("a login never deactivates", async () => {
      w.writeDirectory(directory([{ p: cyd, groups: ["analysts-finance"] }]));
      await w.sync({ now: () => new Date(T0) });
      const recorded: RecordedRequest[] = [];
      const f = recordingFetch(recorded);
      await w.login(cyd, ["analysts-finance"], { fetch: f });
      const lostAll = await w.login(cyd, [], { fetch: f });
      expect(lostAll.summary.error).toBeUndefined();
      const ada1 = await w.login(ada, ["analysts-marketing"], { fetch: f });
      await w.login(ada, [], { fetch: f });
      expect(ada1.summary.path).toBe("created");
      expect(userWritesDeactivating(recorded)).toBe(0);
      expect((await w.users()).every((u) => u.active)).toBe(true);
    });
  },
);

describe("deprovisioning stops with exit 3 or 5 when the source read is incomplete or empty, a mapped IdP group vanished, or the removal share is exceeded", () => {
  let w: World;
  const people: Person[] = Array.from({ length: 8 }, (_, i) => person(i));
  const full = (): Directory => directory(people.map((p, i) => ({ p, groups: i % 2 === 0 ? ["analysts-finance", "analysts-marketing"] : ["analysts-finance"] })));

  beforeAll(async () => {
    w = await createWorld("full");
    w.writeDirectory(full());
    const first = await w.sync({ now: () => new Date(T0) });
    expect(first.summary.created).toBe(8);
  });
  afterAll(async () => {
    await w?.close();
  });
  beforeEach(() => {
    w.writeDirectory(full());
  });

  async function refused(d: Directory | string, expected: number): Promise<void> {
    if (typeof d === "string") (await import("node:fs")).writeFileSync(`${w.dir}/directory.json`, d);
    else w.writeDirectory(d);
    const seq = await w.seq();
    expect(await exitOf(w.sync({ now: () => new Date(T0 + DAY) }))).toBe(expected);
    expect(await w.writesSince(seq)).toEqual([]);
  }

  it("an incomplete source read (a member id that names no user): exit 5, nothing written", async () => {
    const d = full();
    d.groups[0]!.members.push("no-such-user");
    await refused(d, 5);
  });

  it("an empty source read: exit 5, nothing written", async () => {
    await refused(JSON.stringify({ users: [], groups: full().groups.map((g) => ({ ...g, members: [] })) }), 5);
  });

  it("a mapped IdP group vanished from the source: exit 5, nothing written", async () => {
    const d = full();
    d.groups = d.groups.filter((g) => g.name !== "analysts-marketing");
    await refused(d, 5);
  });

  it("more deactivations than the deletion share: exit 3, nothing written", async () => {
    const d = full();
    const leaving = new Set(people.slice(0, 6).map((p) => p.id));
    d.users = d.users.filter((u) => !leaving.has(u.id));
    for (const g of d.groups) g.members = g.members.filter((m) => !leaving.has(m));
    await refused(d, 3);
  });

  it("more removals from one group than its share: exit 3, nothing written", async () => {
    const d = full();
    const fin = d.groups.find((g) => g.name === "analysts-finance")!;
    const mkt = d.groups.find((g) => g.name === "analysts-marketing")!;
    // six leave finance-readers but stay in the directory through marketing
    const leaving = people.slice(0, 6).map((p) => p.id);
    fin.members = fin.members.filter((m) => !leaving.includes(m));
    mkt.members = [...new Set([...mkt.members, ...leaving])];
    await refused(d, 3);
  });
});
