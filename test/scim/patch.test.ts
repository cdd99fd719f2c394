import { describe, expect, it } from "vitest";
import { addMembers, deactivate, isUnsafeMemberOperation, patchRequest, removeMember, removeMembers, userChanges, workEmail } from "../../src/scim/patch.js";
import type { ScimUser } from "../../src/scim/types.js";

const user = (u: Partial<ScimUser> = {}): ScimUser => ({
  id: "u1",
  userName: "Alice@Example.com",
  externalId: "ext-1",
  displayName: "Alice A",
  name: { givenName: "Alice", familyName: "A" },
  emails: [{ value: "alice@example.com", type: "work", primary: true }],
  active: true,
  ...u,
});

describe("RFC 7644 §3.5.2 modifying with PATCH", () => {
  it("wraps operations in a PatchOp message", () => {
    expect(patchRequest(deactivate())).toEqual({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
  });

  it("§3.5.2.1 add operation: explicit member values", () => {
    expect(addMembers(["2819c223", "902c246b"])).toEqual({ op: "add", path: "members", value: [{ value: "2819c223" }, { value: "902c246b" }] });
    expect(() => addMembers([])).toThrow(TypeError);
    expect(() => addMembers([""])).toThrow(TypeError);
  });

  it("§3.5.2.2 remove operation: one member by valuePath filter", () => {
    expect(removeMember("2819c223-7f76-453a-919d-413861904646")).toEqual({
      op: "remove",
      path: 'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    });
    expect(removeMember('x"] or value pr or [')).toEqual({ op: "remove", path: 'members[value eq "x\\"] or value pr or ["]' });
    expect(removeMembers(["a", "b"]).map((o) => o.path)).toEqual(['members[value eq "a"]', 'members[value eq "b"]']);
  });

  it("never builds a bare remove of members or a replace of members", () => {
    for (const op of [addMembers(["a"]), removeMember("a"), ...deactivate()]) expect(isUnsafeMemberOperation(op)).toBe(false);
    expect(isUnsafeMemberOperation({ op: "remove", path: "members" })).toBe(true);
    expect(isUnsafeMemberOperation({ op: "remove" })).toBe(true);
    expect(isUnsafeMemberOperation({ op: "replace", path: "members", value: [] })).toBe(true);
    expect(isUnsafeMemberOperation({ op: "replace", value: { members: [] } })).toBe(true);
  });

  it("§3.5.2.3 replace operation: only changed attributes", () => {
    expect(userChanges(user(), { userName: "alice@example.com", displayName: "Alice A", active: true })).toEqual([]);
    expect(userChanges(user(), { displayName: "Alice B", name: { givenName: "Alice", familyName: "B" }, externalId: "ext-2" })).toEqual([
      { op: "replace", path: "externalId", value: "ext-2" },
      { op: "replace", path: "displayName", value: "Alice B" },
      { op: "replace", path: "name.familyName", value: "B" },
    ]);
    expect(userChanges(user(), { active: false })).toEqual([{ op: "replace", path: "active", value: false }]);
  });

  it("replaces the work email's value, not the emails list", () => {
    const ops = userChanges(user({ emails: [{ value: "old@example.com", type: "work" }, { value: "home@x.org", type: "home" }] }), {
      userName: "new@example.com",
      emails: [{ value: "new@example.com", type: "work", primary: true }],
    });
    expect(ops).toEqual([
      { op: "replace", path: "userName", value: "new@example.com" },
      { op: "replace", path: 'emails[type eq "work"].value', value: "new@example.com" },
    ]);
  });

  it("falls back to the primary email, and adds one when the user has none", () => {
    expect(userChanges(user({ emails: [{ value: "old@example.com", primary: true }] }), { emails: [{ value: "n@example.com" }] })).toEqual([
      { op: "replace", path: "emails[primary eq true].value", value: "n@example.com" },
    ]);
    expect(userChanges(user({ emails: undefined }), { emails: [{ value: "n@example.com", type: "work" }] })).toEqual([
      { op: "add", path: "emails", value: [{ value: "n@example.com", type: "work", primary: true }] },
    ]);
  });

  it("picks the work, else primary, else first email", () => {
    expect(workEmail([{ value: "a", type: "home" }, { value: "b", type: "work" }])?.value).toBe("b");
    expect(workEmail([{ value: "a", type: "home" }, { value: "b", primary: true }])?.value).toBe("b");
    expect(workEmail([{ value: "a" }])?.value).toBe("a");
    expect(workEmail([])).toBeUndefined();
  });
});
