import { describe, expect, it } from "vitest";
import { planSync } from "../../src/sync/plan.js";
import type { SyncPlan } from "../../src/sync/plan-types.js";
import { apply, catalog, catalogUserFor, connection, directory, group, input, ledger, NOW, ops, owned, policy, target, user } from "./builders.js";

const MAPPING = {
  "data-platform-engineers": ["catalog-admins"],
  "it-admins": ["catalog-admins"],
  "analysts-finance": ["finance-readers"],
  "analysts-marketing": ["mkt-readers"],
  "data-governance-leads": ["data-stewards", "finance-readers"],
};
const EMPTY_GROUPS = { "catalog-admins": [], "finance-readers": [], "mkt-readers": [], "data-stewards": [] };

function allGroups(members: Partial<Record<keyof typeof MAPPING, string[]>>) {
  return Object.keys(MAPPING).map((k) => group(k, members[k as keyof typeof MAPPING] ?? []));
}

/** apply the plan and check that planning again from the result writes nothing */
function expectConverges(plan: SyncPlan, base: Parameters<typeof planSync>[0]): void {
  const after = apply(plan, base.catalog, base.ledger);
  const again = planSync({ ...base, catalog: after.catalog, ledger: after.ledger });
  expect(again.operations).toEqual([]);
}

describe("first run", () => {
  const alice = user("alice");
  const bob = user("bob");
  const base = input({
    target: target(MAPPING),
    directory: directory([alice, bob], allGroups({ "data-platform-engineers": ["alice"], "analysts-finance": ["bob"] })),
    catalog: catalog([], EMPTY_GROUPS),
  });

  it("creates in-scope users with externalId = directory id and adds them by externalId reference", () => {
    const plan = planSync(base);
    expect(ops(plan, "createUser").map((o) => [o.externalId, o.user.userName, o.user.externalId])).toEqual([
      ["alice", "alice@example.com", "alice"],
      ["bob", "bob@example.com", "bob"],
    ]);
    expect(ops(plan, "addMembers")).toEqual([
      { op: "addMembers", groupId: "cg-catalog-admins", groupName: "catalog-admins", members: [{ externalId: "alice" }] },
      { op: "addMembers", groupId: "cg-finance-readers", groupName: "finance-readers", members: [{ externalId: "bob" }] },
    ]);
    expect(plan.counts).toMatchObject({ create: 2, membershipsAdded: 2, deactivate: 0 });
    expect(plan.guards.every((g) => !g.tripped)).toBe(true);
  });

  it("a second plan after applying the first yields zero operations", () => {
    expectConverges(planSync(base), base);
  });

  it("users outside every mapped group are not created (scope mapped), all are with scope all", () => {
    const carol = user("carol");
    const withCarol = { ...base, directory: directory([alice, bob, carol], base.directory.groups) };
    expect(ops(planSync(withCarol), "createUser").map((o) => o.externalId)).not.toContain("carol");
    const all = planSync({ ...withCarol, policy: policy({ scope: "all" }) });
    expect(ops(all, "createUser").map((o) => o.externalId)).toContain("carol");
  });

  it("is deterministic whatever the input order", () => {
    const shuffled = { ...base, directory: directory([bob, alice], [...base.directory.groups].reverse()) };
    expect(planSync(shuffled)).toEqual(planSync(base));
  });

  it("one-to-many: one IdP group grants two Catalog groups", () => {
    const plan = planSync({ ...base, directory: directory([alice], allGroups({ "data-governance-leads": ["alice"] })) });
    expect(ops(plan, "addMembers").map((o) => o.groupName)).toEqual(["data-stewards", "finance-readers"]);
  });
});

