/**
 * Safety guards (issue 4, section 6). Evaluated by the planner, enforced by the CLI before any
 * write: a short or empty source read, a vanished mapped IdP group, too many deactivations and
 * deletes, too many membership removals. Pure: they throw, they never write.
 */
import type { SyncPolicy, TargetConfig } from "../config/types.js";
import { ProvisioningError } from "../errors.js";
import { missingMappedGroups } from "./desired.js";
import type { SourceRead } from "./directory.js";
import type { GuardResult, SyncOperation, SyncPlan } from "./plan-types.js";

/** max(min, ratio × base), rounded down: a count above it trips the guard */
export function guardLimit(min: number, ratio: number, base: number): number {
  return Math.max(min, Math.floor(ratio * base));
}

function guard(
  kind: GuardResult["guard"],
  count: number,
  conf: { min: number; ratio: number },
  base: number,
  allowed: number | undefined,
  group?: string,
): GuardResult {
  const limit = guardLimit(conf.min, conf.ratio, base);
  const over = count > limit;
  const r: GuardResult = { guard: kind, count, limit, base, min: conf.min, ratio: conf.ratio, tripped: over && !(allowed !== undefined && allowed >= count) };
  if (group !== undefined) r.group = group;
  if (allowed !== undefined) r.allowed = allowed;
  return r;
}

export interface GuardInput {
  operations: readonly SyncOperation[];
  policy: Pick<SyncPolicy, "guards">;
  /** owned users of this target (the deletion guard's base) */
  ownedUsers: number;
  /** granted memberships per managed Catalog group id (the removal guards' base) */
  grantedByGroup: ReadonlyMap<string, number>;
  allowDeletions?: number | undefined;
  allowRemovals?: number | undefined;
}

/**
 * The deletion guard (deactivations + deletes against owned users) and the removal guards
 * (per group, and in total, against granted memberships). Removals caused by a deactivation
 * (`reason: "deprovision"`) count under the deletion guard only. Always returns the deletion
 * and total-removal results, and one result per group that loses members.
 */
export function evaluateGuards(input: GuardInput): GuardResult[] {
  const g = input.policy.guards;
  const deletions = input.operations.filter((o) => o.op === "deactivateUser" || o.op === "deleteUser").length;
  const out: GuardResult[] = [guard("deletions", deletions, g.deletions, input.ownedUsers, input.allowDeletions)];
  const perGroup = new Map<string, { name: string; count: number }>();
  for (const o of input.operations) {
    if (o.op !== "removeMembers" || o.reason !== "left-group") continue;
    const cur = perGroup.get(o.groupId) ?? { name: o.groupName, count: 0 };
    cur.count += o.scimIds.length;
    perGroup.set(o.groupId, cur);
  }
  let total = 0;
  for (const [id, { name, count }] of [...perGroup].sort((a, b) => (a[1].name < b[1].name ? -1 : a[1].name > b[1].name ? 1 : 0))) {
    total += count;
    out.push(guard("groupRemovals", count, g.groupRemovals, input.grantedByGroup.get(id) ?? 0, input.allowRemovals, name));
  }
  let totalGranted = 0;
  for (const n of input.grantedByGroup.values()) totalGranted += n;
  out.push(guard("totalRemovals", total, g.totalRemovals, totalGranted, input.allowRemovals));
  return out;
}

function pct(ratio: number | undefined): string {
  return `${Math.round((ratio ?? 0) * 1000) / 10} %`;
}

function describe(r: GuardResult): string {
  const allowed = r.allowed !== undefined ? `, "--allow-${r.guard === "deletions" ? "deletions" : "removals"} ${r.allowed}" is not enough` : "";
  switch (r.guard) {
    case "deletions":
      return `${r.count} deactivations and deletes exceed the limit of ${r.limit} (max(${r.min}, ${pct(r.ratio)} of ${r.base} owned users)${allowed})`;
    case "groupRemovals":
      return `${r.count} membership removals from "${r.group}" exceed the limit of ${r.limit} (max(${r.min}, ${pct(r.ratio)} of ${r.base} managed members)${allowed})`;
    case "totalRemovals":
      return `${r.count} membership removals in total exceed the limit of ${r.limit} (max(${r.min}, ${pct(r.ratio)} of ${r.base} managed memberships)${allowed})`;
  }
}

/**
 * Throws when the plan must not be applied: a mapped IdP group vanished (SYNC_SOURCE_INCOMPLETE,
 * exit 5), the deletion guard tripped (SYNC_GUARD_DELETIONS, exit 3) or a removal guard tripped
 * (SYNC_GUARD_REMOVALS, exit 3). The message says what tripped, the numbers, and the override.
 */
export function enforceGuards(plan: SyncPlan): void {
  if (plan.report.missingIdpGroups.length > 0) {
    throw missingGroupsError(plan.target, plan.report.missingIdpGroups);
  }
  const tripped = plan.guards.filter((g) => g.tripped);
  if (tripped.length === 0) return;
  const del = tripped.find((g) => g.guard === "deletions");
  const rem = tripped.filter((g) => g.guard !== "deletions");
  const parts = tripped.map(describe);
  const hints: string[] = [];
  if (del) hints.push(`"--allow-deletions ${del.count}"`);
  if (rem.length > 0) {
    const needed = Math.max(...plan.guards.filter((g) => g.guard === "totalRemovals").map((g) => g.count), ...rem.map((g) => g.count));
    hints.push(`"--allow-removals ${needed}"`);
  }
  const hint = `review the plan with "--dry-run", then rerun with ${hints.join(" and ")} if it is intended`;
  throw new ProvisioningError(del ? "SYNC_GUARD_DELETIONS" : "SYNC_GUARD_REMOVALS", `refusing to apply the plan for target "${plan.target}": ${parts.join("; ")}; ${hint}`, {
    hint,
    details: { guards: tripped },
  });
}

function missingGroupsError(target: string, missing: readonly string[]): ProvisioningError {
  const hint = `if the group was renamed, update the mapping; if it is gone on purpose, list it under "sync.guards.allowMissingGroups"`;
  return new ProvisioningError(
    "SYNC_SOURCE_INCOMPLETE",
    `mapped IdP group${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} of target "${target}" not found in the source; nothing was written (${hint})`,
    { hint, details: { missingIdpGroups: [...missing] } },
  );
}

/**
 * Aborts before any write (SYNC_SOURCE_INCOMPLETE, exit 5) when the source read is known to be
 * short, returned no users, or no longer contains a mapped IdP group (unless allowed in
 * `sync.guards.allowMissingGroups`). A failed read never means "everyone left".
 */
export function checkSourceRead(read: SourceRead, target: TargetConfig, policy?: Pick<SyncPolicy, "guards">): void {
  if (!read.complete) {
    throw new ProvisioningError(
      "SYNC_SOURCE_INCOMPLETE",
      `source read is incomplete${read.incompleteReason ? `: ${read.incompleteReason}` : ""}; nothing was written`,
      { details: { fingerprint: read.fingerprint } },
    );
  }
  if (read.directory.users.length === 0) {
    throw new ProvisioningError("SYNC_SOURCE_INCOMPLETE", "source returned no users; refusing to treat that as everyone leaving, nothing was written", {
      details: { fingerprint: read.fingerprint },
    });
  }
  const missing = missingMappedGroups(target.groups, read.directory, policy?.guards.allowMissingGroups ?? []);
  if (missing.length > 0) throw missingGroupsError(target.name, missing);
}
