import { describe, expect, it } from "vitest";
import { ExitCode, ProvisioningError } from "../../src/errors.js";
import { checkSourceRead, enforceGuards, guardLimit } from "../../src/sync/guards.js";
import { planSync } from "../../src/sync/plan.js";
import type { SourceRead } from "../../src/sync/directory.js";
import { catalog, catalogUserFor, directory, group, input, ledger, ops, owned, policy, target, user } from "./builders.js";

function caught(f: () => void): ProvisioningError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProvisioningError);
    return e as ProvisioningError;
  }
  throw new Error("expected a ProvisioningError");
}

const ids = (n: number, p = "u") => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(2, "0")}`);

describe("deletion guard", () => {
  const mapping = { staff: ["readers"] };
  // 10 owned users; `leaving` of them are gone from the source
  function scenario(leaving: number, over: { allowDeletions?: number } = {}) {
    const all = ids(10);
    const stay = all.slice(leaving);
    const users = all.map((id) => user(id));
    return input({
      target: target(mapping),
      directory: directory(users.filter((u) => stay.includes(u.id)), [group("staff", stay)]),
      catalog: catalog(users.map((u) => catalogUserFor(u, `s-${u.id}`)), { readers: all.map((id) => `s-${id}`) }),
      ledger: ledger(all.map((id) => owned(`s-${id}`, id, ["readers"]))),
      ...over,
    });
  }

  it("limit is max(min, ratio × owned users)", () => {
    expect(guardLimit(5, 0.1, 10)).toBe(5);
    expect(guardLimit(5, 0.1, 200)).toBe(20);
  });

  it("at the limit it does not trip", () => {
    const plan = planSync(scenario(5));
    expect(plan.counts.deactivate).toBe(5);
    expect(() => enforceGuards(plan)).not.toThrow();
  });

  it("above the limit it refuses with exit 3, the numbers and the override flag", () => {
    const plan = planSync(scenario(6));
    expect(plan.guards[0]).toMatchObject({ guard: "deletions", count: 6, limit: 5, base: 10, tripped: true });
    const e = caught(() => enforceGuards(plan));
    expect(e.code).toBe("SYNC_GUARD_DELETIONS");
    expect(e.exitCode).toBe(ExitCode.REFUSED);
    expect(e.message).toContain("6 deactivations and deletes exceed the limit of 5");
    expect(e.message).toContain("10 owned users");
    expect(e.message).toContain('"--allow-deletions 6"');
    // memberships removed with a deactivation count here, never under the removal guards
    expect(plan.guards.filter((g) => g.guard !== "deletions").every((g) => !g.tripped && g.count === 0)).toBe(true);
  });

  it("--allow-deletions N passes when N covers the count, not when it is smaller", () => {
    expect(() => enforceGuards(planSync(scenario(6, { allowDeletions: 6 })))).not.toThrow();
    const e = caught(() => enforceGuards(planSync(scenario(6, { allowDeletions: 5 }))));
    expect(e.code).toBe("SYNC_GUARD_DELETIONS");
    expect(e.message).toContain('"--allow-deletions 5" is not enough');
  });

  it("the first run (empty ledger) cannot trip it: nothing is owned", () => {
    const base = scenario(10);
    const plan = planSync({ ...base, ledger: ledger() });
    expect(ops(plan, "deactivateUser")).toEqual([]);
    expect(() => enforceGuards(plan)).not.toThrow();
  });
});

describe("removal guards", () => {
  it("per group: a mapping typo must not empty a group (max(5, 20 % of its managed members))", () => {
    // 8 admins stay in the source (in "staff") but leave "admins"
    const all = ids(8);
    const users = all.map((id) => user(id));
    const base = input({
      target: target({ admins: ["catalog-admins"], staff: ["readers"] }),
      directory: directory(users, [group("admins", []), group("staff", all)]),
      catalog: catalog(users.map((u) => catalogUserFor(u, `s-${u.id}`)), { "catalog-admins": all.map((id) => `s-${id}`), readers: all.map((id) => `s-${id}`) }),
      ledger: ledger(all.map((id) => owned(`s-${id}`, id, ["catalog-admins", "readers"]))),
    });
    const plan = planSync(base);
    expect(plan.guards.find((g) => g.guard === "groupRemovals")).toMatchObject({ group: "catalog-admins", count: 8, limit: 5, base: 8, tripped: true });
    const e = caught(() => enforceGuards(plan));
    expect(e.code).toBe("SYNC_GUARD_REMOVALS");
    expect(e.exitCode).toBe(ExitCode.REFUSED);
    expect(e.message).toContain('8 membership removals from "catalog-admins" exceed the limit of 5');
    expect(e.message).toContain('"--allow-removals 8"');
    expect(() => enforceGuards(planSync({ ...base, allowRemovals: 8 }))).not.toThrow();
    expect(() => enforceGuards(planSync({ ...base, allowRemovals: 7 }))).toThrow(/allow-removals 7" is not enough/);
  });

  it("in total: max(20, 10 % of all managed memberships), even when every group is within its own limit", () => {
    const all = ids(25);
    const users = all.map((id) => user(id));
    const names = ["a", "b", "c", "d", "e"];
    const mapping: Record<string, string[]> = { keep: ["keepers"] };
    for (const n of names) mapping[n] = [`cg-${n}`];
    // user i leaves group names[floor(i / 5)]: 5 removals per group, 25 in total
    const groups = [group("keep", all), ...names.map((n, gi) => group(n, all.filter((_, i) => Math.floor(i / 5) !== gi)))];
    const cat: Record<string, string[]> = { keepers: all.map((id) => `s-${id}`) };
    for (const n of names) cat[`cg-${n}`] = all.map((id) => `s-${id}`);
    const base = input({
      target: target(mapping),
      directory: directory(users, groups),
      catalog: catalog(users.map((u) => catalogUserFor(u, `s-${u.id}`)), cat),
      ledger: ledger(all.map((id) => owned(`s-${id}`, id, ["keepers", ...names.map((n) => `cg-${n}`)]))),
    });
    const plan = planSync(base);
    expect(plan.guards.filter((g) => g.guard === "groupRemovals").map((g) => [g.count, g.limit, g.tripped])).toEqual(names.map(() => [5, 5, false]));
    expect(plan.guards.find((g) => g.guard === "totalRemovals")).toMatchObject({ count: 25, limit: 20, base: 150, tripped: true });
    const e = caught(() => enforceGuards(plan));
    expect(e.code).toBe("SYNC_GUARD_REMOVALS");
    expect(e.message).toContain("25 membership removals in total exceed the limit of 20");
    expect(e.message).toContain('"--allow-removals 25"');
    expect(() => enforceGuards(planSync({ ...base, allowRemovals: 25 }))).not.toThrow();
  });
});

describe("source completeness (abort before any write, exit 5)", () => {
  const t = target({ "it-admins": ["catalog-admins"], "dn:cn=finance,ou=groups,dc=example,dc=com": ["finance-readers"] });
  const good: SourceRead = {
    directory: directory([user("alice")], [group("it-admins", ["alice"]), group("finance", [], { dn: "CN=finance, OU=groups, DC=example, DC=com" })]),
    complete: true,
    fingerprint: "file:directory.json",
  };

  it("a complete read with every mapped group passes", () => {
    expect(() => checkSourceRead(good, t, policy())).not.toThrow();
  });

  it("an incomplete read aborts with its reason", () => {
    const e = caught(() => checkSourceRead({ ...good, complete: false, incompleteReason: "size limit of 1000 entries hit" }, t));
    expect(e.code).toBe("SYNC_SOURCE_INCOMPLETE");
    expect(e.exitCode).toBe(ExitCode.SOURCE_INCOMPLETE);
    expect(e.message).toBe("source read is incomplete: size limit of 1000 entries hit; nothing was written");
  });

  it("an empty read aborts", () => {
    const e = caught(() => checkSourceRead({ ...good, directory: directory([], []) }, t));
    expect(e.exitCode).toBe(ExitCode.SOURCE_INCOMPLETE);
    expect(e.message).toContain("source returned no users");
  });

  it("a mapped group that vanished aborts, unless listed in allowMissingGroups", () => {
    const read = { ...good, directory: directory([user("alice")], [group("it-admins", ["alice"])]) };
    const e = caught(() => checkSourceRead(read, t, policy()));
    expect(e.code).toBe("SYNC_SOURCE_INCOMPLETE");
    expect(e.exitCode).toBe(ExitCode.SOURCE_INCOMPLETE);
    expect(e.message).toContain('"dn:cn=finance,ou=groups,dc=example,dc=com"');
    expect(e.message).toContain('"sync.guards.allowMissingGroups"');
    expect(() => checkSourceRead(read, t, policy({ allowMissingGroups: ["dn:cn=finance,ou=groups,dc=example,dc=com"] }))).not.toThrow();
  });

  it("enforceGuards refuses a plan built from a source missing a mapped group", () => {
    const plan = planSync(input({ target: t, directory: directory([user("alice")], [group("it-admins", ["alice"])]), catalog: catalog([], { "catalog-admins": [], "finance-readers": [] }) }));
    const e = caught(() => enforceGuards(plan));
    expect(e.exitCode).toBe(ExitCode.SOURCE_INCOMPLETE);
  });
});
