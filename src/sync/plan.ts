/**
 * The sync planner (issue 4, section 3): desired state (directory + mapping), current state
 * (Catalog users and managed groups) and the ownership ledger in, an ordered list of
 * operations out. Pure and deterministic: no I/O, no clock (`now` is an input), no randomness.
 *
 * It embodies ARCHITECTURE.md "Identity, ownership and lifecycle":
 * - match by `externalId` first, then by `userName` for adoption only as `decideAdoption` allows;
 *   a different non-empty `externalId` is a conflict, reported, and nothing is written for it;
 * - a rename or email change is a PATCH of the user found by `externalId`, never delete + create;
 * - memberships change only in managed Catalog groups, adding explicit members and removing only
 *   what the ledger says this project granted; other members are reported, never removed;
 * - only owned users (ledger, this target, this connection) are deprovisioned, deactivated first,
 *   deleted only after `deleteAfterDays`, and never when the connection's lifecycle is `login`.
 */
import type { AttributeMapping, ConnectionConfig, Lifecycle, SyncPolicy, TargetConfig } from "../config/types.js";
import { managedCatalogGroups } from "../config/mapping.js";
import { decideAdoption, normalizeUserName } from "../identity.js";
import type { PatchOperation, ScimUserInput } from "../scim/types.js";
import { desiredScimUser, userPatch } from "../user-attributes.js";
import { groupRules, membershipFromRules, missingMappedGroups, privilegedGroups } from "./desired.js";
import type { Directory, DirectoryUser } from "./directory.js";
import { evaluateGuards } from "./guards.js";
import type { CatalogState, Ledger, LedgerUser, MemberRef, PlanCounts, SyncOperation, SyncPlan, SyncReport } from "./plan-types.js";
import { isManageable, managedGroupNames, scopeOf } from "./scope.js";

export { ledgerAfter, type AppliedResult } from "./ownership.js";

export interface PlanInput {
  target: TargetConfig;
  policy: SyncPolicy;
  attributes: AttributeMapping;
  connections: Record<string, ConnectionConfig>;
  /** the Auth0 connection the source backs; its lifecycle governs the source's users (default "sync") */
  sourceConnection?: string;
  directory: Directory;
  /** current Catalog users + managed groups (id, displayName, members) */
  catalog: CatalogState;
  /** ownership */
  ledger: Ledger;
  /** ISO time, for the grace period */
  now: string;
  /** CLI overrides: upper bounds on deactivations + deletes, and on membership removals */
  allowDeletions?: number;
  allowRemovals?: number;
}

/** a managed Catalog group; `index` is its place in the managed list */
type ManagedGroup = { index: number; id: string; displayName: string; members: readonly string[] };

const NO_RULES: readonly (readonly number[])[] = [];

const DAY_MS = 86_400_000;

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function refKey(r: MemberRef): string {
  return "scimId" in r ? `0:${r.scimId}` : `1:${r.externalId}`;
}

/** sorted by {@link refKey}, each key made once (not twice per comparison) */
function sortRefs(refs: MemberRef[]): MemberRef[] {
  return refs
    .map((r) => ({ r, k: refKey(r) }))
    .sort((a, b) => cmp(a.k, b.k))
    .map((x) => x.r);
}

