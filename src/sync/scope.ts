/**
 * Who the sync manages (issue 4, section 2): users in at least one mapped IdP group (or every
 * user with `scope: all`), restricted by `include.users` when it is non-empty, minus
 * `exclude.users`. A user outside include/exclude is never touched, in either direction: not
 * created, not updated, not deprovisioned. Pure.
 */
import type { SyncPolicy, TargetConfig } from "../config/types.js";
import { normalizeUserName } from "../identity.js";

/** A person as the lists can name them: by email/userName or by externalId. */
export interface UserKeys {
  externalId?: string | undefined;
  userName?: string | undefined;
  email?: string | undefined;
}

function listed(list: readonly string[], who: UserKeys): boolean {
  if (list.length === 0) return false;
  const names = new Set<string>();
  if (who.userName) names.add(normalizeUserName(who.userName));
  if (who.email) names.add(normalizeUserName(who.email));
  for (const entry of list) {
    if (who.externalId !== undefined && who.externalId !== "" && entry === who.externalId) return true;
    if (names.has(normalizeUserName(entry))) return true;
  }
  return false;
}

/** named in `exclude.users` */
export function isExcludedUser(target: Pick<TargetConfig, "exclude">, who: UserKeys): boolean {
  return listed(target.exclude.users, who);
}

/** false only when `include.users` is non-empty and does not name this user */
export function isIncludedUser(target: Pick<TargetConfig, "include">, who: UserKeys): boolean {
  return target.include.users.length === 0 || listed(target.include.users, who);
}

/** include/exclude together: may the sync touch this person at all? */
export function isManageable(target: Pick<TargetConfig, "include" | "exclude">, who: UserKeys): boolean {
  return isIncludedUser(target, who) && !isExcludedUser(target, who);
}

export type ScopeDecision =
  /** managed, active, and in a mapped group (or scope all) */
  | { kind: "in" }
  /** present in the source but disabled there */
  | { kind: "disabled" }
  /** present and active, but in no mapped IdP group */
  | { kind: "no-mapped-group" }
  /** named by exclude, or left out by a non-empty include */
  | { kind: "unmanaged" };

/** The scope of a user present in the source. */
export function scopeOf(
  target: Pick<TargetConfig, "include" | "exclude">,
  scope: SyncPolicy["scope"],
  user: { id: string; email: string; active: boolean },
  matchedRules: readonly number[],
): ScopeDecision {
  if (!isManageable(target, { externalId: user.id, email: user.email })) return { kind: "unmanaged" };
  if (!user.active) return { kind: "disabled" };
  if (scope === "mapped" && matchedRules.length === 0) return { kind: "no-mapped-group" };
  return { kind: "in" };
}

/** Catalog groups the sync may change: the mapping's targets minus `exclude.groups` (case-insensitive). */
export function managedGroupNames(all: readonly string[], target: Pick<TargetConfig, "exclude">): string[] {
  const excluded = new Set(target.exclude.groups.map((g) => g.toLowerCase()));
  return all.filter((g) => !excluded.has(g.toLowerCase()));
}
