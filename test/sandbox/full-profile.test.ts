import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { BULK, call, createUser, ERROR, filterQuery, groupId, GROUP, patch, user, USER } from "./scim.js";

let sb: SandboxHandle;
beforeAll(async () => {
  sb = await startSandbox({ groups: ["catalog-admins", "finance-readers"], maxPageSize: 5 });
});
afterAll(async () => {
  await sb?.stop();
});
beforeEach(async () => {
  await sb.reset();
});

describe("RFC 7644 §3.3 creating resources", () => {
  it("returns 201 with Location, meta and ETag, and GET returns the same resource", async () => {
    const r = await call(sb, "POST", "/Users", user("alice@example.com", { externalId: "ext-1", active: true }));
    expect(r.status).toBe(201);
    expect(r.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(r.headers.get("location")).toBe(`${sb.baseUrl}/Users/${r.body.id}`);
    expect(r.body.meta.location).toBe(r.headers.get("location"));
    expect(r.headers.get("etag")).toBe(r.body.meta.version);
    const g = await call(sb, "GET", `/Users/${r.body.id}`);
    expect(g.status).toBe(200);
    expect(g.body.userName).toBe("alice@example.com");
    expect(g.body.groups).toEqual([]);
  });

  it("rejects a duplicate userName case-insensitively with 409 uniqueness and an RFC error body", async () => {
    await createUser(sb, "alice@example.com");
    const r = await call(sb, "POST", "/Users", user("ALICE@Example.COM"));
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ schemas: [ERROR], status: "409", scimType: "uniqueness" });
    expect(typeof r.body.detail).toBe("string");
  });

  it("rejects a non-boolean active with 400 invalidValue", async () => {
    const r = await call(sb, "POST", "/Users", user("bob@example.com", { active: "False" }));
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe("invalidValue");
  });

  it("accepts application/json request bodies", async () => {
    const res = await fetch(`${sb.baseUrl}/Users`, {
      method: "POST",
      headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(user("json@example.com")),
    });
    expect(res.status).toBe(201);
  });
});

describe("RFC 7644 §3.6 deleting resources", () => {
  it("returns 204 then 404, and removes the user from its groups", async () => {
    const id = await createUser(sb, "carol@example.com");
    const gid = await groupId(sb, "catalog-admins");
    expect((await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: [{ value: id }] }))).status).toBe(204);
    expect((await call(sb, "DELETE", `/Users/${id}`)).status).toBe(204);
    expect((await call(sb, "GET", `/Users/${id}`)).status).toBe(404);
    expect((await call(sb, "GET", `/Groups/${gid}`)).body.members).toEqual([]);
  });
});