/** the items ordered by `key` (a copy), without sorting when they already are (a snapshot read is) */
function sortedBy<T>(items: readonly T[], key: (t: T) => string): T[] {
  let sorted = true;
  for (let i = 1; i < items.length; i++) {
    if (key(items[i - 1]!) > key(items[i]!)) {
      sorted = false;
      break;
    }
  }
  return sorted ? [...items] : [...items].sort((a, b) => cmp(key(a), key(b)));
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export function planSync(input: PlanInput): SyncPlan {
  const { target, policy, catalog, directory } = input;
  const mapping = target.groups;
  const conn = input.sourceConnection;
  const lifecycleOf = (c: string | undefined): Lifecycle => (c !== undefined ? input.connections[c]?.lifecycle : undefined) ?? "sync";

  const report: SyncReport = { conflicts: [], unmanagedMembers: [], leftToLogin: [], pendingDeletes: [], missingIdpGroups: [], excluded: [] };
  report.missingIdpGroups = missingMappedGroups(mapping, directory, policy.guards.allowMissingGroups);

  // managed Catalog groups: the mapping's targets, minus excluded groups, that exist in the Catalog
  const catalogGroupByName = new Map<string, CatalogState["groups"][number]>();
  for (const g of sortedBy(catalog.groups, (g) => g.id)) {
    if (!catalogGroupByName.has(g.displayName.toLowerCase())) catalogGroupByName.set(g.displayName.toLowerCase(), g);
  }
  const managed: ManagedGroup[] = [];
  const missingCatalogGroups: string[] = [];
  for (const name of managedGroupNames(managedCatalogGroups(mapping), target)) {
    const g = catalogGroupByName.get(name.toLowerCase());
    if (g) managed.push({ index: managed.length, id: g.id, displayName: g.displayName, members: g.members });
    else missingCatalogGroups.push(name);
  }
  if (missingCatalogGroups.length > 0) report.missingCatalogGroups = missingCatalogGroups;
  const managedByName = new Map(managed.map((g) => [g.displayName.toLowerCase(), g]));
  /** group id → its managed entries (more than one only when two mapped names differ by case alone) */
  const managedById = new Map<string, ManagedGroup[]>();
  for (const g of managed) push(managedById, g.id, g);

  // Catalog indices (deterministic: lowest id wins on duplicates). Each Catalog user id gets a
  // slot (its first place in id order); what the plan knows per user (ownership, memberships,
  // wanted groups, handled) is kept in arrays by slot: one look-up per user and per membership,
  // not one per question asked.
  const catalogUsers = sortedBy(catalog.users, (c) => c.id);
  const slotById = new Map<string, number>();
  const slotAt = new Int32Array(catalogUsers.length);
  const byExternalId = new Map<string, number>();
  const byUserName = new Map<string, number>();
  for (let i = 0; i < catalogUsers.length; i++) {
    const c = catalogUsers[i]!;
    const slot = slotById.get(c.id);
    if (slot === undefined) slotById.set(c.id, (slotAt[i] = i));
    else slotAt[i] = slot;
    if (c.externalId && !byExternalId.has(c.externalId)) byExternalId.set(c.externalId, i);
    const k = normalizeUserName(c.userName);
    if (!byUserName.has(k)) byUserName.set(k, i);
  }

  /**
   * The memberships seen from the member's side: per slot, the managed entries that hold the
   * user, in managed order, each once (member ids that are no Catalog user: by id, aside).
   */
  const memberOf: (ManagedGroup[] | undefined)[] = new Array(catalogUsers.length);
  const memberOfOther = new Map<string, ManagedGroup[]>();
  for (const g of managed) {
    for (const m of g.members) {
      const slot = slotById.get(m);
      const l = slot !== undefined ? memberOf[slot] : memberOfOther.get(m);
      if (!l) {
        if (slot !== undefined) memberOf[slot] = [g];
        else memberOfOther.set(m, [g]);
      } else if (l[l.length - 1] !== g) l.push(g);
    }
  }

  // ownership: per slot (the last record of an id wins), by id for ids that are no Catalog user
  const owned: (LedgerUser | undefined)[] = new Array(catalogUsers.length);
  const ownedOther = new Map<string, LedgerUser>();
  const otherTargets = new Map<string, LedgerUser>();
  for (const u of input.ledger.users) {
    if (u.target === target.name) {
      const slot = slotById.get(u.scimId);
      if (slot !== undefined) owned[slot] = u;
      else ownedOther.set(u.scimId, u);
    } else if (!otherTargets.has(u.scimId)) otherTargets.set(u.scimId, u);
  }

  // the directory: users in id order, each directory group's matching rules once, the groups of
  // each user by the user's place (its first one in id order)
  const dirUsers = sortedBy(directory.users, (d) => d.id);
  const dirSlotById = new Map<string, number>();
  for (let i = 0; i < dirUsers.length; i++) if (!dirSlotById.has(dirUsers[i]!.id)) dirSlotById.set(dirUsers[i]!.id, i);
  const rulesOfUser: (Array<readonly number[]> | undefined)[] = new Array(dirUsers.length);
  for (const g of directory.groups) {
    const rules = groupRules(mapping, g);
    for (const m of g.members) {
      const slot = dirSlotById.get(m);
      if (slot === undefined) continue;
      const l = rulesOfUser[slot];
      if (!l) rulesOfUser[slot] = [rules];
      else if (l[l.length - 1] !== rules) l.push(rules);
    }
  }
  const privileged = privilegedGroups(mapping);

  const userOps: SyncOperation[] = [];
  const adds = new Map<string, MemberRef[]>();
  const leftRemovals = new Map<string, string[]>();
  const deprovisionRemovals = new Map<string, string[]>();
  const deactivates: SyncOperation[] = [];
  const deletes: SyncOperation[] = [];
  /** Catalog users (by slot) a present directory user accounts for: never deprovisioned by the loop below */
  const handled = new Uint8Array(catalogUsers.length);
  /** per slot, the managed group ids the user should be in (for the unmanaged report) */
  const wantedBy: (readonly string[] | undefined)[] = new Array(catalogUsers.length);
  const seenUserNames = new Set<string>();
  const excluded = new Set<string>();

  const conflict = (d: DirectoryUser, userName: string, scimId: string, reason: string): void => {
    report.conflicts.push({ externalId: d.id, userName, scimId, reason });
  };

  for (let di = 0; di < dirUsers.length; di++) {
    const d = dirUsers[di]!;
    const mem = membershipFromRules(mapping, rulesOfUser[dirSlotById.get(d.id)!] ?? NO_RULES, privileged);
    const scope = scopeOf(target, policy.scope, d, mem.matchedRules);
    const anchorAt = byExternalId.get(d.id);
    if (scope.kind === "unmanaged") {
      excluded.add(d.email || d.id);
      if (anchorAt !== undefined) handled[slotAt[anchorAt]!] = 1;
      continue;
    }
    if (scope.kind !== "in") continue; // disabled or in no mapped group: deprovisioning below, owned users only

    let desired: ScimUserInput;
    try {
      desired = desiredScimUser(d, input.attributes);
    } catch {
      conflict(d, d.email, "", "no-userName");
      if (anchorAt !== undefined) handled[slotAt[anchorAt]!] = 1;
      continue;
    }
    const key = normalizeUserName(desired.userName);
    if (seenUserNames.has(key)) {
      conflict(d, desired.userName, anchorAt !== undefined ? catalogUsers[anchorAt]!.id : "", "duplicate-userName-in-source");
      if (anchorAt !== undefined) handled[slotAt[anchorAt]!] = 1;
      continue;
    }
    seenUserNames.add(key);

    const holderAt = byUserName.get(key);
    const at = anchorAt ?? holderAt;
    if (at === undefined) {
      userOps.push({ op: "createUser", externalId: d.id, user: desired });
      for (const n of mem.catalogGroups) {
        const g = managedByName.get(n.toLowerCase());
        if (g !== undefined) push(adds, g.id, { externalId: d.id });
      }
      continue;
    }
    const c = catalogUsers[at]!;
    const slot = slotAt[at]!;
    handled[slot] = 1;
    if (!isManageable(target, { externalId: c.externalId, userName: c.userName })) {
      excluded.add(c.userName);
      continue;
    }
    const lu = owned[slot];
    if (!lu && otherTargets.has(c.id)) {
      conflict(d, c.userName, c.id, `owned-by-target "${otherTargets.get(c.id)!.target}"`);
      continue;
    }
    if (lu) {
      if (c.externalId && c.externalId !== d.id) {
        conflict(d, c.userName, c.id, "externalId-differs");
        continue;
      }
    } else {
      const decision = decideAdoption(c, d.id, target.domains);
      if (decision.kind === "conflict") {
        conflict(d, c.userName, c.id, decision.reason);
        continue;
      }
    }

    let patch: PatchOperation[] = userPatch(c, desired);
    const holder = holderAt !== undefined ? catalogUsers[holderAt]! : undefined;
    if (holder && holder.id !== c.id) {
      // the new userName belongs to someone else: keep the old one, report, change the rest
      conflict(d, desired.userName, c.id, `userName-taken by "${holder.id}"`);
      patch = patch.filter((p) => p.path !== "userName");
    }
    if (!lu) userOps.push({ op: "adoptUser", scimId: c.id, externalId: d.id, patch });
    else if (patch.length > 0) userOps.push({ op: "updateUser", scimId: c.id, externalId: d.id, patch });

    if (lifecycleOf(lu?.connection ?? conn) === "sync" && (c.active === false || lu?.deactivatedAt !== undefined)) {
      userOps.push({ op: "reactivateUser", scimId: c.id, externalId: d.id });
    }

    // only the groups the user should be in or is in (not every managed group per user)
    /** the managed group ids the user should be in, each once */
    const want: string[] = [];
    for (const n of mem.catalogGroups) {
      const g = managedByName.get(n.toLowerCase());
      if (g !== undefined && !want.includes(g.id)) want.push(g.id);
    }
    const current = memberOf[slot];
    const before = wantedBy[slot];
    wantedBy[slot] = before === undefined ? want : [...before, ...want.filter((id) => !before.includes(id))];
    for (const id of want) {
      for (const g of managedById.get(id)!) {
        if (current === undefined || !current.includes(g)) push(adds, g.id, { scimId: c.id });
      }
    }
    if (current !== undefined && lu !== undefined) {
      for (const g of current) if (!want.includes(g.id) && lu.granted.includes(g.id)) push(leftRemovals, g.id, c.id);
    }
  }

  // deprovisioning: owned users of this target that no present, in-scope directory user accounts for
  const deleteAfterDays = policy.deprovision.deleteAfterDays;
  const nowMs = Date.parse(input.now);
  if (Number.isNaN(nowMs)) throw new TypeError('"now" must be an ISO date-time');
  /** directory users by id (last in id order wins), built only when a user is deprovisioned */
  let dirById: Map<string, DirectoryUser> | undefined;
  let ownedPresent = 0;
  for (let i = 0; i < catalogUsers.length; i++) {
    const c = catalogUsers[i]!;
    const slot = slotAt[i]!;
    const lu = owned[slot];
    if (!lu) continue;
    ownedPresent++;
    if (handled[slot] === 1) continue;
    if (!isManageable(target, { externalId: c.externalId ?? lu.externalId, userName: c.userName })) {
      excluded.add(c.userName);
      continue;
    }
    // a user recorded for another connection belongs to that connection's source
    if (conn !== undefined && lu.connection !== undefined && lu.connection !== conn) continue;
    dirById ??= new Map<string, DirectoryUser>(dirUsers.map((d) => [d.id, d]));
    const d = dirById.get(lu.externalId) ?? (c.externalId ? dirById.get(c.externalId) : undefined);
    const grantedHere = (memberOf[slot] ?? []).filter((g) => lu.granted.includes(g.id));

    if (lifecycleOf(lu.connection ?? conn) === "login") {
      report.leftToLogin.push({ scimId: c.id, externalId: lu.externalId });
      // still present and active, only out of every mapped group: membership sync, not deprovisioning
      if (d && d.active) for (const g of grantedHere) push(leftRemovals, g.id, c.id);
      continue;
    }

    const needsDeactivate = c.active === true || lu.deactivatedAt === undefined;
    if (needsDeactivate) deactivates.push({ op: "deactivateUser", scimId: c.id, externalId: lu.externalId });
    let deleting = false;
    if (deleteAfterDays !== null && deleteAfterDays !== undefined) {
      const since = needsDeactivate ? nowMs : Date.parse(lu.deactivatedAt!);
      const dueMs = (Number.isNaN(since) ? nowMs : since) + deleteAfterDays * DAY_MS;
      if (!needsDeactivate && nowMs >= dueMs) {
        deletes.push({ op: "deleteUser", scimId: c.id, externalId: lu.externalId });
        deleting = true;
      } else {
        report.pendingDeletes.push({ scimId: c.id, externalId: lu.externalId, deleteAfter: new Date(dueMs).toISOString() });
      }
    }
    if (policy.deprovision.removeMemberships && !deleting) for (const g of grantedHere) push(deprovisionRemovals, g.id, c.id);
  }

  // One pass over the memberships from the members' side: the members this project granted
  // (the removal guards' base), and those it neither granted nor wants, reported and never removed.
  const granted = new Array<number>(managed.length).fill(0);
  const unmanagedOf: string[][] = managed.map(() => []);
  const tally = (m: string, groups: readonly ManagedGroup[], grants: readonly string[] | undefined, wants: readonly string[] | undefined): void => {
    for (const g of groups) {
      if (grants !== undefined && grants.includes(g.id)) granted[g.index]!++;
      else if (wants === undefined || !wants.includes(g.id)) unmanagedOf[g.index]!.push(m);
    }
  };
  for (let slot = 0; slot < catalogUsers.length; slot++) {
    const groups = memberOf[slot];
    if (groups !== undefined) tally(catalogUsers[slot]!.id, groups, owned[slot]?.granted, wantedBy[slot]);
  }
  for (const [m, groups] of memberOfOther) tally(m, groups, ownedOther.get(m)?.granted, undefined);
  const byGroupName = [...managed].sort((a, b) => cmp(a.displayName, b.displayName));
  for (const g of byGroupName) {
    for (const m of unmanagedOf[g.index]!.sort()) report.unmanagedMembers.push({ groupName: g.displayName, scimId: m });
  }
  report.excluded = [...excluded].sort();

  // operations, in a fixed order: users, adds, left-group removals, deprovision removals, deactivations, deletes
  const operations: SyncOperation[] = userOps;
  for (const g of byGroupName) {
    const members = adds.get(g.id);
    if (members?.length) operations.push({ op: "addMembers", groupId: g.id, groupName: g.displayName, members: sortRefs(members) });
  }
  for (const [reason, m] of [["left-group", leftRemovals], ["deprovision", deprovisionRemovals]] as const) {
    for (const g of byGroupName) {
      const ids = m.get(g.id);
      if (ids?.length) operations.push({ op: "removeMembers", groupId: g.id, groupName: g.displayName, scimIds: [...new Set(ids)].sort(), reason });
    }
  }
  operations.push(...deactivates, ...deletes);

  const grantedByGroup = new Map<string, number>();
  for (const g of managed) grantedByGroup.set(g.id, granted[g.index]!);
  const guards = evaluateGuards({
    operations,
    policy,
    ownedUsers: ownedPresent,
    grantedByGroup,
    allowDeletions: input.allowDeletions,
    allowRemovals: input.allowRemovals,
  });

  const plan: SyncPlan = { version: 1, target: target.name, operations, report, counts: countOperations(operations), guards };
  if (conn !== undefined) plan.connection = conn;
  return plan;
}

export function countOperations(operations: readonly SyncOperation[]): PlanCounts {
  const c: PlanCounts = { create: 0, adopt: 0, update: 0, reactivate: 0, membershipsAdded: 0, membershipsRemoved: 0, deactivate: 0, delete: 0 };
  for (const o of operations) {
    switch (o.op) {
      case "createUser": c.create++; break;
      case "adoptUser": c.adopt++; break;
      case "updateUser": c.update++; break;
      case "reactivateUser": c.reactivate++; break;
      case "addMembers": c.membershipsAdded += o.members.length; break;
      case "removeMembers": c.membershipsRemoved += o.scimIds.length; break;
      case "deactivateUser": c.deactivate++; break;
      case "deleteUser": c.delete++; break;
    }
  }
  return c;
}
