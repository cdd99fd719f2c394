/**
 * The planner as it was before its no-change path was made allocation-light: kept verbatim as
 * the reference the equivalence test compares `planSync` against.
 */
import type { AttributeMapping, ConnectionConfig, Lifecycle, SyncPolicy, TargetConfig } from "../../src/config/types.js";
import { managedCatalogGroups } from "../../src/config/mapping.js";
import { decideAdoption, normalizeUserName } from "../../src/identity.js";
import type { PatchOperation, ScimUserInput } from "../../src/scim/types.js";
import { desiredScimUser, userPatch } from "../../src/user-attributes.js";
import { isStrongRef } from "../../src/config/mapping.js";
import type { GroupMapping } from "../../src/config/types.js";
import { groupRules, groupsByUser, missingMappedGroups, type DesiredMembership } from "../../src/sync/desired.js";
import type { DirectoryGroup } from "../../src/sync/directory.js";
import type { Directory, DirectoryUser } from "../../src/sync/directory.js";
import { evaluateGuards } from "../../src/sync/guards.js";
import type { CatalogState, Ledger, LedgerUser, MemberRef, SyncOperation, SyncPlan, SyncReport } from "../../src/sync/plan-types.js";
import { countOperations } from "../../src/sync/plan.js";
import { isManageable, managedGroupNames, scopeOf } from "../../src/sync/scope.js";


/** the mapping applied to one user's groups, with Sets, as it was */
function desiredMembership(mapping: GroupMapping, groups: readonly DirectoryGroup[]): DesiredMembership {
  const matched = new Set<number>();
  for (const g of groups) for (const i of groupRules(mapping, g)) matched.add(i);
  const privileged = mapping.privileged.length > 0 ? new Set(mapping.privileged.map((g) => g.toLowerCase())) : undefined;
  const granted = new Set<string>();
  const matchedRules: number[] = [];
  for (const index of [...matched].sort((a, b) => a - b)) {
    const rule = mapping.rules[index]!;
    let any = false;
    for (const cg of rule.catalogGroups) {
      if (privileged?.has(cg.toLowerCase()) && !isStrongRef(rule.idp)) continue;
      granted.add(cg);
      any = true;
    }
    if (any) matchedRules.push(index);
  }
  return { catalogGroups: [...granted].sort(), matchedRules };
}

