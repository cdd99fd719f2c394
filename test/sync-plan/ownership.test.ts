import { describe, expect, it } from "vitest";
import { ledgerAfter } from "../../src/sync/ownership.js";
import { ledger, NOW, owned } from "./builders.js";

const t = { target: "default", now: NOW };

describe("ledgerAfter", () => {
  it("createUser records a created, owned user (with the connection) and needs the Catalog id", () => {
    const l = ledgerAfter(ledger(), { op: "createUser", externalId: "alice", user: { userName: "alice@example.com" } }, { ...t, connection: "ldap", scimId: "s-1" });
    expect(l.users).toEqual([{ scimId: "s-1", externalId: "alice", target: "default", connection: "ldap", origin: "created", granted: [] }]);
    expect(() => ledgerAfter(ledger(), { op: "createUser", externalId: "a", user: { userName: "a@example.com" } }, t)).toThrow(TypeError);
  });

  it("adoptUser records origin adopted; updateUser changes nothing", () => {
    const l = ledgerAfter(ledger(), { op: "adoptUser", scimId: "s-1", externalId: "alice", patch: [] }, t);
    expect(l.users[0]).toMatchObject({ scimId: "s-1", origin: "adopted", granted: [] });
    expect(ledgerAfter(l, { op: "updateUser", scimId: "s-1", externalId: "alice", patch: [] }, t)).toEqual(l);
  });

  it("addMembers grants by Catalog id or by externalId of a user created in the same plan; removeMembers revokes", () => {
    let l = ledger([owned("s-1", "alice"), owned("s-2", "bob")]);
    l = ledgerAfter(l, { op: "addMembers", groupId: "g", groupName: "G", members: [{ scimId: "s-1" }, { externalId: "bob" }, { scimId: "s-unknown" }] }, t);
    expect(l.users.map((u) => u.granted)).toEqual([["g"], ["g"]]);
    l = ledgerAfter(l, { op: "removeMembers", groupId: "g", groupName: "G", scimIds: ["s-1"], reason: "left-group" }, t);
    expect(l.users.map((u) => u.granted)).toEqual([[], ["g"]]);
  });

  it("deactivate stamps now, reactivate clears it, delete removes the user; the input is not mutated", () => {
    const start = ledger([owned("s-1", "alice")]);
    const off = ledgerAfter(start, { op: "deactivateUser", scimId: "s-1", externalId: "alice" }, t);
    expect(off.users[0]!.deactivatedAt).toBe(NOW);
    expect(start.users[0]!.deactivatedAt).toBeUndefined();
    expect(ledgerAfter(off, { op: "reactivateUser", scimId: "s-1", externalId: "alice" }, t).users[0]!.deactivatedAt).toBeUndefined();
    expect(ledgerAfter(off, { op: "deleteUser", scimId: "s-1", externalId: "alice" }, t).users).toEqual([]);
  });

  it("only touches entries of the given target", () => {
    const l = ledger([owned("s-1", "alice", [], { target: "other" })]);
    expect(ledgerAfter(l, { op: "deactivateUser", scimId: "s-1", externalId: "alice" }, t)).toEqual(l);
  });
});