describe("RFC 7644 §3.12 authentication errors", () => {
  it("answers 401 with a SCIM error for a missing or wrong key, and accepts rotated keys", async () => {
    const none = await fetch(`${sb.baseUrl}/Users`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ schemas: [ERROR], status: "401" });
    const wrong = await call(sb, "GET", "/Users", undefined, { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    await sb.setKeys(["next-key", sb.apiKey]);
    expect((await call(sb, "GET", "/Users", undefined, { authorization: "Bearer next-key" })).status).toBe(200);
    await sb.setKeys(["next-key"]);
    expect((await call(sb, "GET", "/Users")).status).toBe(401);
    await sb.setKeys([sb.apiKey]);
  });
});

describe("RFC 7644 §3.4.2.2 filtering", () => {
  const weird = ['we"ird\\name@example.com', "caf\u00e9@example.com", "a) or (userName pr@example.com", "x or y@example.com"];

  it.each(weird)("finds %s with JSON escapes decoded", async (name) => {
    await createUser(sb, "decoy@example.com");
    const id = await createUser(sb, name);
    const r = await call(sb, "GET", `/Users?${filterQuery(`userName eq ${JSON.stringify(name)}`)}`);
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(1);
    expect(r.body.Resources[0].id).toBe(id);
  });

  it("decodes \\u escapes in filter strings", async () => {
    const id = await createUser(sb, "caf\u00e9@example.com");
    const r = await call(sb, "GET", `/Users?${filterQuery('userName eq "caf\\u00e9@example.com"')}`);
    expect(r.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
  });

  it("compares userName case-insensitively and externalId case-exactly, with case-insensitive names and operators", async () => {
    const id = await createUser(sb, "Dave@Example.com", { externalId: "AbC" });
    const ci = await call(sb, "GET", `/Users?${filterQuery('USERNAME EQ "dave@example.COM"')}`);
    expect(ci.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
    expect((await call(sb, "GET", `/Users?${filterQuery('externalId eq "abc"')}`)).body.totalResults).toBe(0);
    expect((await call(sb, "GET", `/Users?${filterQuery('externalId eq "AbC"')}`)).body.totalResults).toBe(1);
  });

  it("supports every operator, and, or, not() and grouping", async () => {
    await createUser(sb, "ann@a.org", { displayName: "Ann", title: "b", emails: [{ value: "ann@work.org", type: "work" }] });
    await createUser(sb, "ben@b.org", { displayName: "Ben", title: "d" });
    await createUser(sb, "cid@a.org", { displayName: "Cid", emails: [{ value: "cid@home.org", type: "home" }] });
    const names = async (f: string): Promise<string[]> => {
      const r = await call(sb, "GET", `/Users?${filterQuery(f)}&count=100`);
      expect(r.status).toBe(200);
      return r.body.Resources.map((u: { userName: string }) => u.userName).sort();
    };
    expect(await names('userName ne "ann@a.org"')).toEqual(["ben@b.org", "cid@a.org"]);
    expect(await names('userName co "@A."')).toEqual(["ann@a.org", "cid@a.org"]);
    expect(await names('userName sw "b"')).toEqual(["ben@b.org"]);
    expect(await names('userName ew ".org" and displayName eq "cid"')).toEqual(["cid@a.org"]);
    expect(await names("title pr")).toEqual(["ann@a.org", "ben@b.org"]);
    expect(await names('title gt "b"')).toEqual(["ben@b.org"]);
    expect(await names('title ge "b"')).toEqual(["ann@a.org", "ben@b.org"]);
    expect(await names('title lt "d"')).toEqual(["ann@a.org"]);
    expect(await names('title le "d"')).toEqual(["ann@a.org", "ben@b.org"]);
    expect(await names('userName eq "ann@a.org" or userName eq "ben@b.org"')).toEqual(["ann@a.org", "ben@b.org"]);
    expect(await names('not (userName sw "a") and (displayName eq "Ben" or displayName eq "Cid")')).toEqual(["ben@b.org", "cid@a.org"]);
    expect(await names('emails[type eq "work" and value co "work"]')).toEqual(["ann@a.org"]);
    expect(await names('emails.value eq "cid@home.org"')).toEqual(["cid@a.org"]);
  });

  it("finds groups by members[value eq …]", async () => {
    const id = await createUser(sb, "erin@example.com");
    const gid = await groupId(sb, "finance-readers");
    await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: [{ value: id }] }));
    const r = await call(sb, "GET", `/Groups?${filterQuery(`members[value eq "${id}"]`)}&excludedAttributes=members`);
    expect(r.body.Resources.map((g: { id: string }) => g.id)).toEqual([gid]);
    expect(r.body.Resources[0].members).toBeUndefined();
  });

  it.each(['userName eq "unterminated', "userName eq", 'userName eq "a" and', 'userName zz "a"', "(userName pr", 'userName eq "a" extra'])(
    "rejects %s with 400 invalidFilter",
    async (f) => {
      const r = await call(sb, "GET", `/Users?${filterQuery(f)}`);
      expect(r.status).toBe(400);
      expect(r.body.scimType).toBe("invalidFilter");
    },
  );
});

