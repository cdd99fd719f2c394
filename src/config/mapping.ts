/**
 * Group mapping resolution: IdP groups → Catalog groups. Pure (no node:*), small: the
 * Post-Login Action bundle imports it.
 */
import { ENTERPRISE_STRATEGIES, type GroupMapping, type IdpGroupRef, type MappingRule, type ProvisioningConfig, type TargetConfig } from "./types.js";

/** An IdP group as a login or a source presents it; any subset of the fields may be known. */
export interface IdpGroup {
  id?: string;
  name?: string;
  dn?: string;
  /** Google Workspace groups are identified by email */
  email?: string;
}

/** `id:…`, `dn:…`, `name:…` narrow the match; a bare key matches name, id, DN or email. */
export function parseMappingKey(key: string): IdpGroupRef {
  const m = /^(id|dn|name):(.*)$/s.exec(key);
  if (m) {
    const value = m[2]!.trim();
    return { kind: m[1] as "id" | "dn" | "name", value };
  }
  return { kind: "any", value: key.trim() };
}

/** the mapping key written back from a parsed ref */
export function formatMappingKey(ref: IdpGroupRef): string {
  return ref.kind === "any" ? ref.value : `${ref.kind}:${ref.value}`;
}

/**
 * Normalise a distinguished name for comparison: no spaces around `,`, `=` and `+`
 * (escaped characters kept as they are), lowercase when `caseInsensitive`.
 */
export function normalizeDn(dn: string, caseInsensitive: boolean): string {
  // an escaped pair (`\,`) is kept; spaces around an unescaped separator are dropped
  const out = dn.trim().replace(/(\\[^])| *([,=+]) */g, (_, escaped: string | undefined, separator: string) => escaped ?? separator);
  return caseInsensitive ? out.toLowerCase() : out;
}

function eqText(a: string | undefined, b: string, caseInsensitive: boolean): boolean {
  if (a === undefined) return false;
  return caseInsensitive ? a.toLowerCase() === b.toLowerCase() : a === b;
}

function eqDn(a: string | undefined, b: string, caseInsensitive: boolean): boolean {
  if (a === undefined) return false;
  return normalizeDn(a, caseInsensitive) === normalizeDn(b, caseInsensitive);
}

/** Does one rule match one IdP group? Ids compare exactly; names, DNs and emails per `caseInsensitive` (emails always ignore case). */
export function ruleMatches(rule: MappingRule, group: IdpGroup, caseInsensitive: boolean): boolean {
  const v = rule.idp.value;
  switch (rule.idp.kind) {
    case "id":
      return group.id !== undefined && group.id === v;
    case "dn":
      return eqDn(group.dn, v, caseInsensitive);
    case "name":
      return eqText(group.name, v, caseInsensitive);
    case "any":
      return (
        (group.id !== undefined && group.id === v) ||
        eqText(group.name, v, caseInsensitive) ||
        eqText(group.email, v, true) ||
        eqDn(group.dn, v, caseInsensitive)
      );
  }
}

/** true when the rule's key kind may grant a privileged Catalog group (only `id:` and `dn:`) */
export function isStrongRef(ref: IdpGroupRef): boolean {
  return ref.kind === "id" || ref.kind === "dn";
}

/**
 * The Catalog groups a set of IdP groups maps to: sorted, de-duplicated. A privileged Catalog
 * group is granted only through an `id:` or `dn:` rule, even if a weaker rule slipped past the
 * loader. `matchedRules` are the indices of the rules that granted something.
 */
export function resolveMapping(mapping: GroupMapping, groups: readonly IdpGroup[]): { catalogGroups: string[]; matchedRules: number[] } {
  const privileged = new Set(mapping.privileged.map((g) => g.toLowerCase()));
  const granted = new Set<string>();
  const matchedRules: number[] = [];
  mapping.rules.forEach((rule, index) => {
    if (!groups.some((g) => ruleMatches(rule, g, mapping.caseInsensitive))) return;
    let any = false;
    for (const cg of rule.catalogGroups) {
      if (privileged.has(cg.toLowerCase()) && !isStrongRef(rule.idp)) continue;
      granted.add(cg);
      any = true;
    }
    if (any) matchedRules.push(index);
  });
  return { catalogGroups: [...granted].sort(), matchedRules };
}

/** Every Catalog group the mapping may grant: the only groups whose membership is ever changed. */
export function managedCatalogGroups(mapping: GroupMapping): string[] {
  const all = new Set<string>();
  for (const rule of mapping.rules) for (const cg of rule.catalogGroups) all.add(cg);
  return [...all].sort();
}

/**
 * The target a login belongs to, first match in file order. A target without `connections`
 * and `organizations` (the shorthand form) matches every enterprise strategy (any login when
 * the strategy is not given). Otherwise the listed connection and/or organization must match;
 * with both listed, both must.
 */
export function selectTarget(
  config: Pick<ProvisioningConfig, "targets">,
  login: { connection?: string; strategy?: string; organization?: string },
): TargetConfig | undefined {
  for (const target of config.targets) {
    const { connections, organizations } = target.match;
    if (connections.length === 0 && organizations.length === 0) {
      if (login.strategy === undefined || (ENTERPRISE_STRATEGIES as readonly string[]).includes(login.strategy)) return target;
      continue;
    }
    const connOk = connections.length === 0 || (login.connection !== undefined && connections.includes(login.connection));
    const orgOk = organizations.length === 0 || (login.organization !== undefined && organizations.includes(login.organization));
    if (connOk && orgOk) return target;
  }
  return undefined;
}
