/**
 * The sync plan: what the pure planner returns and the executor applies, in order.
 * Plain data (JSON-serialisable) so that `--plan-out` / `--plan-in` can round-trip it.
 */
import type { PatchOperation, ScimUserInput } from "../scim/types.js";

/** A member reference: an existing Catalog user, or one created earlier in the same plan. */
export type MemberRef = { scimId: string } | { externalId: string };

export type SyncOperation =
  | { op: "createUser"; externalId: string; user: ScimUserInput }
  /** adopt an existing Catalog user (externalId empty or equal); `patch` may set externalId and attributes */
  | { op: "adoptUser"; scimId: string; externalId: string; patch: PatchOperation[] }
  /** changed attributes, rename or email change: never delete + create */
  | { op: "updateUser"; scimId: string; externalId: string; patch: PatchOperation[] }
  | { op: "reactivateUser"; scimId: string; externalId: string }
  | { op: "addMembers"; groupId: string; groupName: string; members: MemberRef[] }
  | { op: "removeMembers"; groupId: string; groupName: string; scimIds: string[]; reason: "left-group" | "deprovision" }
  | { op: "deactivateUser"; scimId: string; externalId: string }
  | { op: "deleteUser"; scimId: string; externalId: string };

export type SyncOperationKind = SyncOperation["op"];

/** Things the plan reports but never acts on. */
export interface SyncReport {
  /** a Catalog user holds the same userName with a different non-empty externalId, or a disallowed domain */
  conflicts: { externalId: string; userName: string; scimId: string; reason: string }[];
  /** members of managed groups this project did not grant and will not remove */
  unmanagedMembers: { groupName: string; scimId: string }[];
  /** owned users who are gone from the source but whose deprovisioning belongs to login lifecycle */
  leftToLogin: { scimId: string; externalId: string }[];
  /** deactivated owned users waiting for the grace period before delete */
  pendingDeletes: { scimId: string; externalId: string; deleteAfter: string }[];
  /** mapping entries whose IdP group is not in the source (and not in `allowMissingGroups`): the run must abort */
  missingIdpGroups: string[];
  /** managed Catalog groups (mapping targets) that do not exist in the Catalog: no membership change planned for them */
  missingCatalogGroups?: string[];
  /** users skipped by include/exclude */
  excluded: string[];
}

export interface GuardResult {
  guard: "deletions" | "groupRemovals" | "totalRemovals";
  /** what the plan would do */
  count: number;
  /** the limit it was checked against */
  limit: number;
  /** group name for groupRemovals */
  group?: string;
  /** the population the ratio applies to: owned users, or granted memberships (of the group, or in total) */
  base?: number;
  /** the configured minimum and ratio behind `limit` */
  min?: number;
  ratio?: number;
  /** the CLI override given for this run, if any */
  allowed?: number;
  tripped: boolean;
}

export interface PlanCounts {
  create: number;
  adopt: number;
  update: number;
  reactivate: number;
  membershipsAdded: number;
  membershipsRemoved: number;
  deactivate: number;
  delete: number;
}

export interface SyncPlan {
  version: 1;
  target: string;
  /** the source's Auth0 connection, when it has one (recorded in the ledger for created and adopted users) */
  connection?: string;
  operations: SyncOperation[];
  report: SyncReport;
  counts: PlanCounts;
  guards: GuardResult[];
}

/** One owned user in the ownership ledger (exists in both diff modes). */
export interface LedgerUser {
  scimId: string;
  externalId: string;
  target: string;
  /** Auth0 connection the user belongs to, when known */
  connection?: string;
  origin: "created" | "adopted";
  /** Catalog group ids whose membership this project granted */
  granted: string[];
  /** ISO time of deactivation by the sync, for the grace period */
  deactivatedAt?: string;
}

export interface Ledger {
  version: 1;
  users: LedgerUser[];
}

/** Current Catalog state as the planner sees it (from live reads or the snapshot). */
export interface CatalogState {
  users: { id: string; userName: string; externalId?: string; active?: boolean; displayName?: string; name?: { givenName?: string; familyName?: string }; emails?: { value: string; type?: string; primary?: boolean }[] }[];
  /** managed Catalog groups only, with member ids */
  groups: { id: string; displayName: string; members: string[] }[];
}