describe("RFC 7644 §3.4.2.4 pagination", () => {
  it("uses a 1-based startIndex, caps count at the max page size and returns an empty page past the end", async () => {
    for (let i = 0; i < 7; i++) await createUser(sb, `p${i}@example.com`);
    const first = await call(sb, "GET", "/Users?startIndex=1&count=50");
    expect(first.body).toMatchObject({ totalResults: 7, startIndex: 1, itemsPerPage: 5 });
    expect(first.body.Resources[0].userName).toBe("p0@example.com");
    const second = await call(sb, "GET", "/Users?startIndex=6&count=5");
    expect(second.body.Resources.map((u: { userName: string }) => u.userName)).toEqual(["p5@example.com", "p6@example.com"]);
    const past = await call(sb, "GET", "/Users?startIndex=8&count=5");
    expect(past.body).toMatchObject({ totalResults: 7, startIndex: 8, itemsPerPage: 0, Resources: [] });
    const zero = await call(sb, "GET", "/Users?count=0");
    expect(zero.body).toMatchObject({ totalResults: 7, itemsPerPage: 0 });
    const spc = await call(sb, "GET", "/ServiceProviderConfig");
    expect(spc.body.filter.maxResults).toBe(5);
  });

  it("applies attributes and excludedAttributes, always returning id", async () => {
    await createUser(sb, "q@example.com", { displayName: "Q", name: { givenName: "Q", familyName: "R" } });
    const a = await call(sb, "GET", "/Users?attributes=displayName,name.givenName");
    expect(a.body.Resources[0]).toEqual({ schemas: [USER], id: expect.any(String), displayName: "Q", name: { givenName: "Q" } });
    const e = await call(sb, "GET", "/Users?excludedAttributes=id,displayName,meta,groups");
    expect(e.body.Resources[0].id).toEqual(expect.any(String));
    expect(e.body.Resources[0].displayName).toBeUndefined();
    expect(e.body.Resources[0].userName).toBe("q@example.com");
  });
});

describe("RFC 7644 §3.5.2 modifying with PATCH", () => {
  it("accepts ops in any case, adds members once and removes one with members[value eq …]", async () => {
    const a = await createUser(sb, "a@example.com");
    const b = await createUser(sb, "b@example.com");
    const gid = await groupId(sb, "catalog-admins");
    const before = await call(sb, "GET", `/Groups/${gid}`);
    expect((await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "Add", path: "members", value: [{ value: a }, { value: b }] }))).status).toBe(204);
    const afterAdd = await call(sb, "GET", `/Groups/${gid}`);
    expect(afterAdd.body.members.map((m: { value: string }) => m.value).sort()).toEqual([a, b].sort());
    expect(afterAdd.body.meta.version).not.toBe(before.body.meta.version);
    // adding an existing member changes nothing, not even the version
    await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "ADD", path: "members", value: [{ value: a }] }));
    const again = await call(sb, "GET", `/Groups/${gid}`);
    expect(again.body.members).toHaveLength(2);
    expect(again.body.meta.version).toBe(afterAdd.body.meta.version);
    await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "Remove", path: `members[value eq "${a}"]` }));
    expect((await call(sb, "GET", `/Groups/${gid}`)).body.members.map((m: { value: string }) => m.value)).toEqual([b]);
    // the user side shows the computed groups attribute
    expect((await call(sb, "GET", `/Users/${b}`)).body.groups).toEqual([expect.objectContaining({ value: gid, display: "catalog-admins" })]);
  });

  it("RFC 7644 §3.5.2.2 remove without path is 400 noTarget", async () => {
    const id = await createUser(sb, "n@example.com");
    const r = await call(sb, "PATCH", `/Users/${id}`, patch({ op: "remove" }));
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe("noTarget");
  });

  it("RFC 7644 §3.5.2.3 replace of an unmatched valuePath is 400 noTarget", async () => {
    const id = await createUser(sb, "m@example.com", { emails: [{ value: "m@home.org", type: "home" }] });
    const r = await call(sb, "PATCH", `/Users/${id}`, patch({ op: "replace", path: 'emails[type eq "work"].value', value: "m@work.org" }));
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe("noTarget");
  });

  it("replaces emails[type eq \"work\"].value and plain attributes", async () => {
    const id = await createUser(sb, "w@example.com", { emails: [{ value: "w@old.org", type: "work", primary: true }, { value: "w@home.org", type: "home" }] });
    const r = await call(
      sb,
      "PATCH",
      `/Users/${id}`,
      patch(
        { op: "replace", path: 'emails[type eq "work"].value', value: "w@new.org" },
        { op: "replace", path: "userName", value: "w2@example.com" },
        { op: "replace", value: { active: false, "name.givenName": "W" } },
      ),
    );
    expect(r.status).toBe(200);
    expect(r.body.emails).toEqual([{ value: "w@new.org", type: "work", primary: true }, { value: "w@home.org", type: "home" }]);
    expect(r.body.userName).toBe("w2@example.com");
    expect(r.body.active).toBe(false);
    expect(r.body.name).toEqual({ givenName: "W" });
  });

  it("rejects a PATCH without schemas with 400 invalidSyntax", async () => {
    const id = await createUser(sb, "s@example.com");
    const r = await call(sb, "PATCH", `/Users/${id}`, { Operations: [{ op: "replace", path: "active", value: false }] });
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe("invalidSyntax");
  });

  it("rejects an unknown member with 400 invalidValue and applies nothing of that PATCH", async () => {
    const a = await createUser(sb, "x@example.com");
    const gid = await groupId(sb, "catalog-admins");
    const r = await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: [{ value: a }, { value: "no-such-user" }] }));
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe("invalidValue");
    expect((await call(sb, "GET", `/Groups/${gid}`)).body.members).toEqual([]);
  });

  it("refuses a userName change to a taken name with 409 uniqueness", async () => {
    await createUser(sb, "taken@example.com");
    const id = await createUser(sb, "free@example.com");
    const r = await call(sb, "PATCH", `/Users/${id}`, patch({ op: "replace", path: "userName", value: "TAKEN@example.com" }));
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe("uniqueness");
  });
});

