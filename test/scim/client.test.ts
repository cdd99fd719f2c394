import { describe, expect, it } from "vitest";
import { testCapabilities } from "../helpers/capabilities.js";
import { ProvisioningError, isUniquenessError } from "../../src/errors.js";
import { OR_FILTER_MAX, ScimClient } from "../../src/scim/client.js";
import type { Capabilities, PatchRequest } from "../../src/scim/types.js";
import { fakeFetch, fakeTime, list, noTimer, scimError, type Call, type Reply } from "./fakes.js";

const caps = (c: Partial<Capabilities> = {}): Capabilities => testCapabilities({ memberFilter: false, ...c });

function client(handler: (c: Call, i: number) => Reply | Promise<Reply>, capabilities?: Capabilities) {
  const f = fakeFetch(handler);
  const time = fakeTime();
  const c = new ScimClient({
    baseUrl: "https://catalog.example.com/scim/v2",
    apiKey: "k",
    fetch: f.fetch,
    retries: 0,
    clock: time.clock,
    sleep: time.sleep,
    ...noTimer,
    ...(capabilities ? { capabilities } : {}),
  });
  return { c, calls: f.calls };
}
const q = (call: Call) => new URL(call.url).searchParams;

describe("batched member changes (RFC 7644 §3.5.2)", () => {
  it("batches adds and removes, default 100 values per PATCH, removes by valuePath", async () => {
    const add = Array.from({ length: 150 }, (_, k) => `a${k}`);
    const { c, calls } = client(() => ({ status: 204 }));
    const r = await c.patchGroupMembers("g1", { add, remove: ["r1", "r2"] });
    expect(r.requests).toBe(2);
    expect(r.added).toHaveLength(150);
    expect(r.removed).toEqual(["r1", "r2"]);
    const second = calls[1]!.body as PatchRequest;
    expect(second.Operations).toEqual([
      { op: "add", path: "members", value: add.slice(100).map((value) => ({ value })) },
      { op: "remove", path: 'members[value eq "r1"]' },
      { op: "remove", path: 'members[value eq "r2"]' },
    ]);
    for (const call of calls) {
      for (const op of (call.body as PatchRequest).Operations) {
        expect(op.op === "remove" ? op.path : "members").toMatch(/^members(\[value eq ".*"\])?$/);
        expect(op.op).not.toBe("replace");
      }
    }
  });

  it("splits a batch refused with 400 invalidValue to isolate the bad values", async () => {
    const bad = new Set(["a3", "a6"]);
    const { c } = client((call) => {
      const ops = (call.body as PatchRequest).Operations;
      const values = ops.flatMap((o) => (o.op === "add" ? (o.value as { value: string }[]).map((v) => v.value) : []));
      return values.some((v) => bad.has(v)) ? scimError(400, "invalidValue", "unknown member") : { status: 200, body: { id: "g1", displayName: "g" } };
    });
    const r = await c.patchGroupMembers("g1", { add: Array.from({ length: 8 }, (_, k) => `a${k}`) }, { batchSize: 8 });
    expect(r.failed.map((f) => f.value).sort()).toEqual(["a3", "a6"]);
    expect(r.added.sort()).toEqual(["a0", "a1", "a2", "a4", "a5", "a7"]);
    expect(r.requests).toBeLessThanOrEqual(1 + 2 * 2 * 3);
  });

  it("a remove that matches nothing (400 noTarget) is done", async () => {
    const { c } = client((call) => ((call.body as PatchRequest).Operations.length > 1 || JSON.stringify(call.body).includes("gone") ? scimError(400, "noTarget") : { status: 204 }));
    const r = await c.patchGroupMembers("g1", { remove: ["gone", "here"] });
    expect(r.removed.sort()).toEqual(["gone", "here"]);
    expect(r.failed).toEqual([]);
  });

  it("a 404 (group gone) throws SCIM_GROUP_NOT_FOUND; a 5xx marks the rest failed and stops", async () => {
    const gone = client(() => scimError(404));
    await expect(gone.c.patchGroupMembers("g1", { add: ["a"] })).rejects.toMatchObject({ code: "SCIM_GROUP_NOT_FOUND" });
    const down = client(() => scimError(503));
    const r = await down.c.patchGroupMembers("g1", { add: ["a", "b", "c"] }, { batchSize: 1 });
    expect(r.failed.map((f) => f.value)).toEqual(["a", "b", "c"]);
    expect(down.calls).toHaveLength(1);
  });
});