describe("memberships", () => {
  const alice = user("alice");
  const aliceC = catalogUserFor(alice, "s-alice");
  const led = ledger([owned("s-alice", "alice", ["catalog-admins"])]);

  it("many-to-one: losing one of two IdP groups that map to the same Catalog group keeps the membership", () => {
    const plan = planSync(
      input({
        target: target(MAPPING),
        directory: directory([alice], allGroups({ "it-admins": ["alice"] })), // left data-platform-engineers
        catalog: catalog([aliceC], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }),
        ledger: led,
      }),
    );
    expect(plan.operations).toEqual([]);
  });

  it("a scope change moves a granted membership: remove the old (left-group), add the new", () => {
    const bob = user("bob");
    const bobC = catalogUserFor(bob, "s-bob");
    const base = input({
      target: target(MAPPING),
      directory: directory([bob], allGroups({ "analysts-marketing": ["bob"] })),
      catalog: catalog([bobC], { ...EMPTY_GROUPS, "finance-readers": ["s-bob"] }),
      ledger: ledger([owned("s-bob", "bob", ["finance-readers"])]),
    });
    const plan = planSync(base);
    expect(plan.operations).toEqual([
      { op: "addMembers", groupId: "cg-mkt-readers", groupName: "mkt-readers", members: [{ scimId: "s-bob" }] },
      { op: "removeMembers", groupId: "cg-finance-readers", groupName: "finance-readers", scimIds: ["s-bob"], reason: "left-group" },
    ]);
    expectConverges(plan, base);
  });

  it("an unmanaged member of a managed group is reported and never removed", () => {
    const plan = planSync(
      input({
        target: target(MAPPING),
        directory: directory([alice], allGroups({ "it-admins": ["alice"] })),
        catalog: catalog([aliceC, { id: "s-manual", userName: "manual@example.com" }], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice", "s-manual"] }),
        ledger: led,
      }),
    );
    expect(plan.operations).toEqual([]);
    expect(plan.report.unmanagedMembers).toEqual([{ groupName: "catalog-admins", scimId: "s-manual" }]);
  });

  it("a membership the project did not grant stays when the user no longer qualifies", () => {
    const bob = user("bob");
    const plan = planSync(
      input({
        target: target(MAPPING),
        directory: directory([bob], allGroups({ "analysts-marketing": ["bob"] })),
        catalog: catalog([catalogUserFor(bob, "s-bob")], { ...EMPTY_GROUPS, "mkt-readers": ["s-bob"], "finance-readers": ["s-bob"] }),
        ledger: ledger([owned("s-bob", "bob", ["mkt-readers"])]),
      }),
    );
    expect(ops(plan, "removeMembers")).toEqual([]);
    expect(plan.report.unmanagedMembers).toEqual([{ groupName: "finance-readers", scimId: "s-bob" }]);
  });

  it("an excluded Catalog group is never touched", () => {
    const plan = planSync(
      input({
        target: target(MAPPING, { exclude: { users: [], groups: ["Catalog-Admins"] } }),
        directory: directory([alice], allGroups({ "it-admins": ["alice"] })),
        catalog: catalog([aliceC], EMPTY_GROUPS),
        ledger: led,
      }),
    );
    expect(plan.operations).toEqual([]);
  });

  it("a managed group missing from the Catalog is reported, no operation targets it", () => {
    const plan = planSync(
      input({
        target: target(MAPPING),
        directory: directory([alice], allGroups({ "it-admins": ["alice"] })),
        catalog: catalog([aliceC], { "finance-readers": [] }),
        ledger: led,
      }),
    );
    expect(plan.report.missingCatalogGroups).toEqual(["catalog-admins", "data-stewards", "mkt-readers"]);
    expect(plan.operations).toEqual([]);
  });
});

