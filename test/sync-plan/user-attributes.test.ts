import { describe, expect, it } from "vitest";
import { SCHEMA_USER } from "../../src/scim/types.js";
import { desiredScimUser, userPatch } from "../../src/user-attributes.js";
import { attributes, user } from "./builders.js";

describe("desiredScimUser (RFC 7643 §4.1 User attributes)", () => {
  it("userName = email, externalId = directory id, names, displayName, one primary work email, active", () => {
    expect(desiredScimUser(user("alice"), attributes)).toEqual({
      schemas: [SCHEMA_USER],
      userName: "alice@example.com",
      externalId: "alice",
      name: { givenName: "Alice", familyName: "Doe" },
      displayName: "Alice Doe",
      emails: [{ value: "alice@example.com", type: "work", primary: true }],
      active: true,
    });
  });

  it("displayName falls back to the joined names; absent names are left out", () => {
    const u = desiredScimUser({ id: "x", email: "x@example.com", givenName: "Xi", active: false }, attributes);
    expect(u.displayName).toBe("Xi");
    expect(u.name).toEqual({ givenName: "Xi" });
    expect(u.active).toBe(false);
  });

  it("follows the attribute mapping", () => {
    const u = desiredScimUser(user("alice", { displayName: "A. Doe" }), { ...attributes, displayName: "givenName" });
    expect(u.displayName).toBe("Alice");
  });

  it("rejects a user without an email", () => {
    expect(() => desiredScimUser({ id: "x", email: " ", active: true }, attributes)).toThrow(TypeError);
  });
});

describe("userPatch (RFC 7644 §3.5.2 Modifying with PATCH)", () => {
  const desired = desiredScimUser(user("alice"), attributes);
  const current = { userName: "alice@example.com", externalId: "alice", name: { givenName: "Alice", familyName: "Doe" }, displayName: "Alice Doe", emails: [{ value: "alice@example.com", type: "work", primary: true }], active: false };

  it("nothing differs: no operation (and active is never patched here)", () => {
    expect(userPatch(current, desired)).toEqual([]);
  });

  it("a case-only userName difference is not a change", () => {
    expect(userPatch({ ...current, userName: "ALICE@EXAMPLE.COM" }, desired)).toEqual([]);
  });

  it("a case-only email difference is applied to the email value only", () => {
    expect(userPatch({ ...current, userName: "Alice@example.com", emails: [{ value: "Alice@example.com", type: "work" }] }, desired)).toEqual([
      { op: "replace", path: 'emails[type eq "work"].value', value: "alice@example.com" },
    ]);
  });

  it("an empty externalId is set; names and displayName are replaced attribute by attribute", () => {
    expect(userPatch({ ...current, externalId: "", name: { givenName: "Al" }, displayName: "Al" }, desired)).toEqual([
      { op: "replace", path: "externalId", value: "alice" },
      { op: "replace", path: "name.givenName", value: "Alice" },
      { op: "replace", path: "name.familyName", value: "Doe" },
      { op: "replace", path: "displayName", value: "Alice Doe" },
    ]);
  });

  it("the email goes through the primary email when there is no work email, or is added when there is none", () => {
    expect(userPatch({ ...current, emails: [{ value: "old@example.com", primary: true }] }, desired)).toEqual([
      { op: "replace", path: "emails[primary eq true].value", value: "alice@example.com" },
    ]);
    expect(userPatch({ ...current, emails: [] }, desired)).toEqual([
      { op: "add", path: "emails", value: [{ value: "alice@example.com", type: "work", primary: true }] },
    ]);
  });

  it("attributes the desired user leaves out are kept", () => {
    const bare = desiredScimUser({ id: "alice", email: "alice@example.com", active: true }, attributes);
    expect(userPatch(current, bare)).toEqual([]);
  });
});
