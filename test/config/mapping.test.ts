import { describe, expect, it } from "vitest";
import { managedCatalogGroups, normalizeDn, parseMappingKey, resolveMapping, ruleMatches, selectTarget, type IdpGroup } from "../../src/config/mapping.js";
import type { GroupMapping, MappingRule, TargetConfig } from "../../src/config/types.js";

function mapping(entries: Record<string, string | string[]>, opts: { caseInsensitive?: boolean; privileged?: string[] } = {}): GroupMapping {
  return {
    rules: Object.entries(entries).map(([k, v]) => ({ idp: parseMappingKey(k), catalogGroups: typeof v === "string" ? [v] : v })),
    caseInsensitive: opts.caseInsensitive ?? true,
    privileged: opts.privileged ?? [],
  };
}
const named = (...names: string[]): IdpGroup[] => names.map((name) => ({ name }));

const DESIGN = mapping({
  "data-platform-engineers": "catalog-admins",
  "it-admins": "catalog-admins",
  "analysts-finance": "finance-readers",
  "analysts-marketing": "mkt-readers",
  "data-governance-leads": "data-stewards",
});

describe("parseMappingKey", () => {
  it.each([
    ["analysts", { kind: "any", value: "analysts" }],
    ["id:7c0f9a9e", { kind: "id", value: "7c0f9a9e" }],
    ["dn:CN=A,DC=x", { kind: "dn", value: "CN=A,DC=x" }],
    ["name:analysts", { kind: "name", value: "analysts" }],
    ["group:with-colon", { kind: "any", value: "group:with-colon" }],
  ])("%s", (key, ref) => {
    expect(parseMappingKey(key)).toEqual(ref);
  });
});

describe("resolveMapping", () => {
  it("many-to-one: two IdP groups give one Catalog group once", () => {
    expect(resolveMapping(DESIGN, named("data-platform-engineers", "it-admins"))).toEqual({ catalogGroups: ["catalog-admins"], matchedRules: [0, 1] });
  });

  it("many-to-one: losing one of the two IdP groups keeps the Catalog group", () => {
    expect(resolveMapping(DESIGN, named("it-admins")).catalogGroups).toEqual(["catalog-admins"]);
  });

  it("one-to-many: a list grants every Catalog group, sorted", () => {
    const m = mapping({ "analysts-finance": ["reporting", "finance-readers"] });
    expect(resolveMapping(m, named("analysts-finance")).catalogGroups).toEqual(["finance-readers", "reporting"]);
  });

  it("unmapped IdP groups grant nothing", () => {
    expect(resolveMapping(DESIGN, named("all-staff", "contractors"))).toEqual({ catalogGroups: [], matchedRules: [] });
  });

  it("matches names case-insensitively by default", () => {
    expect(resolveMapping(DESIGN, named("Analysts-Finance")).catalogGroups).toEqual(["finance-readers"]);
  });

  it("case-sensitive when caseInsensitive is off", () => {
    const m = mapping({ "analysts-finance": "finance-readers" }, { caseInsensitive: false });
    expect(resolveMapping(m, named("Analysts-Finance")).catalogGroups).toEqual([]);
    expect(resolveMapping(m, named("analysts-finance")).catalogGroups).toEqual(["finance-readers"]);
  });

  it("a bare key matches by id as well as by name", () => {
    const m = mapping({ "3f2b8c9e-5d41-4a7e-9b0c-1e2d3c4b5a69": "finance-readers" });
    expect(resolveMapping(m, [{ id: "3f2b8c9e-5d41-4a7e-9b0c-1e2d3c4b5a69" }]).catalogGroups).toEqual(["finance-readers"]);
    expect(resolveMapping(DESIGN, [{ id: "x", name: "analysts-marketing" }]).catalogGroups).toEqual(["mkt-readers"]);
  });

  it("ids compare exactly, even when names ignore case", () => {
    const m = mapping({ "id:AbC": "g" });
    expect(resolveMapping(m, [{ id: "abc" }]).catalogGroups).toEqual([]);
    expect(resolveMapping(m, [{ id: "AbC" }]).catalogGroups).toEqual(["g"]);
  });

  it("explicit forms narrow the match", () => {
    const byId = mapping({ "id:analysts": "g" });
    expect(resolveMapping(byId, named("analysts")).catalogGroups).toEqual([]);
    const byName = mapping({ "name:1234": "g" });
    expect(resolveMapping(byName, [{ id: "1234" }]).catalogGroups).toEqual([]);
    expect(resolveMapping(byName, [{ name: "1234" }]).catalogGroups).toEqual(["g"]);
    const byDn = mapping({ "dn:cn=a,dc=x": "g" });
    expect(resolveMapping(byDn, named("cn=a,dc=x")).catalogGroups).toEqual([]);
  });

  it("DNs compare after normalising spaces around separators and case", () => {
    const m = mapping({ "dn:CN=Catalog Admins, OU=Groups ,DC=example,DC=com": "g" });
    expect(resolveMapping(m, [{ dn: "cn=catalog admins,ou=groups,dc=example,dc=com" }]).catalogGroups).toEqual(["g"]);
    expect(resolveMapping(m, [{ dn: "CN = Catalog Admins,OU=Groups,DC=example,DC=com" }]).catalogGroups).toEqual(["g"]);
    expect(resolveMapping(m, [{ dn: "cn=catalogadmins,ou=groups,dc=example,dc=com" }]).catalogGroups).toEqual([]);
    const cs = { ...m, caseInsensitive: false };
    expect(resolveMapping(cs, [{ dn: "cn=catalog admins,ou=groups,dc=example,dc=com" }]).catalogGroups).toEqual([]);
  });

  it("normalizeDn keeps escaped separators", () => {
    expect(normalizeDn("CN=Smith\\, John , OU=People", true)).toBe("cn=smith\\, john,ou=people");
  });

  it("Google Workspace groups match by email, name or id", () => {
    const g = { id: "03x8tuzt1a2b3c4", email: "Finance@Example.com", name: "Finance team" };
    expect(resolveMapping(mapping({ "finance@example.com": "f" }), [g]).catalogGroups).toEqual(["f"]);
    expect(resolveMapping(mapping({ "Finance team": "f" }), [g]).catalogGroups).toEqual(["f"]);
    expect(resolveMapping(mapping({ "id:03x8tuzt1a2b3c4": "f" }), [g]).catalogGroups).toEqual(["f"]);
  });

  it("privileged Catalog groups are refused to bare and name: keys (defence in depth)", () => {
    const m = mapping(
      { "it-admins": ["catalog-admins", "readers"], "name:ops": "catalog-admins", "id:42": "catalog-admins", "dn:cn=admins,dc=x": "catalog-admins" },
      { privileged: ["Catalog-Admins"] },
    );
    expect(resolveMapping(m, named("it-admins", "ops"))).toEqual({ catalogGroups: ["readers"], matchedRules: [0] });
    expect(resolveMapping(m, [{ id: "42", name: "whatever" }]).catalogGroups).toEqual(["catalog-admins"]);
    expect(resolveMapping(m, [{ dn: "CN=Admins,DC=x" }]).catalogGroups).toEqual(["catalog-admins"]);
  });
});

