/**
 * Interoperability: the client against a third-party SCIM server (scimmy + scimmy-routers
 * under Express 4, see ./scimmy-server.ts), quirks included.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, ScimResponseError, isUniquenessError } from "../../src/errors.js";
import { resolveManagedGroups } from "../../src/sync/catalog-read.js";
import { ScimClient } from "../../src/scim/client.js";
import { eq } from "../../src/scim/filter.js";
import { startScimmyServer, type ScimmyServer } from "./scimmy-server.js";

describe("interop with scimmy 1.3.5 + scimmy-routers 1.3.2", () => {
  let srv: ScimmyServer;
  const client = () => new ScimClient({ baseUrl: srv.baseUrl, apiKey: srv.token, timeoutMs: 5_000, retries: 0 });

  beforeAll(async () => {
    srv = await startScimmyServer();
  });
  afterAll(async () => {
    await srv?.stop();
  });
  beforeEach(() => srv.reset());

  it("user lifecycle: create, get, find by externalId, patch, deactivate, delete (404 after = done)", async () => {
    const c = client();
    const u = await c.createUser({ userName: "grace@example.com", externalId: "ext-g", name: { givenName: "Grace", familyName: "Hopper" }, emails: [{ value: "grace@example.com", type: "work", primary: true }], active: true });
    expect((await c.getUser(u.id))?.userName).toBe("grace@example.com");
    expect((await c.findUserByExternalId("ext-g"))?.id).toBe(u.id);
    await c.patchUser(u.id, [{ op: "replace", path: 'emails[type eq "work"].value', value: "g.hopper@example.com" }]);
    expect((await c.getUser(u.id))?.emails?.[0]?.value).toBe("g.hopper@example.com");
    await c.deactivateUser(u.id);
    expect((await c.getUser(u.id))?.active).toBe(false);
    await c.deleteUser(u.id);
    expect(await c.getUser(u.id)).toBeUndefined();
    await expect(c.deleteUser(u.id)).resolves.toBeUndefined();
  });

  it("quirk: eq is case-sensitive for userName, and the probes detect it", async () => {
    const c = client();
    await c.createUser({ userName: "Alan.Turing@Example.com" });
    const caps = await c.capabilities();
    expect(caps.userNameCaseInsensitive).toBe(false);
    expect(caps.orFilter).toBe(true);
    expect(caps.etag).toBe(false);
    // the `or` of the lowercase form does not help when the stored form is mixed case
    expect(await c.findUserByUserName("alan.turing@example.com")).toBeUndefined();
  });

  it("a case-sensitive eq never leads to a duplicate: 409 uniqueness, then a scan finds the user", async () => {
    const c = client();
    const original = await c.createUser({ userName: "Alan.Turing@Example.com", externalId: "ext-a" });
    await c.capabilities();
    const e = await c.createUser({ userName: "alan.turing@example.com" }).catch((x: unknown) => x);
    expect(isUniquenessError(e)).toBe(true);
    expect((await c.findUserByUserName("alan.turing@example.com", { scan: true }))?.id).toBe(original.id);
    expect((await c.findUserByExternalId("ext-a"))?.id).toBe(original.id);
    expect(srv.users.size).toBe(1);
  });

  it("a lowercase stored userName is found from a mixed-case login with one `or` query", async () => {
    const c = client();
    const u = await c.createUser({ userName: "ada@example.com" });
    await c.capabilities();
    expect((await c.findUserByUserName("Ada@Example.com"))?.id).toBe(u.id);
  });

  it("quirk: an escaped quote in a filter value is rejected with 400 invalidFilter", async () => {
    const c = client();
    const e = await c.findUserByExternalId('we"ird').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimResponseError);
    expect((e as ScimResponseError).httpStatus).toBe(400);
    expect(String(eq("externalId", 'we"ird'))).toBe('externalId eq "we\\"ird"');
  });

  it("several managed groups in one `or` look-up, matched per name; a missing one is a configuration error", async () => {
    const c = client();
    const a = srv.createGroup("finance-readers");
    const b = srv.createGroup("mkt-readers");
    srv.createGroup("hr-readers");
    const found = await c.findGroupsByDisplayNames(["mkt-readers", "finance-readers", "nobody"]);
    expect(found?.map((g) => g.id).sort()).toEqual([a.id, b.id].sort());
    expect(await resolveManagedGroups(c, ["mkt-readers", "finance-readers"])).toEqual([
      { id: b.id, displayName: "mkt-readers" },
      { id: a.id, displayName: "finance-readers" },
    ]);
    const e = await resolveManagedGroups(c, ["finance-readers", "nobody"]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
  });

  it("groups: find by displayName, batched member add/remove with valuePath, list members, members filter", async () => {
    const c = client();
    const g = srv.createGroup("finance-readers");
    srv.createGroup("mkt-readers");
    expect((await c.findGroupByDisplayName("finance-readers"))?.id).toBe(g.id);
    const ids: string[] = [];
    for (let k = 0; k < 5; k++) ids.push((await c.createUser({ userName: `m${k}@example.com` })).id);
    const r = await c.patchGroupMembers(g.id, { add: ids }, { batchSize: 2 });
    expect(r.added).toHaveLength(5);
    expect((await c.listGroupMembers(g.id)).sort()).toEqual([...ids].sort());
    const removed = await c.patchGroupMembers(g.id, { remove: [ids[0]!, ids[1]!] });
    expect(removed.removed).toHaveLength(2);
    expect((await c.listGroupMembers(g.id)).sort()).toEqual(ids.slice(2).sort());
    const names: string[] = [];
    for await (const grp of c.listGroups()) {
      expect(grp.members).toBeUndefined();
      names.push(grp.displayName);
    }
    expect(names.sort()).toEqual(["finance-readers", "mkt-readers"]);
    const caps = await c.capabilities();
    const mine = await c.findGroupsOfUser(ids[3]!);
    if (caps.memberFilter) expect(mine).toEqual([g.id]);
    else expect(mine).toBeUndefined();
  });

  it("quirk: excludedAttributes=members on a PATCH makes scimmy drop existing members (the client never sends it)", async () => {
    const c = client();
    const g = srv.createGroup("quirk-group");
    const a = (await c.createUser({ userName: "qa@example.com" })).id;
    const b = (await c.createUser({ userName: "qb@example.com" })).id;
    await c.patchGroupMembers(g.id, { add: [a] });
    await c.patchGroupMembers(g.id, { add: [b] });
    expect((await c.listGroupMembers(g.id)).sort()).toEqual([a, b].sort());
    const res = await fetch(`${srv.baseUrl}/Groups/${g.id}?excludedAttributes=members`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${srv.token}`, "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: a }] }] }),
    });
    expect(res.status).toBeLessThan(300);
    expect(await c.listGroupMembers(g.id)).toEqual([a]);
  });

  it("quirk: add of an existing member duplicates it (the client sends each value once)", async () => {
    const c = client();
    const g = srv.createGroup("data-stewards");
    const u = await c.createUser({ userName: "d@example.com" });
    await c.patchGroupMembers(g.id, { add: [u.id, u.id] });
    expect(await c.listGroupMembers(g.id)).toEqual([u.id]);
    await c.patchGroupMembers(g.id, { add: [u.id] });
    expect(await c.listGroupMembers(g.id)).toEqual([u.id, u.id]);
    // one valuePath remove clears both copies
    await c.patchGroupMembers(g.id, { remove: [u.id] });
    expect(await c.listGroupMembers(g.id)).toEqual([]);
  });

  it("pagination over scimmy's default page size", async () => {
    const c = client();
    for (let k = 0; k < 25; k++) await c.createUser({ userName: `p${String(k).padStart(2, "0")}@example.com` });
    const seen: string[] = [];
    for await (const u of c.listUsers({ count: 10 })) seen.push(u.userName);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });

  it("a bad token is a 401 SCIM error without the token in the message", async () => {
    const c = new ScimClient({ baseUrl: srv.baseUrl, apiKey: "not-the-token-123", retries: 0 });
    const e = await c.getUser("x").catch((x: unknown) => x);
    expect((e as ScimResponseError).httpStatus).toBe(401);
    expect((e as Error).message).not.toContain("not-the-token-123");
  });
});
