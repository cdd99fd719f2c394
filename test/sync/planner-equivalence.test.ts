/**
 * The planner's member-side diff (memberships seen per user, one pass for the unmanaged report
 * and the guards' base, no sort of an already ordered input) plans exactly what the earlier
 * planner planned: same operations, report, counts and guards, on random directories, Catalog
 * states and ledgers full of edge cases (adoption, conflicts, duplicates, case-only names,
 * include/exclude, login lifecycle, grace periods, unknown and repeated members).
 */
import { describe, expect, it } from "vitest";
import { createRandom } from "../../bench/generate.js";
import type { SyncPolicy, TargetConfig } from "../../src/config/types.js";
import type { Directory, DirectoryUser } from "../../src/sync/directory.js";
import type { CatalogState, Ledger, LedgerUser } from "../../src/sync/plan-types.js";
import { planSync, type PlanInput } from "../../src/sync/plan.js";
import { apply, attributes, connection, NOW, policy, target } from "../sync-plan/builders.js";
import { planSyncReference } from "./planner-reference.js";

type CatalogUser = CatalogState["users"][number];

function scenario(seed: number): PlanInput {
  const rand = createRandom(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number): boolean => rand() < p;

  const nUsers = 5 + int(40);
  const nGroups = 2 + int(6);
  const catalogNames = ["Readers", "readers", "Writers", "Admins", "stewards", "Owners"];
  const mapping: Record<string, string[]> = {};
  for (let i = 0; i < nGroups; i++) {
    const cgs = new Set<string>();
    const k = 1 + int(2);
    for (let j = 0; j < k; j++) cgs.add(pick(catalogNames));
    mapping[i % 3 === 0 ? `id:gid-${i}` : `idp-${i}`] = [...cgs];
  }

  const users: DirectoryUser[] = [];
  for (let i = 0; i < nUsers; i++) {
    const id = chance(0.04) && users.length > 0 ? pick(users).id : `u-${int(1000)}-${i}`;
    const email = chance(0.05) && users.length > 0 ? pick(users).email.toUpperCase() : chance(0.03) ? " " : `user${i}@${chance(0.8) ? "example.com" : "other.org"}`;
    const u: DirectoryUser = { id, email, active: !chance(0.1) };
    if (chance(0.9)) u.givenName = `G${i}`;
    if (chance(0.9)) u.familyName = `F${chance(0.1) ? "x" : i}`;
    if (chance(0.5)) u.displayName = `G${i} F${i}`;
    users.push(u);
  }
  const groups = Array.from({ length: nGroups }, (_, i) => ({
    id: `gid-${i}`,
    name: `idp-${i}`,
    members: users.filter(() => chance(0.35)).map((u) => u.id),
  }));
  if (chance(0.3)) groups.pop(); // a mapped group gone from the source
  if (chance(0.1) && groups.length > 0) groups.push(groups[0]!); // the same group listed twice
  const directory: Directory = { users: chance(0.5) ? users : [...users].reverse(), groups };

  // Catalog: users the sync made (some changed since), strangers, namesakes, conflicts
  const catalogUsers: CatalogUser[] = [];
  let next = 0;
  for (const d of users) {
    if (chance(0.25)) continue;
    const id = `s-${String(next++).padStart(3, "0")}`;
    const ext = chance(0.8) ? d.id : chance(0.5) ? undefined : `other-${int(9)}`;
    const u: CatalogUser = { id, userName: chance(0.1) ? `renamed${id}@example.com` : d.email.trim() || `x${id}@example.com` };
    if (ext !== undefined) u.externalId = ext;
    if (chance(0.9)) u.active = !chance(0.15);
    if (chance(0.8)) u.name = { givenName: d.givenName ?? "", ...(d.familyName !== undefined ? { familyName: chance(0.9) ? d.familyName : "Old" } : {}) };
    if (d.displayName !== undefined && chance(0.9)) u.displayName = d.displayName;
    if (chance(0.85)) u.emails = [{ value: chance(0.9) ? u.userName : "old@example.com", ...(chance(0.7) ? { type: "work" } : {}), ...(chance(0.5) ? { primary: true } : {}) }];
    catalogUsers.push(u);
  }
  for (let i = 0; i < 3 + int(5); i++) catalogUsers.push({ id: `s-x${i}`, userName: `stranger${i}@example.com`, ...(chance(0.5) ? { externalId: `gone-${i}` } : {}), active: chance(0.7) });
  if (chance(0.15) && catalogUsers.length > 0) catalogUsers.push({ ...pick(catalogUsers), userName: "twin@example.com" }); // a repeated id
  const ids = catalogUsers.map((c) => c.id);
  const catalogGroups = ["Readers", "Writers", "Admins", "stewards", "Owners", "Unmapped"]
    .filter(() => chance(0.85))
    .map((name, i) => ({
      id: `cg-${i}`,
      displayName: name,
      members: [...ids.filter(() => chance(0.3)), ...(chance(0.3) ? ["unknown-member", ids[0] ?? "s-000"] : [])],
    }));
  if (chance(0.2) && catalogGroups.length > 0) catalogGroups.push({ ...catalogGroups[0]!, id: "cg-dup", members: [...catalogGroups[0]!.members].reverse() });
  const catalog: CatalogState = { users: chance(0.5) ? [...catalogUsers].sort((a, b) => (a.id < b.id ? -1 : 1)) : [...catalogUsers].reverse(), groups: catalogGroups };

  // ledger: owned users of this target (granted, deactivated, connection), and of another target
  const groupIds = catalogGroups.map((g) => g.id);
  const ledgerUsers: LedgerUser[] = [];
  for (const c of catalogUsers) {
    if (!chance(0.7)) continue;
    const u: LedgerUser = {
      scimId: c.id,
      externalId: c.externalId ?? `gone-${c.id}`,
      target: chance(0.9) ? "default" : "other",
      origin: chance(0.5) ? "created" : "adopted",
      granted: groupIds.filter(() => chance(0.4)),
    };
    if (chance(0.3)) u.connection = pick(["ad", "okta"]);
    if (chance(0.2)) u.deactivatedAt = chance(0.5) ? "2025-01-01T00:00:00.000Z" : "2025-02-28T00:00:00.000Z";
    ledgerUsers.push(u);
  }
  if (chance(0.3)) ledgerUsers.push({ scimId: "s-missing", externalId: "gone", target: "default", origin: "created", granted: groupIds.slice(0, 1) });
  if (chance(0.1) && ledgerUsers.length > 0) ledgerUsers.push({ ...pick(ledgerUsers), granted: [] }); // a repeated record: the last wins
  const ledger: Ledger = { version: 1, users: ledgerUsers };

  const over: Partial<TargetConfig> = {};
  if (chance(0.2)) over.exclude = { users: [pick(users).email, pick(ids)], groups: chance(0.5) ? ["writers"] : [] };
  if (chance(0.1)) over.include = { users: users.filter(() => chance(0.6)).map((u) => u.id) };
  if (chance(0.2)) over.domains = ["example.com"];
  const t = target(mapping, over);
  if (chance(0.3)) t.groups.privileged = ["Admins"];
  const pol: SyncPolicy = policy({
    scope: chance(0.2) ? "all" : "mapped",
    deprovision: { removeMemberships: chance(0.8), deleteAfterDays: chance(0.5) ? null : pick([0, 30]) },
    allowMissingGroups: chance(0.5) ? ["idp-1"] : [],
  });
  const sourceConnection = chance(0.5) ? pick(["ad", "okta"]) : undefined;
  return {
    target: t,
    policy: pol,
    attributes,
    connections: { ad: connection("sync"), okta: connection(chance(0.5) ? "login" : "sync") },
    ...(sourceConnection !== undefined ? { sourceConnection } : {}),
    directory,
    catalog,
    ledger,
    now: NOW,
    ...(chance(0.2) ? { allowRemovals: int(10) } : {}),
  };
}