interface PlanInputRef {
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

type CatalogUser = CatalogState["users"][number];
type ManagedGroup = { id: string; displayName: string; members: Set<string> };

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

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export function planSyncReference(input: PlanInputRef): SyncPlan {
  const { target, policy, catalog, directory } = input;
  const mapping = target.groups;
  const conn = input.sourceConnection;
  const lifecycleOf = (c: string | undefined): Lifecycle => (c !== undefined ? input.connections[c]?.lifecycle : undefined) ?? "sync";

  const report: SyncReport = { conflicts: [], unmanagedMembers: [], leftToLogin: [], pendingDeletes: [], missingIdpGroups: [], excluded: [] };
  report.missingIdpGroups = missingMappedGroups(mapping, directory, policy.guards.allowMissingGroups);

  // managed Catalog groups: the mapping's targets, minus excluded groups, that exist in the Catalog
  const catalogGroupByName = new Map<string, CatalogState["groups"][number]>();
  for (const g of [...catalog.groups].sort((a, b) => cmp(a.id, b.id))) {
    if (!catalogGroupByName.has(g.displayName.toLowerCase())) catalogGroupByName.set(g.displayName.toLowerCase(), g);
  }
  const managed: ManagedGroup[] = [];
  const missingCatalogGroups: string[] = [];
  for (const name of managedGroupNames(managedCatalogGroups(mapping), target)) {
    const g = catalogGroupByName.get(name.toLowerCase());
    if (g) managed.push({ id: g.id, displayName: g.displayName, members: new Set(g.members) });
    else missingCatalogGroups.push(name);
  }
  if (missingCatalogGroups.length > 0) report.missingCatalogGroups = missingCatalogGroups;
  const managedByName = new Map(managed.map((g) => [g.displayName.toLowerCase(), g]));
  /** group id → its managed entries, and Catalog user id → the managed entries that hold it */
  const managedById = new Map<string, ManagedGroup[]>();
  const memberOf = new Map<string, ManagedGroup[]>();
  for (const g of managed) {
    push(managedById, g.id, g);
    for (const m of g.members) push(memberOf, m, g);
  }

  // ownership
  const owned = new Map<string, LedgerUser>();
  const otherTargets = new Map<string, LedgerUser>();
  for (const u of input.ledger.users) {
    if (u.target === target.name) owned.set(u.scimId, u);
    else if (!otherTargets.has(u.scimId)) otherTargets.set(u.scimId, u);
  }

  // Catalog indices (deterministic: lowest id wins on duplicates)
  const catalogUsers = [...catalog.users].sort((a, b) => cmp(a.id, b.id));
  const byExternalId = new Map<string, CatalogUser>();
  const byUserName = new Map<string, CatalogUser>();
  for (const c of catalogUsers) {
    if (c.externalId && !byExternalId.has(c.externalId)) byExternalId.set(c.externalId, c);
    const k = normalizeUserName(c.userName);
    if (!byUserName.has(k)) byUserName.set(k, c);
  }

  const groupsOf = groupsByUser(directory);
  const dirUsers = [...directory.users].sort((a, b) => cmp(a.id, b.id));
  const dirById = new Map<string, DirectoryUser>(dirUsers.map((d) => [d.id, d]));

  const userOps: SyncOperation[] = [];
  const adds = new Map<string, MemberRef[]>();
  const leftRemovals = new Map<string, string[]>();
  const deprovisionRemovals = new Map<string, string[]>();
  const deactivates: SyncOperation[] = [];
  const deletes: SyncOperation[] = [];
  /** Catalog users a present directory user accounts for: never deprovisioned by the loop below */
  const handled = new Set<string>();
  /** group id → Catalog user ids that should be members (for the unmanaged report) */
  const desiredMembers = new Map<string, Set<string>>();
  const seenUserNames = new Set<string>();
  const excluded = new Set<string>();

  const conflict = (d: DirectoryUser, userName: string, scimId: string, reason: string): void => {
    report.conflicts.push({ externalId: d.id, userName, scimId, reason });
  };

  for (const d of dirUsers) {
    const mem = desiredMembership(mapping, groupsOf.get(d.id) ?? []);
    const scope = scopeOf(target, policy.scope, d, mem.matchedRules);
    const byAnchor = byExternalId.get(d.id);
    if (scope.kind === "unmanaged") {
      excluded.add(d.email || d.id);
      if (byAnchor) handled.add(byAnchor.id);
      continue;
    }
    if (scope.kind !== "in") continue; // disabled or in no mapped group: deprovisioning below, owned users only

    let desired: ScimUserInput;
    try {
      desired = desiredScimUser(d, input.attributes);
    } catch {
      conflict(d, d.email, "", "no-userName");
      if (byAnchor) handled.add(byAnchor.id);
      continue;
    }
    const key = normalizeUserName(desired.userName);
    if (seenUserNames.has(key)) {
      conflict(d, desired.userName, byAnchor?.id ?? "", "duplicate-userName-in-source");
      if (byAnchor) handled.add(byAnchor.id);
      continue;
    }
    seenUserNames.add(key);

    const c = byAnchor ?? byUserName.get(key);
    const wantGroups = mem.catalogGroups.map((n) => managedByName.get(n.toLowerCase())).filter((g): g is ManagedGroup => g !== undefined);

    if (!c) {
      userOps.push({ op: "createUser", externalId: d.id, user: desired });
      for (const g of wantGroups) push(adds, g.id, { externalId: d.id });
      continue;
    }
    handled.add(c.id);
    if (!isManageable(target, { externalId: c.externalId, userName: c.userName })) {
      excluded.add(c.userName);
      continue;
    }
    const lu = owned.get(c.id);
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
    const holder = byUserName.get(key);
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
    const want = new Set(wantGroups.map((g) => g.id));
    for (const id of want) {
      for (const g of managedById.get(id) ?? []) {
        let s = desiredMembers.get(g.id);
        if (!s) desiredMembers.set(g.id, (s = new Set()));
        s.add(c.id);
        if (!g.members.has(c.id)) push(adds, g.id, { scimId: c.id });
      }
    }
    for (const g of memberOf.get(c.id) ?? []) {
      if (!want.has(g.id) && lu?.granted.includes(g.id)) push(leftRemovals, g.id, c.id);
    }
  }

  // deprovisioning: owned users of this target that no present, in-scope directory user accounts for
  const deleteAfterDays = policy.deprovision.deleteAfterDays;
  const nowMs = Date.parse(input.now);
  if (Number.isNaN(nowMs)) throw new TypeError('"now" must be an ISO date-time');
  let ownedPresent = 0;
  for (const c of catalogUsers) {
    const lu = owned.get(c.id);
    if (!lu) continue;
    ownedPresent++;
    if (handled.has(c.id)) continue;
    if (!isManageable(target, { externalId: c.externalId ?? lu.externalId, userName: c.userName })) {
      excluded.add(c.userName);
      continue;
    }
    // a user recorded for another connection belongs to that connection's source
    if (conn !== undefined && lu.connection !== undefined && lu.connection !== conn) continue;
    const d = dirById.get(lu.externalId) ?? (c.externalId ? dirById.get(c.externalId) : undefined);
    const grantedHere = managed.filter((g) => g.members.has(c.id) && lu.granted.includes(g.id));

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

  // members of managed groups this project neither granted nor wants: reported, never removed
  for (const g of [...managed].sort((a, b) => cmp(a.displayName, b.displayName))) {
    const want = desiredMembers.get(g.id);
    const unmanaged: string[] = [];
    for (const m of g.members) {
      if (owned.get(m)?.granted.includes(g.id)) continue;
      if (want?.has(m)) continue;
      unmanaged.push(m);
    }
    for (const m of unmanaged.sort()) report.unmanagedMembers.push({ groupName: g.displayName, scimId: m });
  }
  report.excluded = [...excluded].sort();

  // operations, in a fixed order: users, adds, left-group removals, deprovision removals, deactivations, deletes
  const operations: SyncOperation[] = [...userOps];
  const byGroupName = [...managed].sort((a, b) => cmp(a.displayName, b.displayName));
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
  for (const g of managed) {
    let n = 0;
    for (const m of g.members) if (owned.get(m)?.granted.includes(g.id)) n++;
    grantedByGroup.set(g.id, n);
  }
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

