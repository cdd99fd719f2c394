import { afterEach, describe, expect, it } from "vitest";
import { createSource } from "../../src/sync/sources/index.js";
import type { MsGraphSourceConfig } from "../../src/config/types.js";
import { startGraphDouble, type GraphData, type GraphDouble } from "./doubles/msgraph.js";
import { caught, recordingSleep, sourceConfig } from "./doubles/helpers.js";

const U = (n: number) => `A1B2C3D4-0000-4000-8000-${String(n).padStart(12, "0")}`;
const canon = (n: number) => U(n).toLowerCase();

function data(): GraphData {
  const users = Array.from({ length: 7 }, (_, i) => ({
    id: U(i),
    mail: i === 3 ? null : `user${i}@contoso.example`,
    userPrincipalName: `user${i}@contoso.onmicrosoft.com`,
    givenName: `Given${i}`,
    surname: `Sur${i}`,
    displayName: `User ${i}`,
    accountEnabled: i !== 2,
  }));
  return {
    users,
    groups: [
      { id: "11111111-AAAA-4BBB-8CCC-000000000001", displayName: "analysts-finance", members: [U(0), U(1), "11111111-AAAA-4BBB-8CCC-000000000003"] },
      { id: "11111111-AAAA-4BBB-8CCC-000000000002", displayName: "it-admins", members: [U(2), U(3), U(4)] },
      { id: "11111111-AAAA-4BBB-8CCC-000000000003", displayName: "finance-contractors", members: [U(5), U(6)] },
    ],
  };
}

let double: GraphDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

function config(d: GraphDouble, extra = ""): MsGraphSourceConfig {
  return sourceConfig(`type: msgraph
tenantId: ${d.tenantId}
clientId: ${d.clientId}
authorityUrl: ${d.url}
baseUrl: ${d.url}/v1.0
pageSize: 2
${extra}`) as MsGraphSourceConfig;
}

function source(d: GraphDouble, extra = "", sleep = recordingSleep().sleep) {
  return createSource(config(d, extra), { env: { MSGRAPH_CLIENT_SECRET: d.clientSecret }, baseDir: "/tmp", sleep });
}

