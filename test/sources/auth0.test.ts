import { afterEach, describe, expect, it } from "vitest";
import { createSource } from "../../src/sync/sources/index.js";
import { extractAnchor } from "../../src/claims/anchor.js";
import type { Auth0SourceConfig } from "../../src/config/types.js";
import { startAuth0Double, type Auth0Data, type Auth0Double } from "./doubles/auth0.js";
import { caught, recordingSleep, sourceConfig } from "./doubles/helpers.js";

function user(i: number, connection = "acme-entra") {
  const raw = `${String(i).padStart(4, "0")}aa11-bb22`;
  return {
    user_id: `waad|${connection}|${raw}`,
    email: `user${i}@acme.example`,
    given_name: `Given${i}`,
    family_name: `Family${i}`,
    name: `Given${i} Family${i}`,
    blocked: i === 2,
    identities: [{ connection, user_id: `${connection}|${raw}`, provider: "waad", isSocial: false }],
  };
}

function data(n = 7): Auth0Data {
  const users = [...Array.from({ length: n }, (_, i) => user(i)), { ...user(900, "google-oauth2"), user_id: "google-oauth2|900", identities: [{ connection: "google-oauth2", user_id: "900", provider: "google-oauth2", isSocial: true }] }];
  return {
    users,
    roles: [
      { id: "rol_finance", name: "analysts-finance", members: [users[0]!.user_id, users[1]!.user_id, users[2]!.user_id, "google-oauth2|900"] },
      { id: "rol_admins", name: "it-admins", members: [users[3]!.user_id] },
      { id: "rol_empty", name: "nobody", members: [] },
    ],
    organizations: [{ id: "org_acme", name: "acme", display_name: "Acme Corp", members: users.slice(0, 5).map((u) => u.user_id) }],
  };
}

let double: Auth0Double | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

const config = (d: Auth0Double, extra = "") => sourceConfig(`type: auth0\nbaseUrl: ${d.url}\nconnection: acme-entra\npageSize: 3\n${extra}`) as Auth0SourceConfig;
const env = (d: Auth0Double) => ({ AUTH0_DOMAIN: d.domain, AUTH0_CLIENT_ID: d.clientId, AUTH0_CLIENT_SECRET: d.clientSecret });
const source = (d: Auth0Double, extra = "", sleep = recordingSleep().sleep) => createSource(config(d, extra), { env: env(d), baseDir: "/tmp", sleep });

describe("auth0 source", () => {
  it("reads the connection's users page by page, checked against total, anchored like the Action", async () => {
    double = await startAuth0Double(data());
    const read = await source(double).read();
    expect(read.complete).toBe(true);
    expect(read.directory.users).toHaveLength(7);
    const u0 = user(0);
    // the same anchor the Post-Login Action writes by default for this connection
    expect(read.directory.users[0]!.id).toBe(extractAnchor(u0, "acme-entra"));
    expect(read.directory.users[0]).toEqual({ id: "acme-entra|0000aa11-bb22", email: "user0@acme.example", givenName: "Given0", familyName: "Family0", displayName: "Given0 Family0", active: true });
    const pages = double.requests.filter((r) => r.path === "/api/v2/users");
    expect(pages.map((r) => r.query.get("page"))).toEqual(["0", "1", "2"]);
    expect(pages[0]!.query.get("include_totals")).toBe("true");
    expect(pages[0]!.query.get("q")).toBe('identities.connection:"acme-entra"');
    expect(read.fingerprint).not.toContain(double.clientSecret);
  });

  it("blocked users are inactive", async () => {
    double = await startAuth0Double(data());
    const read = await source(double).read();
    expect(read.directory.users.filter((u) => !u.active).map((u) => u.email)).toEqual(["user2@acme.example"]);
  });

  it("roles become groups (default); members from other connections are left out", async () => {
    double = await startAuth0Double(data());
    const read = await source(double).read();
    const finance = read.directory.groups.find((g) => g.name === "analysts-finance")!;
    expect(finance.id).toBe("rol_finance");
    expect(finance.members).toEqual(["acme-entra|0000aa11-bb22", "acme-entra|0001aa11-bb22", "acme-entra|0002aa11-bb22"]);
    expect(read.directory.groups.find((g) => g.name === "nobody")!.members).toEqual([]);
    expect(double.requests.filter((r) => r.path === "/api/v2/roles/rol_finance/users").map((r) => r.query.get("from"))).toEqual([null, "3"]);
  });

  it("organizations become groups with groupsFrom: organizations", async () => {
    double = await startAuth0Double(data());
    const read = await source(double, "groupsFrom: organizations").read();
    expect(read.complete).toBe(true);
    expect(read.directory.groups).toEqual([{ id: "org_acme", name: "acme", members: [0, 1, 2, 3, 4].map((i) => `acme-entra|${String(i).padStart(4, "0")}aa11-bb22`) }]);
  });

  it("more than 1,000 users is an incomplete read naming the users-export job", async () => {
    double = await startAuth0Double(data(1200));
    const read = await source(double).read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toContain("1200 users");
    expect(read.incompleteReason).toContain("POST /api/v2/jobs/users-exports");
    // it stops at the first page instead of walking into the cap
    expect(double.requests.filter((r) => r.path === "/api/v2/users")).toHaveLength(1);
  });

  it("a page that comes back short of total makes the read incomplete", async () => {
    double = await startAuth0Double(data());
    double.faults.push({ path: /^\/api\/v2\/users\?page=1&/, status: 200, body: { start: 3, limit: 3, length: 0, total: 7, users: [] } });
    const read = await source(double).read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toContain("page 1 came back empty at 3 of 7 users");
  });

  it("a 429 honours X-RateLimit-Reset, then the read completes", async () => {
    double = await startAuth0Double(data());
    const nowMs = 1_750_000_000_000;
    double.faults.push({ path: /^\/api\/v2\/roles\?/, status: 429, headers: { "x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(nowMs / 1000 + 2) }, body: { statusCode: 429, error: "Too Many Requests", message: "Global limit has been reached" } });
    const rec = recordingSleep();
    const read = await createSource(config(double), { env: env(double), baseDir: "/tmp", sleep: rec.sleep, now: () => nowMs }).read();
    expect(rec.waits).toEqual([2000]);
    expect(read.complete).toBe(true);
  });

  it("a 503 mid-paging of users makes the read incomplete", async () => {
    double = await startAuth0Double(data());
    double.faults.push({ path: /^\/api\/v2\/users\?page=2&/, times: 10, status: 503, body: { statusCode: 503, error: "Service Unavailable", message: "upstream" } });
    const read = await source(double, "maxRetries: 1").read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toMatch(/auth0 users: page 3 failed after 6 items: .*503/);
  });

  it("bad client credentials are SYNC_SOURCE_FAILED and the secret is in no message", async () => {
    double = await startAuth0Double(data());
    const wrong = "auth0-wrong-secret-never-logged";
    const e = await caught(() => createSource(config(double!), { env: { ...env(double!), AUTH0_CLIENT_SECRET: wrong }, baseDir: "/tmp" }).read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.exitCode).toBe(5);
    expect(e.message).toContain("access_denied");
    expect(e.message).not.toContain(wrong);
  });

  it("defaults", () => {
    const c = sourceConfig("type: auth0") as Auth0SourceConfig;
    expect(c).toMatchObject({ domainEnv: "AUTH0_DOMAIN", clientIdEnv: "AUTH0_CLIENT_ID", clientSecretEnv: "AUTH0_CLIENT_SECRET", groupsFrom: "roles", pageSize: 100 });
    expect(c.baseUrl).toBeUndefined();
  });
});