describe("attribute changes are PATCHes of the user found by externalId", () => {
  const alice = user("alice");
  const aliceC = catalogUserFor(alice, "s-alice");
  const led = ledger([owned("s-alice", "alice", ["catalog-admins"])]);
  const groups = allGroups({ "it-admins": ["alice"] });
  const cat = catalog([aliceC], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] });

  it.each([
    ["a rename", { familyName: "Smith", displayName: "Alice Smith" }, [
      { op: "replace", path: "name.familyName", value: "Smith" },
      { op: "replace", path: "displayName", value: "Alice Smith" },
    ]],
    ["an email change", { email: "alice.doe@example.com" }, [
      { op: "replace", path: "userName", value: "alice.doe@example.com" },
      { op: "replace", path: 'emails[type eq "work"].value', value: "alice.doe@example.com" },
    ]],
  ] as const)("%s: one updateUser, never delete + create", (_name, change, patch) => {
    const base = input({ target: target(MAPPING), directory: directory([user("alice", change)], groups), catalog: cat, ledger: led });
    const plan = planSync(base);
    expect(plan.operations).toEqual([{ op: "updateUser", scimId: "s-alice", externalId: "alice", patch }]);
    expectConverges(plan, base);
  });

  it("a case-only userName difference is not a change", () => {
    const plan = planSync(
      input({ target: target(MAPPING), directory: directory([alice], groups), catalog: catalog([{ ...aliceC, userName: "ALICE@example.com" }], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }), ledger: led }),
    );
    expect(plan.operations).toEqual([]);
  });

  it("an email change onto a userName another Catalog user holds keeps the old userName and reports it", () => {
    const other = { id: "s-other", userName: "new@example.com" };
    const plan = planSync(
      input({ target: target(MAPPING), directory: directory([user("alice", { email: "new@example.com" })], groups), catalog: catalog([aliceC, other], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }), ledger: led }),
    );
    expect(plan.report.conflicts).toEqual([{ externalId: "alice", userName: "new@example.com", scimId: "s-alice", reason: 'userName-taken by "s-other"' }]);
    expect(ops(plan, "updateUser")[0]!.patch.map((p) => p.path)).toEqual(['emails[type eq "work"].value']);
  });
});

describe("adoption and conflicts", () => {
  const alice = user("alice");
  const groups = allGroups({ "it-admins": ["alice"] });

  it("adopts a Catalog user with an empty externalId by userName (case-insensitive) and sets the anchor", () => {
    const existing = { id: "s-1", userName: "Alice@Example.com", active: true };
    const base = input({ target: target(MAPPING), directory: directory([alice], groups), catalog: catalog([existing], EMPTY_GROUPS) });
    const plan = planSync(base);
    expect(ops(plan, "createUser")).toEqual([]);
    const [adopt] = ops(plan, "adoptUser");
    expect(adopt).toMatchObject({ scimId: "s-1", externalId: "alice" });
    expect(adopt!.patch[0]).toEqual({ op: "replace", path: "externalId", value: "alice" });
    expect(ops(plan, "addMembers")[0]!.members).toEqual([{ scimId: "s-1" }]);
    expectConverges(plan, base);
  });

  it("a conflicting externalId is reported and nothing is written for that person (no create either)", () => {
    const existing = { id: "s-1", userName: "alice@example.com", externalId: "someone-else", active: true };
    const plan = planSync(input({ target: target(MAPPING), directory: directory([alice], groups), catalog: catalog([existing], EMPTY_GROUPS) }));
    expect(plan.operations).toEqual([]);
    expect(plan.report.conflicts).toEqual([{ externalId: "alice", userName: "alice@example.com", scimId: "s-1", reason: "externalId-differs" }]);
  });

  it("a userName outside the target's domains is a conflict, not an adoption", () => {
    const existing = { id: "s-1", userName: "alice@example.com", active: true };
    const plan = planSync(input({ target: target(MAPPING, { domains: ["corp.example"] }), directory: directory([alice], groups), catalog: catalog([existing], EMPTY_GROUPS) }));
    expect(plan.operations).toEqual([]);
    expect(plan.report.conflicts[0]!.reason).toBe("domain-not-allowed");
  });

  it("a user owned by another target is reported, not adopted", () => {
    const existing = catalogUserFor(alice, "s-1");
    const plan = planSync(
      input({ target: target(MAPPING), directory: directory([alice], groups), catalog: catalog([existing], EMPTY_GROUPS), ledger: ledger([owned("s-1", "alice", [], { target: "other" })]) }),
    );
    expect(plan.operations).toEqual([]);
    expect(plan.report.conflicts[0]!.reason).toBe('owned-by-target "other"');
  });

  it("two source users with the same email: the first is planned, the second reported", () => {
    const plan = planSync(input({ target: target(MAPPING), directory: directory([alice, user("alice2", { email: "alice@example.com" })], allGroups({ "it-admins": ["alice", "alice2"] })), catalog: catalog([], EMPTY_GROUPS) }));
    expect(ops(plan, "createUser").map((o) => o.externalId)).toEqual(["alice"]);
    expect(plan.report.conflicts[0]).toMatchObject({ externalId: "alice2", reason: "duplicate-userName-in-source" });
  });
});

