/**
 * `mapping:impact`: who would gain and lose each Catalog group if a new mapping were applied.
 * Two dry runs of the sync planner over the same inputs (the current config's source, the live
 * Catalog, the ledger), one with the current target and one with the new one; the impact is
 * what the new plan changes that the current one would not. Pure.
 */
import { managedCatalogGroups } from "../config/mapping.js";
import type { TargetConfig } from "../config/types.js";
import { planSync, type PlanInput } from "../sync/plan.js";
import type { SyncPlan } from "../sync/plan-types.js";
import { managedGroupNames } from "../sync/scope.js";

export interface GroupImpact {
  group: string;
  /** users (userName) who would become members because of the new mapping */
  gain: string[];
  /** users who would be removed because of the new mapping (only memberships this project granted) */
  lose: string[];
  /** users the new mapping no longer grants but who stay, because this project did not grant them */
  keep: string[];
  /** changes the next sync makes under either mapping (the Catalog is behind the source) */
  pending: { gain: string[]; lose: string[] };
  /** "added" / "removed" from the managed groups by the new mapping, or "managed" in both */
  status: "added" | "removed" | "managed";
}

/** The planner's inputs, with the current and the new target in place of one target. */
export interface ImpactInput extends Omit<PlanInput, "target" | "allowDeletions" | "allowRemovals"> {
  current: TargetConfig;
  next: TargetConfig;
}

export interface ImpactResult {
  target: string;
  groups: GroupImpact[];
  /** Catalog groups the new mapping names that the Catalog does not have */
  missingCatalogGroups: string[];
  /** mapped IdP groups of the new mapping that the source does not have */
  missingIdpGroups: string[];
}

const sorted = (s: Iterable<string>): string[] => [...new Set(s)].sort();

function changes(plan: SyncPlan, nameOf: (ref: { scimId: string } | { externalId: string }) => string): Map<string, { gain: Set<string>; lose: Set<string> }> {
  const out = new Map<string, { gain: Set<string>; lose: Set<string> }>();
  const at = (g: string) => out.get(g) ?? out.set(g, { gain: new Set(), lose: new Set() }).get(g)!;
  for (const op of plan.operations) {
    if (op.op === "addMembers") for (const m of op.members) at(op.groupName.toLowerCase()).gain.add(nameOf(m));
    if (op.op === "removeMembers" && op.reason === "left-group") for (const id of op.scimIds) at(op.groupName.toLowerCase()).lose.add(nameOf({ scimId: id }));
  }
  return out;
}

export function mappingImpact(input: ImpactInput): ImpactResult {
  const base = {
    policy: input.policy,
    attributes: input.attributes,
    connections: input.connections,
    ...(input.sourceConnection !== undefined ? { sourceConnection: input.sourceConnection } : {}),
    directory: input.directory,
    catalog: input.catalog,
    ledger: input.ledger,
    now: input.now,
  };
  const before = planSync({ ...base, target: input.current });
  const after = planSync({ ...base, target: input.next });

  const userName = new Map(input.catalog.users.map((u) => [u.id, u.userName]));
  const email = new Map(input.directory.users.map((d) => [d.id, d.email]));
  const nameOf = (r: { scimId: string } | { externalId: string }): string =>
    "scimId" in r ? (userName.get(r.scimId) ?? r.scimId) : (email.get(r.externalId) ?? r.externalId);
  const was = changes(before, nameOf);
  const will = changes(after, nameOf);
  const keptBefore = new Set(before.report.unmanagedMembers.map((u) => `${u.groupName.toLowerCase()}|${u.scimId}`));

  const oldGroups = managedGroupNames(managedCatalogGroups(input.current.groups), input.current);
  const newGroups = managedGroupNames(managedCatalogGroups(input.next.groups), input.next);
  const lower = (l: string[]) => new Set(l.map((g) => g.toLowerCase()));
  const oldSet = lower(oldGroups);
  const newSet = lower(newGroups);
  const display = new Map<string, string>();
  for (const g of [...oldGroups, ...newGroups]) if (!display.has(g.toLowerCase())) display.set(g.toLowerCase(), g);
  for (const g of input.catalog.groups) display.set(g.displayName.toLowerCase(), g.displayName);

  const groups: GroupImpact[] = [];
  for (const key of [...display.keys()].sort()) {
    if (!oldSet.has(key) && !newSet.has(key)) continue;
    const status = !oldSet.has(key) ? "added" : !newSet.has(key) ? "removed" : "managed";
    const w = was.get(key) ?? { gain: new Set<string>(), lose: new Set<string>() };
    const n = will.get(key) ?? { gain: new Set<string>(), lose: new Set<string>() };
    const keep = after.report.unmanagedMembers
      .filter((u) => u.groupName.toLowerCase() === key && !keptBefore.has(`${key}|${u.scimId}`))
      .map((u) => userName.get(u.scimId) ?? u.scimId);
    groups.push({
      group: display.get(key)!,
      status,
      gain: sorted([...n.gain].filter((x) => !w.gain.has(x))),
      lose: sorted([...n.lose].filter((x) => !w.lose.has(x))),
      keep: sorted(keep),
      pending: { gain: sorted([...n.gain].filter((x) => w.gain.has(x))), lose: sorted([...n.lose].filter((x) => w.lose.has(x))) },
    });
  }
  return {
    target: input.next.name,
    groups,
    missingCatalogGroups: sorted(after.report.missingCatalogGroups ?? []),
    missingIdpGroups: sorted(after.report.missingIdpGroups),
  };
}