describe("users", () => {
  const alice = { id: "u1", userName: "Alice@Example.com", externalId: "E1" };

  it("find by userName compares case-insensitively on our side and ignores near matches", async () => {
    const { c, calls } = client(() => list([{ id: "x", userName: "alice@example.co" }, alice]), caps());
    expect((await c.findUserByUserName("alice@example.com"))?.id).toBe("u1");
    expect(q(calls[0]!).get("filter")).toBe('userName eq "alice@example.com"');
  });

  it("does not trust one empty result on a case-sensitive server: one `or` query with the lowercase form", async () => {
    const { c, calls } = client((call) => (q(call).get("filter")!.includes(" or ") ? list([{ ...alice, userName: "alice@example.com" }]) : list([])), caps({ userNameCaseInsensitive: false }));
    expect((await c.findUserByUserName("Alice@Example.com"))?.id).toBe("u1");
    expect(q(calls[0]!).get("filter")).toBe('userName eq "Alice@Example.com" or userName eq "alice@example.com"');
    expect(calls).toHaveLength(1);
  });

  it("with scan, lists users when the filter cannot see a differently cased userName", async () => {
    const { c } = client((call) => {
      const p = q(call);
      if (call.url.includes("/Users/u1")) return { status: 200, body: alice };
      if (p.get("filter")) return list([]);
      return Number(p.get("startIndex")) === 1 ? list([alice]) : list([]);
    }, caps({ userNameCaseInsensitive: false, orFilter: false }));
    expect(await c.findUserByUserName("ALICE@example.COM")).toBeUndefined();
    expect((await c.findUserByUserName("ALICE@example.COM", { scan: true }))?.id).toBe("u1");
  });

  it("find by externalId is exact (caseExact)", async () => {
    const { c } = client(() => list([{ ...alice, externalId: "e1" }]), caps());
    expect(await c.findUserByExternalId("E1")).toBeUndefined();
  });

  it("create sends the User schema; 409 uniqueness is recognisable", async () => {
    const { c, calls } = client((_, i) => (i === 0 ? { status: 201, body: alice } : scimError(409, "uniqueness")), caps());
    expect((await c.createUser({ userName: "Alice@Example.com" })).id).toBe("u1");
    expect(calls[0]!.body).toEqual({ userName: "Alice@Example.com", schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"] });
    const e = await c.createUser({ userName: "alice@example.com" }).catch((x: unknown) => x);
    expect(isUniquenessError(e)).toBe(true);
  });

  it("delete treats 404 as done; get returns undefined on 404; patch accepts 200 and 204", async () => {
    const { c, calls } = client((call) => (call.method === "PATCH" ? { status: 204 } : scimError(404)), caps());
    await expect(c.deleteUser("u1")).resolves.toBeUndefined();
    expect(await c.getUser("u1")).toBeUndefined();
    expect(await c.patchUser("u1", [{ op: "replace", path: "displayName", value: "A" }])).toBeUndefined();
    await c.deactivateUser("u1");
    expect((calls[3]!.body as PatchRequest).Operations).toEqual([{ op: "replace", path: "active", value: false }]);
    expect(await c.patchUser("u1", [])).toBeUndefined();
    expect(calls).toHaveLength(4);
  });

  it("If-Match only when ETags are advertised", async () => {
    const without = client(() => ({ status: 204 }), caps());
    await without.c.patchUser("u1", [{ op: "replace", path: "active", value: true }], { ifMatch: 'W/"1"' });
    expect(without.calls[0]!.headers["if-match"]).toBeUndefined();
    const withEtag = client(() => ({ status: 204 }), caps({ etag: true }));
    await withEtag.c.patchUser("u1", [{ op: "replace", path: "active", value: true }], { ifMatch: 'W/"1"' });
    expect(withEtag.calls[0]!.headers["if-match"]).toBe('W/"1"');
  });
});

describe("groups", () => {
  it("find by displayName: exact match wins, several → SCIM_AMBIGUOUS_GROUP, excludedAttributes=members", async () => {
    const one = client(() => list([{ id: "g1", displayName: "Finance" }, { id: "g2", displayName: "finance" }]), caps());
    expect((await one.c.findGroupByDisplayName("finance"))?.id).toBe("g2");
    expect(q(one.calls[0]!).get("excludedAttributes")).toBe("members");
    const two = client(() => list([{ id: "g1", displayName: "Finance" }, { id: "g2", displayName: "Finance" }]), caps());
    const e = await two.c.findGroupByDisplayName("Finance").catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("SCIM_AMBIGUOUS_GROUP");
  });

  it("several names in one `or` look-up; refused, paged or not applied as written → undefined", async () => {
    const groups = [
      { id: "g1", displayName: "Finance" },
      { id: "g2", displayName: "finance" },
      { id: "g3", displayName: "it-ops" },
    ];
    const ok = client(() => list(groups), caps());
    expect((await ok.c.findGroupsByDisplayNames(["finance", "IT-ops", "finance"]))?.map((g) => g.id)).toEqual(["g1", "g2", "g3"]);
    expect(ok.calls).toHaveLength(1);
    expect(q(ok.calls[0]!).get("filter")).toBe('displayName eq "finance" or displayName eq "IT-ops"');
    expect(q(ok.calls[0]!).get("excludedAttributes")).toBe("members");
    // a name with quotes and a backslash is escaped as JSON inside the filter
    const quoted = client(() => list([]), caps());
    await quoted.c.findGroupsByDisplayNames(['a "b"', "c\\d"]);
    expect(q(quoted.calls[0]!).get("filter")).toBe('displayName eq "a \\"b\\"" or displayName eq "c\\\\d"');

    for (const reply of [scimError(400, "invalidFilter"), scimError(501)]) {
      const refused = client(() => reply, caps());
      expect(await refused.c.findGroupsByDisplayNames(["a", "b"])).toBeUndefined();
      expect(refused.calls).toHaveLength(1);
    }
    // the filter was ignored (an unrelated group), or the answer holds more than one page
    expect(await client(() => list([{ id: "g9", displayName: "other" }]), caps()).c.findGroupsByDisplayNames(["a", "b"])).toBeUndefined();
    expect(await client(() => list([{ id: "g1", displayName: "a" }], 2), caps()).c.findGroupsByDisplayNames(["a", "b"])).toBeUndefined();
    // another error is an error
    const failing = await client(() => scimError(403), caps()).c.findGroupsByDisplayNames(["a", "b"]).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(Error);
  });

  it("`or` look-ups are split so that no filter exceeds OR_FILTER_MAX characters", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `${"n".repeat(400)}-${i}`);
    const { c, calls } = client((call) => {
      const asked = [...(q(call).get("filter") ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
      return list(asked.map((displayName) => ({ id: `id-${displayName}`, displayName })));
    }, caps());
    const found = await c.findGroupsByDisplayNames(names);
    expect(found?.map((g) => g.displayName).sort()).toEqual([...names].sort());
    expect(calls.length).toBeGreaterThan(1);
    for (const call of calls) expect(q(call).get("filter")!.length).toBeLessThanOrEqual(OR_FILTER_MAX);
    expect(calls.flatMap((call) => [...q(call).get("filter")!.matchAll(/"([^"]+)"/g)].map((m) => m[1])).sort()).toEqual([...names].sort());
  });

  it("lists groups with excludedAttributes=members, capped at the page cap", async () => {
    const { c, calls } = client((call) => (q(call).get("startIndex") === "1" ? list([{ id: "g1", displayName: "a" }]) : list([])), caps({ pageCap: 50 }));
    const out: string[] = [];
    for await (const g of c.listGroups({ count: 500 })) out.push(g.id);
    expect(out).toEqual(["g1"]);
    expect(q(calls[0]!).get("excludedAttributes")).toBe("members");
    expect(q(calls[0]!).get("count")).toBe("50");
  });

  it("findGroupsOfUser: User.groups, else members filter, else undefined", async () => {
    const a = client(() => ({ status: 200, body: { id: "u1", userName: "a", groups: [{ value: "g1" }] } }), caps({ userGroups: true }));
    expect(await a.c.findGroupsOfUser("u1")).toEqual(["g1"]);
    const b = client(() => list([{ id: "g2", displayName: "x" }]), caps({ memberFilter: true }));
    expect(await b.c.findGroupsOfUser("u1")).toEqual(["g2"]);
    expect(q(b.calls[0]!).get("filter")).toBe('members[value eq "u1"]');
    const none = client(() => list([]), caps());
    expect(await none.c.findGroupsOfUser("u1")).toBeUndefined();
    expect(none.calls).toHaveLength(0);
  });
});

describe("discovery (RFC 7643 §5) and probes", () => {
  it("learns capabilities with few requests, once per client", async () => {
    const { c, calls } = client((call) => {
      const u = new URL(call.url);
      if (u.pathname.endsWith("/ServiceProviderConfig")) {
        return { status: 200, body: { patch: { supported: true }, bulk: { supported: true, maxOperations: 10, maxPayloadSize: 1000 }, filter: { supported: true, maxResults: 200 }, etag: { supported: true } } };
      }
      const f = u.searchParams.get("filter");
      if (u.pathname.endsWith("/Groups")) return list([]);
      if (!f) return list([{ id: "u1", userName: "Bob@x.org", groups: [] }]);
      if (f.includes("bOB@X.ORG")) return list([{ id: "u1", userName: "Bob@x.org" }]);
      return list([]);
    });
    const got = await c.capabilities();
    expect(got).toEqual({ bulk: { supported: true, maxOperations: 10, maxPayloadSize: 1000 }, etag: true, userGroups: true, memberFilter: true, userNameCaseInsensitive: true, orFilter: true, pageCap: 200 });
    await c.capabilities();
    expect(calls).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(got))).toEqual(got);
  });

  it("detects a server that ignores filters or rejects them", async () => {
    const { c } = client((call) => {
      const u = new URL(call.url);
      if (u.pathname.endsWith("/ServiceProviderConfig")) return scimError(404);
      if (u.searchParams.get("filter")?.includes(" or ")) return scimError(400, "invalidFilter");
      return list([{ id: "u1", userName: "Bob@x.org" }, { id: "g", displayName: "z" }]);
    });
    expect(await c.capabilities()).toEqual(caps({ userNameCaseInsensitive: false, orFilter: false, memberFilter: false }));
  });

  it("bulk is refused when not advertised", async () => {
    const { c } = client(() => list([]), caps());
    await expect(c.bulk([{ method: "DELETE", path: "/Users/x" }])).rejects.toMatchObject({ code: "SCIM_BULK_FAILED" });
  });
});