describe("RFC 7644 §3.14 versioning", () => {
  it("answers 412 to a stale If-Match and applies a matching one", async () => {
    const created = await call(sb, "POST", "/Users", user("v@example.com"));
    const etag = created.headers.get("etag")!;
    const ok = await call(sb, "PATCH", `/Users/${created.body.id}`, patch({ op: "replace", path: "displayName", value: "V" }), { "if-match": etag });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("etag")).not.toBe(etag);
    const stale = await call(sb, "PUT", `/Users/${created.body.id}`, user("v@example.com"), { "if-match": etag });
    expect(stale.status).toBe(412);
    expect((await call(sb, "DELETE", `/Users/${created.body.id}`, undefined, { "if-match": etag })).status).toBe(412);
  });
});

describe("RFC 7644 §3.7 bulk operations", () => {
  it("resolves bulkId references and reports each operation", async () => {
    const gid = await groupId(sb, "catalog-admins");
    const r = await call(sb, "POST", "/Bulk", {
      schemas: [BULK],
      Operations: [
        { method: "PATCH", path: `/Groups/${gid}`, data: patch({ op: "add", path: "members", value: [{ value: "bulkId:u1" }] }) },
        { method: "POST", path: "/Users", bulkId: "u1", data: user("bulk@example.com") },
      ],
    });
    expect(r.status).toBe(200);
    const ops = r.body.Operations;
    expect(ops.find((o: { bulkId?: string }) => o.bulkId === "u1")).toMatchObject({ status: "201", location: expect.stringContaining("/Users/") });
    expect(ops.find((o: { method: string }) => o.method === "PATCH").status).toBe("204");
    const members = (await call(sb, "GET", `/Groups/${gid}`)).body.members;
    expect(members).toHaveLength(1);
  });

  it("stops after failOnErrors errors", async () => {
    await createUser(sb, "dup@example.com");
    const r = await call(sb, "POST", "/Bulk", {
      schemas: [BULK],
      failOnErrors: 1,
      Operations: [
        { method: "POST", path: "/Users", bulkId: "a", data: user("dup@example.com") },
        { method: "POST", path: "/Users", bulkId: "b", data: user("never@example.com") },
      ],
    });
    expect(r.body.Operations).toHaveLength(1);
    expect(r.body.Operations[0]).toMatchObject({ status: "409", response: { scimType: "uniqueness" } });
    expect((await call(sb, "GET", `/Users?${filterQuery('userName eq "never@example.com"')}`)).body.totalResults).toBe(0);
  });

  it("an operation that fails leaves no part of its change behind, and the others take effect once", async () => {
    const gid = await groupId(sb, "catalog-admins");
    const kept = await createUser(sb, "kept@example.com");
    await sb.clearAudit();
    const r = await call(sb, "POST", "/Bulk", {
      schemas: [BULK],
      Operations: [
        { method: "POST", path: "/Users", bulkId: "a", data: user("a@example.com") },
        // its first change is valid, its second is not: the PATCH fails as a whole
        {
          method: "PATCH",
          path: `/Groups/${gid}`,
          data: patch({ op: "add", path: "members", value: [{ value: kept }] }, { op: "add", path: "members", value: [{ value: "no-such-user" }] }),
        },
        { method: "POST", path: "/Users", bulkId: "c", data: user("c@example.com") },
        { method: "PATCH", path: `/Groups/${gid}`, data: patch({ op: "add", path: "members", value: [{ value: "bulkId:c" }] }) },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(["201", "400", "201", "204"]);
    const members = (await call(sb, "GET", `/Groups/${gid}`)).body.members.map((m: { value: string }) => m.value);
    const c = r.body.Operations[2].location.split("/").pop();
    expect(members).toEqual([c]);
    for (const name of ["a@example.com", "c@example.com"]) {
      expect((await call(sb, "GET", `/Users?${filterQuery(`userName eq "${name}"`)}`)).body.totalResults).toBe(1);
    }
    // one audit entry per operation and one for the request: nothing from a rolled-back attempt
    const audit = await sb.audit();
    expect(audit.map((e) => [e.method, e.status, e.resourceType])).toEqual([
      ["POST", 201, "User"],
      ["PATCH", 400, "Group"],
      ["POST", 201, "User"],
      ["PATCH", 204, "Group"],
      ["POST", 200, "Bulk"],
    ]);
  });

  it("answers 413 over maxOperations and over maxPayloadSize", async () => {
    const spc = (await call(sb, "GET", "/ServiceProviderConfig")).body;
    expect(spc.bulk).toMatchObject({ supported: true, maxOperations: 1000, maxPayloadSize: 1048576 });
    const many = Array.from({ length: 1001 }, (_, i) => ({ method: "DELETE", path: `/Users/x${i}` }));
    expect((await call(sb, "POST", "/Bulk", { schemas: [BULK], Operations: many })).status).toBe(413);
    const big = [{ method: "POST", path: "/Users", bulkId: "x", data: user("big@example.com", { displayName: "x".repeat(1_100_000) }) }];
    const r = await call(sb, "POST", "/Bulk", { schemas: [BULK], Operations: big });
    expect(r.status).toBe(413);
    expect(r.body.schemas).toEqual([ERROR]);
  });
});

describe("discovery", () => {
  it("serves /Schemas and /ResourceTypes as ListResponses", async () => {
    const s = await call(sb, "GET", "/Schemas");
    expect(s.body.Resources.map((x: { id: string }) => x.id)).toContain(USER);
    expect(s.body.Resources.map((x: { id: string }) => x.id)).toContain(GROUP);
    const rt = await call(sb, "GET", "/ResourceTypes");
    expect(rt.body.Resources.map((x: { endpoint: string }) => x.endpoint)).toEqual(["/Users", "/Groups"]);
  });
});

describe("audit log and request log", () => {
  it("records every write with status, resource and summary, and every request", async () => {
    await sb.clearRequests();
    const id = await createUser(sb, "audit@example.com");
    await call(sb, "POST", "/Users", user("AUDIT@example.com"));
    await call(sb, "GET", `/Users/${id}`);
    await call(sb, "DELETE", `/Users/${id}`);
    const audit = await sb.audit();
    expect(audit.map((e) => [e.method, e.status, e.resourceType])).toEqual([
      ["POST", 201, "User"],
      ["POST", 409, "User"],
      ["DELETE", 204, "User"],
    ]);
    expect(audit[0]!.resourceId).toBe(id);
    expect(audit[0]!.summary).toContain("audit@example.com");
    expect(audit[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    const reqs = await sb.requests();
    expect(reqs.map((r) => [r.method, r.path, r.status])).toEqual([
      ["POST", "/Users", 201],
      ["POST", "/Users", 409],
      ["GET", `/Users/${id}`, 200],
      ["DELETE", `/Users/${id}`, 204],
    ]);
    await sb.clearAudit();
    expect(await sb.audit()).toEqual([]);
  });

  it("seeds users and groups through the admin API without auditing them", async () => {
    const { id } = await sb.seedUser({ userName: "someone@else.com", externalId: "other" });
    const g = await sb.createGroup("extra-group");
    expect((await call(sb, "GET", `/Users/${id}`)).body.externalId).toBe("other");
    expect((await call(sb, "GET", `/Groups/${g.id}`)).body.displayName).toBe("extra-group");
    expect(await sb.audit()).toEqual([]);
    const stats = await sb.stats();
    expect(stats.requests).toBeGreaterThan(0);
    expect(stats.rss).toBeGreaterThan(0);
  });
});