describe("planner equivalence with the earlier planner", () => {
  it("plans the same operations, report, counts and guards on 400 random scenarios", () => {
    let withOps = 0;
    let withUnmanaged = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const input = scenario(seed);
      const expected = planSyncReference(structuredClone(input));
      const actual = planSync(input);
      expect(actual, `seed ${seed}`).toEqual(expected);
      if (expected.operations.length > 0) withOps++;
      if (expected.report.unmanagedMembers.length > 0) withUnmanaged++;
    }
    // the scenarios do exercise the planner (not 400 empty plans)
    expect(withOps).toBeGreaterThan(300);
    expect(withUnmanaged).toBeGreaterThan(100);
  });

  it("plans the same on the state each plan leads to (the next, mostly no-change, run)", () => {
    let empty = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const input = scenario(seed);
      const after = apply(planSync(input), input.catalog, input.ledger);
      const next = { ...input, catalog: after.catalog, ledger: after.ledger };
      const plan = planSync(next);
      expect(plan, `seed ${seed}`).toEqual(planSyncReference(structuredClone(next)));
      if (plan.operations.length === 0) empty++;
    }
    expect(empty).toBeGreaterThan(20);
  });

  it("does not change its inputs", () => {
    const input = scenario(7);
    const copy = structuredClone(input);
    planSync(input);
    expect(input).toEqual(copy);
  });
});
