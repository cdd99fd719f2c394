import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { BULK, call, createUser, filterQuery, groupId, patch, user } from "./scim.js";

describe("fault injection", () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ groups: ["g"] });
  });
  afterAll(async () => {
    await sb?.stop();
  });
  beforeEach(async () => {
    await sb.setFaults([]);
    await sb.clearRequests();
  });

  it("answers 429 with Retry-After for the first N matching requests only", async () => {
    await sb.setFaults([{ route: "^GET /Users", kind: "429", count: 2, retryAfter: "3" }]);
    const a = await call(sb, "GET", "/Users");
    expect(a.status).toBe(429);
    expect(a.headers.get("retry-after")).toBe("3");
    expect((await call(sb, "GET", "/Users")).status).toBe(429);
    expect((await call(sb, "GET", "/Users")).status).toBe(200);
    expect((await call(sb, "GET", "/Groups")).status).toBe(200);
  });

  it("answers 5xx for a deterministic share of requests on one route", async () => {
    await sb.setFaults([{ route: "GET /Groups", kind: "5xx", share: 0.5, status: 502 }]);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(sb, "GET", "/Groups")).status);
    expect(statuses.filter((s) => s === 502)).toHaveLength(3);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect((await call(sb, "GET", "/Users")).status).toBe(200);
  });

  it("drops the connection", async () => {
    await sb.setFaults([{ route: "POST /Users", kind: "drop", count: 1 }]);
    await expect(call(sb, "POST", "/Users", user("drop@example.com"))).rejects.toThrow();
    expect((await call(sb, "POST", "/Users", user("drop@example.com"))).status).toBe(201);
    const reqs = await sb.requests();
    expect(reqs.map((r) => r.status)).toEqual([0, 201]);
  });

  it("adds latency", async () => {
    await sb.setFaults([{ kind: "latency", latencyMs: 300, count: 1 }]);
    const t0 = performance.now();
    expect((await call(sb, "GET", "/ServiceProviderConfig")).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("never faults the admin API, nor records it", async () => {
    await sb.setFaults([{ kind: "5xx" }]);
    await expect(sb.audit()).resolves.toEqual(expect.any(Array));
    expect(await sb.requests()).toEqual([]);
    expect((await call(sb, "GET", "/Users")).status).toBe(503);
  });
});

describe("minimal profile", () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ profile: "minimal", groups: ["g"], maxPageSize: 500 });
  });
  afterAll(async () => {
    await sb?.stop();
  });
  beforeEach(async () => {
    await sb.reset();
  });

  it("advertises no Bulk and no ETags, answers /Bulk with 501, caps pages at 100", async () => {
    const spc = (await call(sb, "GET", "/ServiceProviderConfig")).body;
    expect(spc.bulk.supported).toBe(false);
    expect(spc.etag.supported).toBe(false);
    expect(spc.filter.maxResults).toBe(100);
    expect((await call(sb, "POST", "/Bulk", { schemas: [BULK], Operations: [] })).status).toBe(501);
    const created = await call(sb, "POST", "/Users", user("m@example.com"));
    expect(created.headers.get("etag")).toBeNull();
    expect(created.body.meta.version).toBeUndefined();
    expect(created.body.groups).toBeUndefined();
  });

  it("accepts only eq and and on userName, externalId, displayName and emails.value", async () => {
    await createUser(sb, "Eq@example.com", { externalId: "e1", emails: [{ value: "eq@work.org", type: "work" }] });
    const ok = await call(sb, "GET", `/Users?${filterQuery('userName eq "eq@example.com" and externalId eq "e1"')}`);
    expect(ok.body.totalResults).toBe(1);
    expect((await call(sb, "GET", `/Users?${filterQuery('emails.value eq "eq@work.org"')}`)).body.totalResults).toBe(1);
    for (const f of ['userName sw "e"', 'userName eq "a" or userName eq "b"', "not (userName eq \"a\")", "title eq \"x\"", 'emails[value eq "x"]']) {
      const r = await call(sb, "GET", `/Users?${filterQuery(f)}`);
      expect(r.status, f).toBe(400);
      expect(r.body.scimType).toBe("invalidFilter");
    }
    const gid = await groupId(sb, "g");
    const mf = await call(sb, "GET", `/Groups?${filterQuery(`members[value eq "${gid}"]`)}`);
    expect(mf.status).toBe(400);
  });

  it("keeps externalId unique with 409", async () => {
    await createUser(sb, "one@example.com", { externalId: "same" });
    const r = await call(sb, "POST", "/Users", user("two@example.com", { externalId: "same" }));
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe("uniqueness");
  });

  it("fails a whole PATCH on one unknown member and caps groups at 1000 members", async () => {
    const gid = await groupId(sb, "g");
    const a = await createUser(sb, "a@example.com");
    const bad = await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: [{ value: a }] }, { op: "add", path: "members", value: [{ value: "ghost" }] }));
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe("invalidValue");
    expect((await call(sb, "GET", `/Groups/${gid}`)).body.members).toEqual([]);

    const ids: string[] = [];
    for (let i = 0; i < 1001; i += 50) {
      const batch = Array.from({ length: Math.min(50, 1001 - i) }, (_, k) => sb.seedUser({ userName: `u${i + k}@example.com` }));
      ids.push(...(await Promise.all(batch)).map((u) => u.id));
    }
    const tooMany = await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: ids.map((value) => ({ value })) }));
    expect(tooMany.status).toBe(400);
    const fits = await call(sb, "PATCH", `/Groups/${gid}`, patch({ op: "add", path: "members", value: ids.slice(0, 1000).map((value) => ({ value })) }));
    expect(fits.status).toBe(204);
    const page = await call(sb, "GET", "/Users?count=500");
    expect(page.body.itemsPerPage).toBe(100);
    expect(page.body.totalResults).toBe(1002);
  });
});

describe("CLI", () => {
  it("exits 0 on SIGTERM and seeds groups from --groups", async () => {
    const sb = await startSandbox({ groups: ["one", "two,with comma"] });
    const r = await call(sb, "GET", "/Groups?excludedAttributes=members");
    expect(r.body.Resources.map((g: { displayName: string }) => g.displayName)).toEqual(["one", "two,with comma"]);
    expect(sb.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);
    await sb.stop();
    await expect(fetch(`${sb.baseUrl}/Users`)).rejects.toThrow();
  });
});
