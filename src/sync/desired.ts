/**
 * Desired state from the directory: which Catalog groups each user should be in (mapping
 * applied per user: many-to-one keeps a membership while any source group maps to it,
 * one-to-many grants several), and which mapped IdP groups the source no longer has. Pure.
 */
import { formatMappingKey, isStrongRef, ruleMatches, type IdpGroup } from "../config/mapping.js";
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

/** per mapping: each directory group's matching rule indices, computed once per group */
const rulesByGroup = new WeakMap<GroupMapping, WeakMap<DirectoryGroup, { id: string; name: string; dn: string | undefined; rules: readonly number[] }>>();

function matchingRules(mapping: GroupMapping, group: DirectoryGroup): readonly number[] {
  let cache = rulesByGroup.get(mapping);
  if (!cache) rulesByGroup.set(mapping, (cache = new WeakMap()));
  const hit = cache.get(group);
  // keyed by the object, checked against what matching reads (a caller may change a group between plans)
  if (hit && hit.id === group.id && hit.name === group.name && hit.dn === group.dn) return hit.rules;
  const idp = toIdpGroup(group);
  const rules: number[] = [];
  mapping.rules.forEach((rule, index) => {
    if (ruleMatches(rule, idp, mapping.caseInsensitive)) rules.push(index);
  });
  cache.set(group, { id: group.id, name: group.name, dn: group.dn, rules });
  return rules;
}

/**
 * The mapping applied to one user's directory groups: the same result as `resolveMapping`
 * (rules in file order, a privileged Catalog group only through an `id:` or `dn:` rule), with
 * each group's matching rules computed once per run rather than every rule tried per user
 * (users × rules is 10⁸ at 100,000 users and 1,000 rules).
 */
export function desiredMembership(mapping: GroupMapping, groups: readonly DirectoryGroup[]): DesiredMembership {
  return membershipFromRules(
    mapping,
    groups.map((g) => matchingRules(mapping, g)),
  );
}

/** the mapping's rule indices that match a directory group (cached per group object) */
export function groupRules(mapping: GroupMapping, group: DirectoryGroup): readonly number[] {
  return matchingRules(mapping, group);
}

/** the privileged Catalog groups of a mapping, lowercased, or undefined when there are none */
export function privilegedGroups(mapping: GroupMapping): ReadonlySet<string> | undefined {
  return mapping.privileged.length > 0 ? new Set(mapping.privileged.map((g) => g.toLowerCase())) : undefined;
}

/** ascending, each value once (in place) */
function sortUnique<T extends number | string>(xs: T[], order?: (a: T, b: T) => number): T[] {
  if (xs.length < 2) return xs;
  xs.sort(order);
  let n = 1;
  for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[n - 1]) xs[n++] = xs[i]!;
  xs.length = n;
  return xs;
}

const byNumber = (a: number, b: number): number => a - b;

/**
 * {@link desiredMembership} from the matching rules of each of the user's groups (see
 * {@link groupRules}), with the privileged groups computed once by the caller: the same
 * result, built from short arrays (no Set per user).
 */
export function membershipFromRules(
  mapping: GroupMapping,
  ruleLists: readonly (readonly number[])[],
  privileged: ReadonlySet<string> | undefined = privilegedGroups(mapping),
): DesiredMembership {
  const matched: number[] = [];
  for (const rules of ruleLists) for (const i of rules) matched.push(i);
  sortUnique(matched, byNumber);
  const granted: string[] = [];
  const matchedRules: number[] = [];
  for (const index of matched) {
    const rule = mapping.rules[index]!;
    let any = false;
    for (const cg of rule.catalogGroups) {
      if (privileged?.has(cg.toLowerCase()) && !isStrongRef(rule.idp)) continue;
      granted.push(cg);
      any = true;
    }
    if (any) matchedRules.push(index);
  }
  return { catalogGroups: sortUnique(granted), matchedRules };
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