describe("a user created by the Action (same externalId, not in the ledger)", () => {
  const dave = user("dave");
  const daveC = catalogUserFor(dave, "s-dave");

  it("present in the source: adopted (no second create), its existing membership is not re-added", () => {
    const base = input({ target: target(MAPPING), directory: directory([dave], allGroups({ "analysts-finance": ["dave"] })), catalog: catalog([daveC], { ...EMPTY_GROUPS, "finance-readers": ["s-dave"] }) });
    const plan = planSync(base);
    expect(plan.operations).toEqual([{ op: "adoptUser", scimId: "s-dave", externalId: "dave", patch: [] }]);
    expectConverges(plan, base);
  });

  it("absent from the source: unowned, untouched, its membership reported as unmanaged", () => {
    const plan = planSync(
      input({ target: target(MAPPING), directory: directory([user("alice")], allGroups({ "it-admins": ["alice"] })), catalog: catalog([daveC], { ...EMPTY_GROUPS, "finance-readers": ["s-dave"] }) }),
    );
    expect(plan.operations.filter((o) => "scimId" in o && o.scimId === "s-dave")).toEqual([]);
    expect(ops(plan, "removeMembers")).toEqual([]);
    expect(ops(plan, "deactivateUser")).toEqual([]);
    expect(plan.report.unmanagedMembers).toEqual([{ groupName: "finance-readers", scimId: "s-dave" }]);
  });
});

