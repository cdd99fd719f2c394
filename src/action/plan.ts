/**
 * The JIT planner: login facts + last-applied state + what lookups returned → the next step.
 * PURE: no fetch, no node:*, no clock, no randomness (`now` and the jitter sample are inputs).
 * The executor calls it in a loop, feeding back what each step returned, until a final step.
 *
 * Rules: ARCHITECTURE.md "Identity, ownership and lifecycle" and issue 3 §4–5.
 */
import type { Lifecycle } from "../config/types.js";
import type { ErrorCode } from "../errors.js";
import { decideAdoption, sameUserName } from "../identity.js";
import type { MappedAttributes } from "../claims/profile.js";
import type { PatchOperation, ScimUser, ScimUserInput } from "../scim/types.js";
import { SCHEMA_USER } from "../scim/types.js";

/** What a login says about a person. */
export interface LoginFacts {
  /** canonical `externalId` */
  anchor: string;
  attributes: MappedAttributes;
  /** resolved desired Catalog groups (displayName) */
  desiredGroups: string[];
  /** the IdP list may be incomplete: add, never remove */
  groupsUnknown: boolean;
}

/**
 * The last-applied state kept in `app_metadata[metadataKey]` (short keys: ≤ 2 kB).
 * Never the IdP group list.
 */
export interface AppliedState {
  v: 1;
  /** target name */
  t: string;
  /** Catalog user id */
  u: string;
  /** Catalog group ids this project granted */
  g: string[];
  /** hash of the desired state ("" = retry at the next login) */
  h: string;
  /** expiry, ms since epoch */
  x: number;
}

/** What the reads of earlier steps returned (null = not found). */
export interface Lookups {
  byId?: ScimUser | null;
  byExternalId?: ScimUser | null;
  /** create result: the created user (and, with Bulk, the group ids added) or a uniqueness conflict */
  created?: { user: ScimUser; groupsAdded: string[] } | "conflict";
  /** the second look after a 409 */
  retryByExternalId?: ScimUser | null;
  retryByUserName?: ScimUser | null;
  /** current group ids of a found user without stored state (null = cannot be learned cheaply) */
  userGroups?: string[] | null;
}

export interface PlanInput {
  target: string;
  facts: LoginFacts;
  state?: AppliedState | undefined;
  /** displayName → id, for the target's managed groups known so far */
  groupIds: Record<string, string>;
  /** managed Catalog groups that do not exist on the Catalog (resolved to nothing) */
  missingGroups?: string[];
  /** every managed Catalog group of the target (displayName) */
  managedGroups: string[];
  capabilities: { bulk: boolean };
  lifecycle: Lifecycle;
  /** allowed userName domains for adoption */
  domains: string[];
  now: number;
  ttlMs: number;
  /** share of the TTL used as jitter (0.2 = ±20 %) */
  ttlJitter: number;
  /** a sample in [-1, 1] drawn at the edge */
  jitterSample: number;
  lookups: Lookups;
}

export type Read =
  | { kind: "groupId"; name: string }
  | { kind: "userById"; id: string }
  | { kind: "userByExternalId"; value: string }
  | { kind: "userByUserName"; value: string }
  | { kind: "retry" }
  | { kind: "userGroups"; userId: string };

export type LoginPath = "unchanged" | "created" | "returning" | "adopted" | "found" | "inactive" | "not-created" | "gone";

export type JitStep =
  | { kind: "skip"; path: "unchanged" }
  | { kind: "read"; reads: Read[] }
  | { kind: "create"; user: ScimUserInput; bulkGroups: string[] }
  | {
      kind: "apply";
      path: LoginPath;
      userId: string;
      userOps: PatchOperation[];
      adds: string[];
      removes: string[];
      /** what to record once every write succeeded */
      record: AppliedState;
    }
  | { kind: "done"; path: LoginPath; record: AppliedState | null | undefined }
  | { kind: "conflict"; reason: "externalId-differs" | "domain-not-allowed"; userId: string }
  | { kind: "fail"; code: ErrorCode; message: string };

export const NO_ANCHOR = 'no "externalId" anchor for this login';

/** at most this many blind `members[value eq]` removes for a found user whose groups cannot be read */
export const MAX_TARGETED_REMOVES = 3;

