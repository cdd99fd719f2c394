import { afterEach, describe, expect, it } from "vitest";
import { createSource } from "../../src/sync/sources/index.js";
import { mapGoogleGroups } from "../../src/sync/sources/google-map.js";
import type { GoogleSourceConfig } from "../../src/config/types.js";
import { startGoogleDouble, type GoogleData, type GoogleDouble } from "./doubles/google.js";
import { caught, recordingSleep, sourceConfig } from "./doubles/helpers.js";

function data(): GoogleData {
  const users = Array.from({ length: 6 }, (_, i) => ({
    id: `10${i}4567890123456789${i}`,
    primaryEmail: `user${i}@acme.example`,
    name: { givenName: `Given${i}`, familyName: `Family${i}`, fullName: `Given${i} Family${i}` },
    suspended: i === 1,
    archived: i === 4,
  }));
  const id = (i: number) => users[i]!.id;
  return {
    users,
    groups: [
      { id: "03x1finance", email: "analysts-finance@acme.example", name: "analysts-finance", members: [id(0), id(1), "03x3contractors"] },
      { id: "03x2admins", email: "it-admins@acme.example", name: "it-admins", members: [id(2)] },
      { id: "03x3contractors", email: "contractors@acme.example", name: "contractors", members: [id(3), "03x4loop"] },
      { id: "03x4loop", email: "loop@acme.example", name: "loop", members: [id(5), "03x3contractors"] },
    ],
  };
}

let double: GoogleDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

const config = (d: GoogleDouble, extra = "") =>
  sourceConfig(`type: google\nsubject: ${d.subject}\ntokenUrl: ${d.url}/token\nbaseUrl: ${d.url}\npageSize: 2\n${extra}`) as GoogleSourceConfig;
const source = (d: GoogleDouble, extra = "", sleep = recordingSleep().sleep) =>
  createSource(config(d, extra), { env: { GOOGLE_APPLICATION_CREDENTIALS: d.keyFile }, baseDir: "/tmp", sleep });

describe("google source", () => {
  it("signs an RS256 JWT bearer grant and reads every user and group across nextPageToken pages", async () => {
    double = await startGoogleDouble(data());
    const read = await source(double).read();
    expect(read.complete).toBe(true);
    expect(read.directory.users).toHaveLength(6);
    expect(read.directory.users[0]).toEqual({ id: "10045678901234567890", email: "user0@acme.example", givenName: "Given0", familyName: "Family0", displayName: "Given0 Family0", active: true });
    expect(double.requests.filter((r) => r.path === "/admin/directory/v1/users").map((r) => r.query.get("pageToken"))).toEqual([null, "2", "4"]);
    expect(double.requests.find((r) => r.path === "/admin/directory/v1/users")!.query.get("customer")).toBe("my_customer");
    // nested groups are off by default: only USER members
    expect(read.directory.groups.find((g) => g.name === "analysts-finance@acme.example")!.members).toEqual([data().users[0]!.id, data().users[1]!.id]);
    expect(read.fingerprint).toContain(double.subject);
  });

  it("suspended and archived users are inactive", async () => {
    double = await startGoogleDouble(data());
    const read = await source(double).read();
    expect(read.directory.users.filter((u) => !u.active).map((u) => u.email)).toEqual(["user1@acme.example", "user4@acme.example"]);
  });

  it("nestedGroups expands GROUP members and survives a membership cycle", async () => {
    double = await startGoogleDouble(data());
    const read = await source(double, "nestedGroups: true").read();
    expect(read.complete).toBe(true);
    const d = data();
    const ids = (...n: number[]) => n.map((i) => d.users[i]!.id).sort();
    expect(read.directory.groups.find((g) => g.name === "analysts-finance@acme.example")!.members.sort()).toEqual(ids(0, 1, 3, 5));
    expect(read.directory.groups.find((g) => g.name === "loop@acme.example")!.members.sort()).toEqual(ids(3, 5));
  });

  it("the pure expansion reports a cycle and reads nested groups outside the list once", () => {
    const r = mapGoogleGroups(
      [{ id: "a", email: "a@x" }],
      new Map([
        ["a", [{ id: "u1", type: "USER" }, { id: "b", type: "GROUP" }]],
        ["b", [{ id: "u2", type: "USER" }, { id: "a", type: "GROUP" }]],
      ]),
      true,
    );
    expect(r.groups[0]!.members.sort()).toEqual(["u1", "u2"]);
    expect(r.cycles).toEqual(["a → b → a"]);
  });

  it("a 429 with Retry-After then success", async () => {
    double = await startGoogleDouble(data());
    double.faults.push({ path: "/admin/directory/v1/groups", status: 429, headers: { "retry-after": "3" }, body: { error: { code: 429, message: "Quota exceeded", errors: [{ reason: "userRateLimitExceeded" }] } } });
    const rec = recordingSleep();
    const read = await source(double, "", rec.sleep).read();
    expect(rec.waits).toEqual([3000]);
    expect(read.complete).toBe(true);
  });

  it("a 503 backendError mid-paging makes the read incomplete (the ssosync #234 case)", async () => {
    double = await startGoogleDouble(data());
    double.faults.push({ path: /^\/admin\/directory\/v1\/groups\?.*pageToken=2/, times: 10, status: 503, body: { error: { code: 503, message: "The service is currently unavailable.", status: "UNAVAILABLE" } } });
    const read = await source(double, "maxRetries: 2").read();
    expect(read.complete).toBe(false);
    expect(read.incompleteReason).toMatch(/google groups: page 2 failed after 2 items: .*503/);
  });

  it("a key the token endpoint does not accept is SYNC_SOURCE_FAILED, without the private key in the message", async () => {
    double = await startGoogleDouble(data());
    const other = await startGoogleDouble(data());
    try {
      // another service account's key: the signature does not verify
      const e = await caught(() => createSource(config(double!), { env: { GOOGLE_APPLICATION_CREDENTIALS: other.keyFile }, baseDir: "/tmp", sleep: recordingSleep().sleep }).read());
      expect(e.code).toBe("SYNC_SOURCE_FAILED");
      expect(e.message).toContain("invalid_grant");
      expect(e.message).not.toContain("PRIVATE KEY");
      expect(e.message).not.toContain(other.privateKey.split("\n")[1]!);
    } finally {
      await other.close();
    }
  });

  it("a subject without delegation is SYNC_SOURCE_FAILED", async () => {
    double = await startGoogleDouble(data());
    const c = { ...config(double), subject: "someone@acme.example" };
    const e = await caught(() => createSource(c, { env: { GOOGLE_APPLICATION_CREDENTIALS: double!.keyFile }, baseDir: "/tmp" }).read());
    expect(e.code).toBe("SYNC_SOURCE_FAILED");
    expect(e.message).toContain("unauthorized_client");
  });

  it("a missing key file variable is a configuration error", async () => {
    double = await startGoogleDouble(data());
    const e = await caught(() => createSource(config(double!), { env: {}, baseDir: "/tmp" }).read());
    expect(e.code).toBe("CONFIG_MISSING_SECRET");
    expect(e.message).toContain('"GOOGLE_APPLICATION_CREDENTIALS"');
  });

  it("defaults", () => {
    const c = sourceConfig("type: google\nsubject: admin@acme.example") as GoogleSourceConfig;
    expect(c).toMatchObject({ credentialsFileEnv: "GOOGLE_APPLICATION_CREDENTIALS", customer: "my_customer", tokenUrl: "https://oauth2.googleapis.com/token", baseUrl: "https://admin.googleapis.com", nestedGroups: false });
  });
});
