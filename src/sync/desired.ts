/**
 * Desired state from the directory: which Catalog groups each user should be in (mapping
 * applied per user: many-to-one keeps a membership while any source group maps to it,
 * one-to-many grants several), and which mapped IdP groups the source no longer has. Pure.
 */
import { formatMappingKey, resolveMapping, ruleMatches, type IdpGroup } from "../config/mapping.js";
import type { GroupMapping } from "../config/types.js";
import type { Directory, DirectoryGroup } from "./directory.js";

export function toIdpGroup(g: DirectoryGroup): IdpGroup {
  const out: IdpGroup = { id: g.id, name: g.name };
  if (g.dn !== undefined) out.dn = g.dn;
  return out;
}

/** user id → the directory groups that list it as a member */
export function groupsByUser(directory: Directory): Map<string, DirectoryGroup[]> {
  const out = new Map<string, DirectoryGroup[]>();
  for (const g of directory.groups) {
    for (const m of new Set(g.members)) {
      const list = out.get(m);
      if (list) list.push(g);
      else out.set(m, [g]);
    }
  }
  return out;
}

export interface DesiredMembership {
  /** Catalog group displayNames, sorted */
  catalogGroups: string[];
  /** indices of the mapping rules that matched */
  matchedRules: number[];
}

/** the mapping applied to one user's directory groups */
export function desiredMembership(mapping: GroupMapping, groups: readonly DirectoryGroup[]): DesiredMembership {
  return resolveMapping(mapping, groups.map(toIdpGroup));
}

/** the mapping key of a rule, as written in the config */
export function ruleKey(mapping: GroupMapping, index: number): string {
  return formatMappingKey(mapping.rules[index]!.idp);
}

/**
 * Mapped IdP groups that no group of the source matches, as their mapping keys, minus those
 * listed in `allowMissing` (compared with the key as written or its bare value).
 */
export function missingMappedGroups(mapping: GroupMapping, directory: Directory, allowMissing: readonly string[] = []): string[] {
  const allowed = new Set(allowMissing.map((k) => k.trim()));
  const groups = directory.groups.map(toIdpGroup);
  const missing = new Set<string>();
  for (const rule of mapping.rules) {
    if (groups.some((g) => ruleMatches(rule, g, mapping.caseInsensitive))) continue;
    const key = formatMappingKey(rule.idp);
    if (allowed.has(key) || allowed.has(rule.idp.value)) continue;
    missing.add(key);
  }
  return [...missing].sort();
}