/** Hash of the desired state: a repeat login with the same hash within the TTL makes no request. */
export function desiredHash(target: string, facts: LoginFacts, lifecycle: Lifecycle): string {
  const a = facts.attributes;
  const text = JSON.stringify([
    target,
    facts.anchor,
    a.userName ?? "",
    a.email ?? "",
    a.givenName ?? "",
    a.familyName ?? "",
    a.displayName ?? "",
    [...facts.desiredGroups].sort(),
    facts.groupsUnknown,
    lifecycle,
  ]);
  // two FNV-1a 32-bit lanes with different offsets: 64 bits, hex
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x01000193 + 2) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/** Parse what `app_metadata[metadataKey]` holds; anything malformed counts as no state. */
export function parseAppliedState(value: unknown): AppliedState | undefined {
  if (!value || typeof value !== "object") return undefined;
  const { v, t, u, g, h, x } = value as Record<string, unknown>;
  const strings = (a: unknown[]) => a.every((s) => typeof s === "string");
  if (v !== 1 || !strings([t, u, h]) || typeof x !== "number" || !Array.isArray(g) || !strings(g)) return undefined;
  return { v, t, u, g, h, x } as AppliedState;
}

/** The SCIM user a login creates (userName = email by default, work email primary, active). */
export function userToCreate(facts: LoginFacts): ScimUserInput {
  const a = facts.attributes;
  const user: ScimUserInput = { schemas: [SCHEMA_USER], userName: a.userName ?? a.email ?? "", externalId: facts.anchor, active: true };
  if (a.givenName || a.familyName) {
    user.name = {};
    if (a.givenName) user.name.givenName = a.givenName;
    if (a.familyName) user.name.familyName = a.familyName;
  }
  if (a.displayName) user.displayName = a.displayName;
  if (a.email) user.emails = [{ value: a.email, type: "work", primary: true }];
  return user;
}

/** PATCH operations for the attributes that differ (userName compared case-insensitively). */
export function attributeOps(existing: ScimUser, facts: LoginFacts): PatchOperation[] {
  const a = facts.attributes;
  const ops: PatchOperation[] = [];
  const replace = (path: string, value: string | undefined, current: string | undefined, same = (x?: string, y?: string) => x === y) => {
    if (value && !same(current, value)) ops.push({ op: "replace", path, value });
  };
  replace("userName", a.userName, existing.userName, sameUserName);
  replace("name.givenName", a.givenName, existing.name?.givenName);
  replace("name.familyName", a.familyName, existing.name?.familyName);
  replace("displayName", a.displayName, existing.displayName);
  if (a.email) {
    const emails = existing.emails ?? [];
    const work = emails.find((e) => e.type === "work");
    const current = work ?? emails.find((e) => e.primary === true);
    if (!current) ops.push({ op: "add", path: "emails", value: [{ value: a.email, type: "work", primary: true }] });
    else replace(work ? 'emails[type eq "work"].value' : "emails[primary eq true].value", a.email, current.value, sameUserName);
  }
  return ops;
}

/** how the user of a login was found (a const enum: plain numbers in the bundle) */
const enum How {
  Returning,
  Found,
  Created,
  AdoptedEmpty,
  AdoptedEqual,
}