describe("msgraph source", () => {
  it("reads every user and group across several @odata.nextLink pages, anchored by the canonical lowercase object id", async () => {
    double = await startGraphDouble(data());
    const read = await source(double).read();
    expect(read.complete).toBe(true);
    expect(read.directory.users.map((u) => u.id)).toEqual([0, 1, 2, 3, 4, 5, 6].map(canon));
    const u3 = read.directory.users.find((u) => u.id === canon(3))!;
    expect(u3.email).toBe("user3@contoso.onmicrosoft.com");
    expect(read.directory.users.find((u) => u.id === canon(0))).toEqual({ id: canon(0), email: "user0@contoso.example", givenName: "Given0", familyName: "Sur0", displayName: "User 0", active: true });
    expect(double.requests.filter((r) => r.path === "/v1.0/users").length).toBe(4);
    expect(double.requests.find((r) => r.path === "/v1.0/users")!.headers.authorization).toBe("Bearer graph-token-1");
    const finance = read.directory.groups.find((g) => g.name === "analysts-finance")!;
    expect(finance.id).toBe("11111111-aaaa-4bbb-8ccc-000000000001");
    // direct members only: the nested group is not a user
    expect(finance.members.sort()).toEqual([canon(0), canon(1)]);
    expect(read.fingerprint).toContain(double.tenantId);
    expect(read.fingerprint).not.toContain(double.clientSecret);
  });

  it("a disabled account (accountEnabled false) is inactive", async () => {
    double = await startGraphDouble(data());
    const read = await source(double).read();
    expect(read.directory.users.filter((u) => !u.active).map((u) => u.id)).toEqual([canon(2)]);
  });

  it("transitiveMembers flattens nested groups", async () => {
    double = await startGraphDouble(data());
    const read = await source(double, "transitiveMembers: true").read();
    expect(read.complete).toBe(true);
    expect(read.directory.groups.find((g) => g.name === "analysts-finance")!.members.sort()).toEqual([0, 1, 5, 6].map(canon));
    expect(double.requests.some((r) => r.path.endsWith("/transitiveMembers"))).toBe(true);
  });

  it("a 429 with Retry-After waits that long (injected sleep) and then reads on", async () => {
    double = await startGraphDouble(data());
    double.faults.push({ path: "/v1.0/users", after: 1, status: 429, headers: { "retry-after": "7" } });
    const rec = recordingSleep();
    const read = await source(double, "", rec.sleep).read();
    expect(rec.waits).toEqual([7000]);
    expect(read.complete).toBe(true);
    expect(read.directory.users).toHaveLength(7);
  });

  it("a 503 that persists mid-paging makes the read incomplete, never a short complete directory", async () => {
    double = await startGraphDouble(data());
    double.faults.push({ path: "/v1.0/users", after: 2, times: 100, status: 503, headers: { "retry-after": "1" } });
    const rec = recordingSleep();
    const read = await source(double, "maxRetries: 2", rec.sleep).read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toMatch(/msgraph users: page 3 failed after 4 items: .*503/);
    expect(rec.waits).toEqual([1000, 1000]);
  });

  it("a failing member list of one group makes the read incomplete", async () => {
    double = await startGraphDouble(data());
    double.faults.push({ path: /\/groups\/11111111-AAAA-4BBB-8CCC-000000000002\/members/, times: 100, status: 500 });
    const read = await source(double, "maxRetries: 0").read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toContain('msgraph group "it-admins" members');
  });

  it("an expired token (401) is renewed once and the read goes on", async () => {
    double = await startGraphDouble(data());
    double.faults.push({ path: "/v1.0/groups", status: 401, body: { error: { code: "InvalidAuthenticationToken", message: "Lifetime validation failed, the token is expired." } } });
    const read = await source(double).read();
    expect(read.complete).toBe(true);
    expect(double.tokensIssued).toBe(2);
  });

  it("bad client credentials are SYNC_SOURCE_FAILED (exit 5) and the secret is in no message", async () => {
    double = await startGraphDouble(data());
    const wrong = "wrong-secret-that-must-not-leak";
    const s = createSource(config(double), { env: { MSGRAPH_CLIENT_SECRET: wrong }, baseDir: "/tmp", sleep: recordingSleep().sleep });
    const e = await caught(() => s.read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.exitCode).toBe(5);
    expect(e.message).toContain("invalid_client");
    expect(`${e.message} ${String((e as { hint?: string }).hint)}`).not.toContain(wrong);
    expect(double.requests.some((r) => r.path.startsWith("/v1.0"))).toBe(false);
  });

  it("a forbidden directory read (403, missing permission) is SYNC_SOURCE_FAILED", async () => {
    double = await startGraphDouble(data());
    double.faults.push({ path: "/v1.0/users", status: 403, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } });
    const e = await caught(() => source(double!).read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.message).toContain("Authorization_RequestDenied");
  });

  it("an unreachable token endpoint is SYNC_SOURCE_FAILED", async () => {
    double = await startGraphDouble(data());
    const c = config(double);
    await double.close();
    const s = createSource(c, { env: { MSGRAPH_CLIENT_SECRET: "x-secret-value" }, baseDir: "/tmp", sleep: recordingSleep().sleep });
    const e = await caught(() => s.read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.message).not.toContain("x-secret-value");
    double = await startGraphDouble(data());
  });

  it("a missing secret environment variable is a configuration error naming it", async () => {
    double = await startGraphDouble(data());
    const s = createSource(config(double), { env: {}, baseDir: "/tmp" });
    const e = await caught(() => s.read());
    expect(e.code).toBe("CONFIG_MISSING_SECRET");
    expect(e.message).toContain('"MSGRAPH_CLIENT_SECRET"');
  });

  it("defaults point at the real hosts; plain http is refused outside loopback", () => {
    const c = sourceConfig("type: msgraph\ntenantId: t\nclientId: c") as MsGraphSourceConfig;
    expect(c).toMatchObject({ authorityUrl: "https://login.microsoftonline.com", baseUrl: "https://graph.microsoft.com/v1.0", clientSecretEnv: "MSGRAPH_CLIENT_SECRET", transitiveMembers: false, pageSize: 999, maxRetries: 4 });
    expect(() => sourceConfig("type: msgraph\ntenantId: t\nclientId: c\nbaseUrl: http://graph.example.com/v1.0")).toThrow(/https/);
  });
});