describe("deprovisioning (owned users only)", () => {
  const alice = user("alice");
  const bob = user("bob");
  const aliceC = catalogUserFor(alice, "s-alice");
  const bobC = catalogUserFor(bob, "s-bob");
  const led = ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob", ["finance-readers"])]);
  const cat = catalog([aliceC, bobC], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"], "finance-readers": ["s-bob"] });
  const keepAlice = allGroups({ "it-admins": ["alice"] });

  it.each([
    ["disabled in the IdP", directory([alice, user("bob", { active: false })], allGroups({ "it-admins": ["alice"], "analysts-finance": ["bob"] }))],
    ["removed from all mapped groups", directory([alice, bob], keepAlice)],
    ["deleted in the IdP", directory([alice], keepAlice)],
  ])("%s: deactivate, and remove its granted memberships under the deletion guard", (_name, dir) => {
    const base = input({ target: target(MAPPING), directory: dir, catalog: cat, ledger: led });
    const plan = planSync(base);
    expect(plan.operations).toEqual([
      { op: "removeMembers", groupId: "cg-finance-readers", groupName: "finance-readers", scimIds: ["s-bob"], reason: "deprovision" },
      { op: "deactivateUser", scimId: "s-bob", externalId: "bob" },
    ]);
    const removal = plan.guards.find((g) => g.guard === "totalRemovals")!;
    expect(removal.count).toBe(0);
    expect(plan.guards.find((g) => g.guard === "deletions")!.count).toBe(1);
    expectConverges(plan, base);
  });

  it("keeps memberships when deprovision.removeMemberships is false", () => {
    const plan = planSync(input({ target: target(MAPPING), policy: policy({ deprovision: { removeMemberships: false } }), directory: directory([alice], keepAlice), catalog: cat, ledger: led }));
    expect(plan.operations).toEqual([{ op: "deactivateUser", scimId: "s-bob", externalId: "bob" }]);
  });

  it("an unmanaged Catalog user absent from the source is never deactivated", () => {
    const plan = planSync(input({ target: target(MAPPING), directory: directory([alice], keepAlice), catalog: catalog([aliceC, { id: "s-x", userName: "x@example.com", active: true }], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }), ledger: led }));
    expect(plan.operations).toEqual([]);
  });

  it("a user owned by another target is never deactivated", () => {
    const plan = planSync(input({ target: target(MAPPING), directory: directory([alice], keepAlice), catalog: cat, ledger: ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob", [], { target: "other" })]) }));
    expect(plan.operations).toEqual([]);
  });

  it("a user recorded for another connection is left to that connection's source", () => {
    const plan = planSync(
      input({ target: target(MAPPING), sourceConnection: "ldap-a", directory: directory([alice], keepAlice), catalog: cat, ledger: ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob", ["finance-readers"], { connection: "ldap-b" })]) }),
    );
    expect(plan.operations).toEqual([]);
  });

  it("lifecycle login: never deprovisioned by the sync, reported as leftToLogin", () => {
    const plan = planSync(
      input({ target: target(MAPPING), sourceConnection: "okta", connections: { okta: connection("login") }, directory: directory([alice, user("bob", { active: false })], keepAlice), catalog: cat, ledger: led }),
    );
    expect(plan.operations).toEqual([]);
    expect(plan.report.leftToLogin).toEqual([{ scimId: "s-bob", externalId: "bob" }]);
  });

  it("lifecycle sync (explicit) deprovisions the same user", () => {
    const plan = planSync(
      input({ target: target(MAPPING), sourceConnection: "okta", connections: { okta: connection("sync") }, directory: directory([alice, user("bob", { active: false })], keepAlice), catalog: cat, ledger: led }),
    );
    expect(ops(plan, "deactivateUser")).toEqual([{ op: "deactivateUser", scimId: "s-bob", externalId: "bob" }]);
    expect(plan.connection).toBe("okta");
  });

  it("an excluded owned user is never touched, even when gone from the source", () => {
    const plan = planSync(input({ target: target(MAPPING, { exclude: { users: ["BOB@example.com"], groups: [] } }), directory: directory([alice], keepAlice), catalog: cat, ledger: led }));
    expect(plan.operations).toEqual([]);
    expect(plan.report.excluded).toEqual(["bob@example.com"]);
  });

  it("an owned user back in scope is reactivated (lifecycle sync) and gets its memberships back", () => {
    const base = input({
      target: target(MAPPING),
      directory: directory([alice, bob], allGroups({ "it-admins": ["alice"], "analysts-finance": ["bob"] })),
      catalog: catalog([aliceC, { ...bobC, active: false }], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }),
      ledger: ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob", [], { deactivatedAt: "2025-02-01T00:00:00.000Z" })]),
    });
    const plan = planSync(base);
    expect(plan.operations).toEqual([
      { op: "reactivateUser", scimId: "s-bob", externalId: "bob" },
      { op: "addMembers", groupId: "cg-finance-readers", groupName: "finance-readers", members: [{ scimId: "s-bob" }] },
    ]);
    expectConverges(plan, base);
  });
});

describe("grace period before delete", () => {
  const alice = user("alice");
  const bobC = { ...catalogUserFor(user("bob"), "s-bob"), active: false };
  const cat = catalog([catalogUserFor(alice, "s-alice"), bobC], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] });
  const dir = directory([alice], allGroups({ "it-admins": ["alice"] }));
  const ledAt = (deactivatedAt: string) => ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob", [], { deactivatedAt })]);

  it("never deletes by default (deleteAfterDays null)", () => {
    const plan = planSync(input({ target: target(MAPPING), directory: dir, catalog: cat, ledger: ledAt("2020-01-01T00:00:00.000Z") }));
    expect(plan.operations).toEqual([]);
    expect(plan.report.pendingDeletes).toEqual([]);
  });

  it("within the grace period: pending, with the date", () => {
    const plan = planSync(input({ target: target(MAPPING), policy: policy({ deprovision: { deleteAfterDays: 30 } }), directory: dir, catalog: cat, ledger: ledAt("2025-02-20T12:00:00.000Z") }));
    expect(plan.operations).toEqual([]);
    expect(plan.report.pendingDeletes).toEqual([{ scimId: "s-bob", externalId: "bob", deleteAfter: "2025-03-22T12:00:00.000Z" }]);
  });

  it("after the grace period: delete (the user was deactivated first)", () => {
    const base = input({ target: target(MAPPING), policy: policy({ deprovision: { deleteAfterDays: 30 } }), directory: dir, catalog: cat, ledger: ledAt("2025-01-30T12:00:00.000Z") });
    const plan = planSync(base);
    expect(plan.operations).toEqual([{ op: "deleteUser", scimId: "s-bob", externalId: "bob" }]);
    const after = apply(plan, base.catalog, base.ledger);
    expect(after.ledger.users.map((u) => u.scimId)).toEqual(["s-alice"]);
    expectConverges(plan, base);
  });

  it("an active owned user leaving is deactivated now, never deleted in the same run", () => {
    const plan = planSync(input({ target: target(MAPPING), policy: policy({ deprovision: { deleteAfterDays: 0 } }), directory: dir, catalog: catalog([catalogUserFor(alice, "s-alice"), { ...bobC, active: true }], { ...EMPTY_GROUPS, "catalog-admins": ["s-alice"] }), ledger: ledger([owned("s-alice", "alice", ["catalog-admins"]), owned("s-bob", "bob")]) }));
    expect(plan.operations).toEqual([{ op: "deactivateUser", scimId: "s-bob", externalId: "bob" }]);
    expect(plan.report.pendingDeletes).toEqual([{ scimId: "s-bob", externalId: "bob", deleteAfter: NOW }]);
  });
});

describe("include and exclude", () => {
  const alice = user("alice");
  const bob = user("bob");
  const dir = directory([alice, bob], allGroups({ "it-admins": ["alice", "bob"] }));

  it.each([["by email", "Bob@Example.com"], ["by externalId", "bob"]])("an excluded user (%s) is not created", (_n, key) => {
    const plan = planSync(input({ target: target(MAPPING, { exclude: { users: [key], groups: [] } }), directory: dir, catalog: catalog([], EMPTY_GROUPS) }));
    expect(ops(plan, "createUser").map((o) => o.externalId)).toEqual(["alice"]);
    expect(plan.report.excluded).toEqual(["bob@example.com"]);
  });

  it("a non-empty include list restricts the scope", () => {
    const plan = planSync(input({ target: target(MAPPING, { include: { users: ["alice@example.com"] } }), directory: dir, catalog: catalog([], EMPTY_GROUPS) }));
    expect(ops(plan, "createUser").map((o) => o.externalId)).toEqual(["alice"]);
  });
});

describe("a mapped IdP group that vanished from the source", () => {
  it("is reported as missing unless allowed", () => {
    const dir = directory([user("alice")], [group("it-admins", ["alice"])]);
    const plan = planSync(input({ target: target({ "it-admins": ["catalog-admins"], "id:g-finance": ["finance-readers"] }), directory: dir, catalog: catalog([], EMPTY_GROUPS) }));
    expect(plan.report.missingIdpGroups).toEqual(["id:g-finance"]);
    const allowed = planSync(input({ target: target({ "it-admins": ["catalog-admins"], "id:g-finance": ["finance-readers"] }), policy: policy({ allowMissingGroups: ["id:g-finance"] }), directory: dir, catalog: catalog([], EMPTY_GROUPS) }));
    expect(allowed.report.missingIdpGroups).toEqual([]);
  });
});
