import { describe, expect, it } from "vitest";
import { extractAnchor } from "../../src/claims/anchor.js";
import { mapAttributes } from "../../src/claims/profile.js";

describe("anchor per connection", () => {
  it("takes the identity user_id of the login connection as is", () => {
    const user = {
      user_id: "samlp|acme|abc",
      identities: [
        { connection: "other", user_id: "zzz" },
        { connection: "acme", user_id: "acme-user-7" },
      ],
    };
    expect(extractAnchor(user, "acme")).toBe("acme-user-7");
  });

  it("strips the provider prefix of user.user_id when no identity matches", () => {
    expect(extractAnchor({ user_id: "samlp|acme|abc", identities: [] }, "acme")).toBe("acme|abc");
  });

  it("reads a configured attribute such as oid and canonicalises the GUID", () => {
    const user = { user_id: "oidc|entra|pairwise-sub", oid: "{6F9619FF-8B86-D011-B42D-00C04FC964FF}" };
    expect(extractAnchor(user, "entra", "oid")).toBe("6f9619ff-8b86-d011-b42d-00c04fc964ff");
  });

  it("turns a base64 ImmutableID into the same GUID as the sync writes", () => {
    expect(extractAnchor({ user_id: "x", objectGUID: "/xmWb4aLEdC0LQDAT8lk/w==" }, "ad", "objectGUID")).toBe(
      "6f9619ff-8b86-d011-b42d-00c04fc964ff",
    );
  });

  it("never anchors on the pairwise OIDC sub", () => {
    expect(extractAnchor({ user_id: "oidc|x|y", sub: "pairwise" }, "x", "sub")).toBeUndefined();
  });

  it("returns undefined when the configured attribute is absent", () => {
    expect(extractAnchor({ user_id: "oidc|x|y" }, "x", "oid")).toBeUndefined();
  });
});

describe("attribute mapping", () => {
  it("maps the Auth0 profile to SCIM attributes with defaults", () => {
    const a = mapAttributes({ email: "Ada@Acme.com", given_name: "Ada", family_name: "Lovelace" });
    expect(a).toEqual({ userName: "Ada@Acme.com", email: "Ada@Acme.com", givenName: "Ada", familyName: "Lovelace", displayName: "Ada Lovelace" });
  });

  it("reads a profile key when the mapping names one", () => {
    const a = mapAttributes({ email: "a@acme.com", upn: "ada@corp.acme.com" }, {
      userName: "upn", email: "email", givenName: "givenName", familyName: "familyName", displayName: "displayName",
    });
    expect(a.userName).toBe("ada@corp.acme.com");
  });
});