describe("ruleMatches", () => {
  it("a rule without any usable group field matches nothing", () => {
    const rule: MappingRule = { idp: { kind: "any", value: "a" }, catalogGroups: ["g"] };
    expect(ruleMatches(rule, {}, true)).toBe(false);
    expect(ruleMatches(rule, { name: "A" }, true)).toBe(true);
    expect(ruleMatches(rule, { name: "A" }, false)).toBe(false);
  });
});

describe("managedCatalogGroups", () => {
  it("lists every Catalog group the mapping can grant, sorted and unique", () => {
    expect(managedCatalogGroups(DESIGN)).toEqual(["catalog-admins", "data-stewards", "finance-readers", "mkt-readers"]);
  });
});

describe("selectTarget", () => {
  const t = (name: string, connections: string[] = [], organizations: string[] = []): TargetConfig => ({
    name,
    match: { connections, organizations },
    catalog: { urlSecret: "U", apiKeySecret: "K", apiKeyNextSecret: "K_NEXT" },
    domains: [],
    groups: mapping({}),
    exclude: { users: [], groups: [] },
    include: { users: [] },
  });

  it("the shorthand target matches every enterprise strategy, not social or database logins", () => {
    const config = { targets: [t("default")] };
    for (const strategy of ["samlp", "waad", "okta", "oidc", "google-apps", "adfs", "pingfederate"]) {
      expect(selectTarget(config, { connection: "c", strategy })?.name).toBe("default");
    }
    expect(selectTarget(config, { connection: "Username-Password-Authentication", strategy: "auth0" })).toBeUndefined();
    expect(selectTarget(config, { connection: "google-oauth2", strategy: "google-oauth2" })).toBeUndefined();
  });

  const config = { targets: [t("acme", ["acme-entra"]), t("globex", ["globex-okta"], ["org_globex"]), t("initech", [], ["org_initech"])] };

  it("by connection", () => {
    expect(selectTarget(config, { connection: "acme-entra", strategy: "waad" })?.name).toBe("acme");
  });

  it("by connection and organization: both must match", () => {
    expect(selectTarget(config, { connection: "globex-okta", strategy: "okta", organization: "org_globex" })?.name).toBe("globex");
    expect(selectTarget(config, { connection: "globex-okta", strategy: "okta" })).toBeUndefined();
    expect(selectTarget(config, { connection: "globex-okta", strategy: "okta", organization: "org_other" })).toBeUndefined();
  });

  it("by organization alone", () => {
    expect(selectTarget(config, { connection: "any", strategy: "samlp", organization: "org_initech" })?.name).toBe("initech");
  });

  it("no match", () => {
    expect(selectTarget(config, { connection: "unknown", strategy: "samlp" })).toBeUndefined();
  });
});