/** The next step of a login. */
export function planLogin(input: PlanInput): JitStep {
  const { facts, state, target, lookups } = input;
  if (!facts.anchor) return { kind: "fail", code: "ACTION_INTERNAL", message: NO_ANCHOR };
  const hash = desiredHash(target, facts, input.lifecycle);
  const ownState = state && state.t === target ? state : undefined;

  // 1. an unchanged repeat login within the TTL makes no request
  if (ownState && ownState.h !== "" && ownState.h === hash && input.now < ownState.x) return { kind: "skip", path: "unchanged" };

  // 2. reads of the first round: group ids and the user, in parallel
  const missing = new Set(input.missingGroups ?? []);
  const managedIds = new Set(input.managedGroups.map((n) => input.groupIds[n]).filter((id): id is string => id !== undefined));
  const reads: Read[] = [];
  const unresolved = (names: string[]) => names.filter((n) => input.groupIds[n] === undefined && !missing.has(n));
  let needNames = unresolved(facts.desiredGroups);
  if (ownState && ownState.g.some((id) => !managedIds.has(id))) needNames = unresolved(input.managedGroups);
  for (const name of needNames) reads.push({ kind: "groupId", name });

  let user: ScimUser | undefined;
  let how: How | undefined;
  if (ownState && lookups.byId === undefined) {
    reads.push({ kind: "userById", id: ownState.u });
  } else if (ownState && lookups.byId) {
    user = lookups.byId;
    how = How.Returning;
  } else if (lookups.byExternalId === undefined) {
    reads.push({ kind: "userByExternalId", value: facts.anchor });
  } else if (lookups.byExternalId) {
    user = lookups.byExternalId;
    how = ownState && ownState.u === user.id ? How.Returning : How.Found;
  }
  if (reads.length > 0) return { kind: "read", reads };

  const desiredIds = facts.desiredGroups.map((n) => input.groupIds[n]).filter((id): id is string => id !== undefined);

  // 3. no user yet: create, or look again after a 409
  if (!user) {
    const created = lookups.created;
    if (created === undefined) {
      if (facts.desiredGroups.length === 0) {
        // a user with no mapped group is not created; a stored state for a vanished user is cleared
        return { kind: "done", path: ownState ? "gone" : "not-created", record: ownState ? null : undefined };
      }
      const create = userToCreate(facts);
      if (!create.userName) return { kind: "fail", code: "ACTION_INTERNAL", message: 'no "userName" for this login' };
      return { kind: "create", user: create, bulkGroups: input.capabilities.bulk ? desiredIds : [] };
    }
    if (created === "conflict") {
      if (lookups.retryByExternalId === undefined && lookups.retryByUserName === undefined) return { kind: "read", reads: [{ kind: "retry" }] };
      if (lookups.retryByExternalId) {
        user = lookups.retryByExternalId;
        how = How.Found;
      } else if (lookups.retryByUserName) {
        const decision = decideAdoption(lookups.retryByUserName, facts.anchor, input.domains);
        if (decision.kind === "conflict") return { kind: "conflict", reason: decision.reason, userId: lookups.retryByUserName.id };
        user = lookups.retryByUserName;
        how = decision.reason === "externalId-empty" ? How.AdoptedEmpty : How.AdoptedEqual;
      } else {
        return { kind: "fail", code: "SCIM_USER_INVISIBLE", message: "a 409 for a user that no lookup finds" };
      }
    } else {
      user = created.user;
      how = How.Created;
    }
  }

  // a stored id that now points to someone else's user is a conflict, never a takeover
  if (user.externalId && user.externalId !== facts.anchor) return { kind: "conflict", reason: "externalId-differs", userId: user.id };
  if (how === How.Found) how = user.externalId ? How.AdoptedEqual : How.AdoptedEmpty;

  // 4. the user's attributes and lifecycle
  const userOps: PatchOperation[] = [];
  if (how === How.AdoptedEmpty) userOps.push({ op: "replace", path: "externalId", value: facts.anchor });
  if (user.active === false) {
    if (input.lifecycle === "sync") return { kind: "done", path: "inactive", record: undefined };
    userOps.push({ op: "replace", path: "active", value: true });
  }
  if (how !== How.Created) userOps.push(...attributeOps(user, facts));

  // 5. memberships
  let granted: string[];
  let current: string[] | undefined;
  if (how === How.Created) {
    granted = [];
    current = lookups.created && lookups.created !== "conflict" ? lookups.created.groupsAdded : [];
  } else if (how === How.Returning && ownState && ownState.u === user.id) {
    granted = ownState.g;
    current = user.groups ? user.groups.map((g) => g.value) : undefined;
  } else {
    // found without stored state: learn the current memberships the cheapest way
    // (an adopted user with an empty externalId holds nothing of ours: adds are idempotent, no read needed)
    if (user.groups) current = user.groups.map((g) => g.value);
    else if (how === How.AdoptedEqual && lookups.userGroups === undefined) return { kind: "read", reads: [{ kind: "userGroups", userId: user.id }] };
    else current = lookups.userGroups ?? undefined;
    // a user carrying our anchor was provisioned by this project: its managed memberships are ours
    granted = how === How.AdoptedEqual && current ? current.filter((id) => managedIds.has(id)) : [];
  }

  const desired = new Set(desiredIds);
  const have = new Set(current ?? granted);
  const adds = desiredIds.filter((id) => !have.has(id));
  let removes: string[] = [];
  if (!facts.groupsUnknown) {
    removes = granted.filter((id) => !desired.has(id) && managedIds.has(id) && (current === undefined || current.includes(id)));
    if (how === How.AdoptedEqual && current === undefined) {
      const blind = [...managedIds].filter((id) => !desired.has(id));
      if (blind.length <= MAX_TARGETED_REMOVES) removes = blind;
    }
  }
  const removed = new Set(removes);
  const keep = granted.filter((id) => !removed.has(id) && (desired.has(id) || facts.groupsUnknown || !managedIds.has(id)));
  const nextGranted = [...new Set([...keep, ...adds, ...(how === How.Created ? desiredIds.filter((id) => have.has(id)) : [])])].sort();
  const expiry = input.now + Math.round(input.ttlMs * (1 + input.ttlJitter * clamp(input.jitterSample)));
  const record: AppliedState = { v: 1, t: target, u: user.id, g: nextGranted, h: hash, x: expiry };
  const path: LoginPath = how === How.Created ? "created" : how === How.Returning ? "returning" : "adopted";

  if (userOps.length === 0 && adds.length === 0 && removes.length === 0) return { kind: "done", path, record };
  return { kind: "apply", path, userId: user.id, userOps, adds, removes, record };
}

function clamp(x: number): number {
  return Number.isFinite(x) ? Math.max(-1, Math.min(1, x)) : 0;
}
