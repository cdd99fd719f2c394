import { afterEach, describe, expect, it } from "vitest";
import { createSource } from "../../src/sync/sources/index.js";
import { nextLink } from "../../src/sync/sources/okta-map.js";
import type { OktaSourceConfig } from "../../src/config/types.js";
import { startOktaDouble, type OktaData, type OktaDouble } from "./doubles/okta.js";
import { caught, recordingSleep, sourceConfig } from "./doubles/helpers.js";

const statuses = ["ACTIVE", "ACTIVE", "SUSPENDED", "PASSWORD_EXPIRED", "LOCKED_OUT", "ACTIVE", "DEPROVISIONED", "PROVISIONED"];

function data(): OktaData {
  const users = statuses.map((status, i) => ({
    id: `00u${String(i).padStart(3, "0")}abcDEF123x7`,
    status,
    profile: { login: `user${i}@acme.example`, email: `user${i}@acme.example`, firstName: `First${i}`, lastName: `Last${i}` },
  }));
  return {
    users,
    groups: [
      { id: "00g001finance", name: "analysts-finance", members: [users[0]!.id, users[1]!.id, users[2]!.id] },
      { id: "00g002admins", name: "it-admins", members: [users[3]!.id, users[4]!.id, users[5]!.id, users[7]!.id] },
      { id: "00g003everyone", name: "Everyone", members: users.filter((u) => u.status !== "DEPROVISIONED").map((u) => u.id) },
    ],
  };
}

let double: OktaDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

const config = (d: OktaDouble, extra = "") => sourceConfig(`type: okta\norgUrl: ${d.url}\npageSize: 3\n${extra}`) as OktaSourceConfig;
const source = (d: OktaDouble, extra = "", sleep = recordingSleep().sleep, now?: () => number) =>
  createSource(config(d, extra), { env: { OKTA_API_TOKEN: d.apiToken }, baseDir: "/tmp", sleep, ...(now ? { now } : {}) });

describe("okta source", () => {
  it("reads every user and group member across Link rel=\"next\" pages with the SSWS token", async () => {
    double = await startOktaDouble(data());
    const read = await source(double).read();
    expect(read.complete).toBe(true);
    expect(read.directory.users).toHaveLength(7);
    expect(read.directory.users[0]).toEqual({ id: "00u000abcDEF123x7", email: "user0@acme.example", givenName: "First0", familyName: "Last0", displayName: "First0 Last0", active: true });
    expect(double.requests.filter((r) => r.path === "/api/v1/users").map((r) => r.query.get("after"))).toEqual([null, "3", "6"]);
    expect(double.requests.every((r) => r.headers.authorization === `SSWS ${double!.apiToken}`)).toBe(true);
    const everyone = read.directory.groups.find((g) => g.name === "Everyone")!;
    expect(everyone.members).toHaveLength(7);
    expect(read.directory.groups.find((g) => g.name === "analysts-finance")!.members).toEqual(["00u000abcDEF123x7", "00u001abcDEF123x7", "00u002abcDEF123x7"]);
    expect(read.fingerprint).not.toContain(double.apiToken);
  });

  it("SUSPENDED users are inactive; LOCKED_OUT, PASSWORD_EXPIRED and PROVISIONED stay active", async () => {
    double = await startOktaDouble(data());
    const read = await source(double).read();
    const byStatus = (i: number) => read.directory.users.find((u) => u.id === `00u${String(i).padStart(3, "0")}abcDEF123x7`)!.active;
    expect(byStatus(2)).toBe(false);
    expect([byStatus(3), byStatus(4), byStatus(7)]).toEqual([true, true, true]);
  });

  it("inactiveStatuses is configurable", async () => {
    double = await startOktaDouble(data());
    const read = await source(double, "inactiveStatuses: [SUSPENDED, LOCKED_OUT]").read();
    expect(read.directory.users.filter((u) => !u.active).map((u) => u.id)).toEqual(["00u002abcDEF123x7", "00u004abcDEF123x7"]);
  });

  it("a 429 waits until X-Rate-Limit-Reset (injected clock and sleep)", async () => {
    double = await startOktaDouble(data());
    const nowMs = 1_750_000_000_000;
    double.faults.push({ path: "/api/v1/groups", status: 429, headers: { "x-rate-limit-limit": "500", "x-rate-limit-remaining": "0", "x-rate-limit-reset": String(nowMs / 1000 + 12) }, body: { errorCode: "E0000047", errorSummary: "API call exceeded rate limit due to too many requests." } });
    const rec = recordingSleep();
    const read = await source(double, "", rec.sleep, () => nowMs).read();
    expect(rec.waits).toEqual([12_000]);
    expect(read.complete).toBe(true);
  });

  it("a 503 mid-paging of a group's members makes the read incomplete", async () => {
    double = await startOktaDouble(data());
    double.faults.push({ path: /^\/api\/v1\/groups\/00g003everyone\/users\?.*after=3/, times: 10, status: 503, body: { errorCode: "E0000009", errorSummary: "Internal Server Error" } });
    const read = await source(double, "maxRetries: 1").read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toMatch(/okta group "Everyone" users: page 2 failed after 3 items: .*503.*E0000009/);
  });

  it("a Link header that points back to a page already read ends the read as incomplete", async () => {
    double = await startOktaDouble(data());
    const loop = `<${double.url}/api/v1/users?limit=3&after=3>; rel="next"`;
    double.faults.push({ path: /^\/api\/v1\/users\?limit=3&after=3$/, times: 1, status: 200, headers: { link: loop }, body: [] });
    const read = await source(double).read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toContain("okta users: page 2 pointed back");
  });

  it("an invalid API token is SYNC_SOURCE_FAILED and the token is in no message", async () => {
    double = await startOktaDouble(data());
    const wrong = "00WrOnGtOkEn-must-not-leak";
    const e = await caught(() => createSource(config(double!), { env: { OKTA_API_TOKEN: wrong }, baseDir: "/tmp", sleep: recordingSleep().sleep }).read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.exitCode).toBe(5);
    expect(e.message).toContain("E0000011");
    expect(e.message).not.toContain(wrong);
  });

  it("the token env name is configurable and the org URL accepts a bare host", () => {
    const c = sourceConfig("type: okta\norgUrl: acme.okta.com\napiTokenEnv: ACME_OKTA_TOKEN") as OktaSourceConfig;
    expect(c).toMatchObject({ orgUrl: "https://acme.okta.com", apiTokenEnv: "ACME_OKTA_TOKEN", inactiveStatuses: ["SUSPENDED", "DEPROVISIONED"], pageSize: 200 });
  });

  it("parses RFC 8288 Link headers", () => {
    expect(nextLink('<https://a/x?after=1>; rel="self", <https://a/x?after=2>; rel="next"')).toBe("https://a/x?after=2");
    expect(nextLink('<https://a/x?after=1>; rel="self"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});
