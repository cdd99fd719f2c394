import { describe, expect, it } from "vitest";
import { extractGroups, SAML_GROUPS_CLAIM, SAML_GROUP_CLAIM } from "../../src/claims/groups.js";

const names = (c: ReturnType<typeof extractGroups>) => c.groups.map((g) => g.name ?? g.id ?? g.email);

describe("groups per strategy", () => {
  it("reads a single-valued SAML attribute that arrives as a string", () => {
    const user = { user_id: "samlp|acme|u1", [SAML_GROUP_CLAIM]: "Data Stewards" };
    const c = extractGroups(user, "samlp");
    expect(names(c)).toEqual(["Data Stewards"]);
    expect(c.source).toBe(SAML_GROUP_CLAIM);
    expect(c.unknown).toBe(false);
  });

  it("reads the Entra SAML groups URI as an array", () => {
    const c = extractGroups({ [SAML_GROUPS_CLAIM]: ["Finance", "Analysts"] }, "samlp");
    expect(names(c)).toEqual(["Finance", "Analysts"]);
  });

  it("splits an Okta comma string by default", () => {
    const c = extractGroups({ federated_groups: "Everyone,Data Analysts, Finance " }, "okta");
    expect(names(c)).toEqual(["Everyone", "Data Analysts", "Finance"]);
    expect(c.source).toBe("federated_groups");
  });

  it("does not split a group name containing a comma on samlp", () => {
    const c = extractGroups({ groups: "Sales, EMEA" }, "samlp");
    expect(names(c)).toEqual(["Sales, EMEA"]);
  });

  it("splits on a non-okta connection only when configured", () => {
    expect(names(extractGroups({ groups: "A,B" }, "oidc", { splitGroups: true }))).toEqual(["A", "B"]);
    expect(names(extractGroups({ groups: "A,B" }, "okta", { splitGroups: false }))).toEqual(["A,B"]);
  });

  it("keeps id, email and name of Google extended group objects", () => {
    const c = extractGroups(
      { groups: [{ id: "03x7alh81abcd", email: "data-team@acme.com", name: "Data Team" }] },
      "google-apps",
    );
    expect(c.groups).toEqual([{ id: "03x7alh81abcd", email: "data-team@acme.com", name: "Data Team" }]);
  });

  it("canonicalises Entra object ids in group_ids", () => {
    const c = extractGroups({ group_ids: ["6F9619FF-8B86-D011-B42D-00C04FC964FF"] }, "samlp");
    expect(c.groups[0]!.id).toBe("6f9619ff-8b86-d011-b42d-00c04fc964ff");
  });

  it("reads the ADFS Group key", () => {
    expect(names(extractGroups({ Group: ["Domain Users", "Catalog Editors"] }, "adfs"))).toEqual([
      "Domain Users",
      "Catalog Editors",
    ]);
  });

  it("honours a per-connection claim override and ignores the default keys", () => {
    const user = { groups: ["Ignored"], memberOf: ["CN=Analysts,OU=Groups,DC=acme,DC=com"] };
    const c = extractGroups(user, "samlp", { groupsClaim: "memberOf" });
    expect(c.groups).toEqual([{ dn: "CN=Analysts,OU=Groups,DC=acme,DC=com", name: "CN=Analysts,OU=Groups,DC=acme,DC=com" }]);
  });

  it("returns no groups and a known list when the claim is missing", () => {
    const c = extractGroups({ user_id: "x", email: "a@b.c" }, "samlp");
    expect(c.groups).toEqual([]);
    expect(c.unknown).toBe(false);
    expect(c.source).toBeUndefined();
  });

  it("ignores non-string junk", () => {
    const c = extractGroups({ groups: [42, null, "", "  ", { foo: 1 }, ["nested"], true, "Real", "Real"] }, "oidc");
    expect(names(c)).toEqual(["Real"]);
  });

  it("handles 1,000 groups", () => {
    const list = Array.from({ length: 1000 }, (_, i) => `group-${i}`);
    const c = extractGroups({ groups: list }, "waad");
    expect(c.groups).toHaveLength(1000);
    expect(c.unknown).toBe(false);
  });
});

describe("groups unknown: add, never remove", () => {
  it("flags Entra overage from claim sources", () => {
    const c = extractGroups(
      { _claim_names: { groups: "src1" }, _claim_sources: { src1: { endpoint: "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } } },
      "oidc",
    );
    expect(c.unknown).toBe(true);
    expect(c.unknownReason).toBe("overage");
  });

  it("flags Entra overage from hasgroups", () => {
    expect(extractGroups({ hasgroups: "true" }, "oidc").unknown).toBe(true);
  });

  it("flags an Entra SAML list at its cap of 150", () => {
    const list = Array.from({ length: 150 }, (_, i) => `g${i}`);
    const c = extractGroups({ [SAML_GROUPS_CLAIM]: list }, "samlp");
    expect(c.unknown).toBe(true);
    expect(c.unknownReason).toBe("cap");
    expect(extractGroups({ [SAML_GROUPS_CLAIM]: list.slice(1) }, "samlp").unknown).toBe(false);
  });

  it("flags a Google list at 200 and a connection's own cap", () => {
    const list = Array.from({ length: 200 }, (_, i) => ({ id: `id${i}`, name: `n${i}` }));
    expect(extractGroups({ groups: list }, "google-apps").unknown).toBe(true);
    expect(extractGroups({ groups: ["a", "b", "c"] }, "okta", { groupsCap: 3 }).unknown).toBe(true);
  });
});
