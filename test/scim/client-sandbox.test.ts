/**
 * The client against the local Catalog sandbox (its own process, 127.0.0.1), in both
 * profiles: every operation and every fault kind.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProvisioningError, ScimResponseError, isUniquenessError } from "../../src/errors.js";
import { createCliFetch, type CliFetch } from "../../src/scim/cli-fetch.js";
import { ScimClient, type ScimClientOptions } from "../../src/scim/client.js";
import type { Capabilities, ScimUser } from "../../src/scim/types.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";

const GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];
const learned: Partial<Record<"full" | "minimal", Capabilities>> = {};

for (const profile of ["full", "minimal"] as const) {
  describe(`ScimClient against the sandbox (profile ${profile})`, () => {
    let sb: SandboxHandle;
    let http: CliFetch;
    const sleeps: number[] = [];
    const make = (extra: Partial<ScimClientOptions> = {}) =>
      new ScimClient({
        baseUrl: sb.baseUrl,
        apiKey: sb.apiKey,
        fetch: http.fetch,
        timeoutMs: 5_000,
        retries: 3,
        backoff: { baseMs: 10, maxMs: 50 },
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        ...extra,
      });

    beforeAll(async () => {
      sb = await startSandbox({ profile, groups: GROUPS });
      http = createCliFetch({ maxConnections: 4 });
    });
    afterAll(async () => {
      await http?.close();
      await sb?.stop();
    });
    beforeEach(async () => {
      await sb.reset(GROUPS);
      await sb.setFaults([]);
      sleeps.length = 0;
    });

    it("creates, finds (userName any case, externalId), gets, patches, deactivates and deletes a user", async () => {
      const c = make();
      const created = await c.createUser({ userName: "Ada.Lovelace@Example.com", externalId: "ext-ada", name: { givenName: "Ada", familyName: "Lovelace" }, emails: [{ value: "Ada.Lovelace@Example.com", type: "work", primary: true }], active: true });
      expect(created.id).toBeTruthy();
      expect((await c.findUserByUserName("ada.lovelace@example.com"))?.id).toBe(created.id);
      expect((await c.findUserByExternalId("ext-ada"))?.id).toBe(created.id);
      expect(await c.findUserByExternalId("EXT-ADA")).toBeUndefined();
      expect((await c.getUser(created.id))?.userName).toBe("Ada.Lovelace@Example.com");
      await c.patchUser(created.id, [{ op: "replace", path: 'emails[type eq "work"].value', value: "ada@example.com" }, { op: "replace", path: "userName", value: "ada@example.com" }]);
      const patched = (await c.getUser(created.id))!;
      expect(patched.userName).toBe("ada@example.com");
      expect(patched.emails?.find((e) => e.type === "work")?.value).toBe("ada@example.com");
      await c.deactivateUser(created.id);
      expect((await c.getUser(created.id))?.active).toBe(false);
      await c.deleteUser(created.id);
      expect(await c.getUser(created.id)).toBeUndefined();
      await expect(c.deleteUser(created.id)).resolves.toBeUndefined();
    });

    it("a duplicate userName in another case gives a recognisable 409 uniqueness", async () => {
      const c = make();
      await c.createUser({ userName: "dup@example.com" });
      const e = await c.createUser({ userName: "DUP@example.com" }).catch((x: unknown) => x);
      expect(isUniquenessError(e)).toBe(true);
      expect((e as ScimResponseError).status).toBe("409");
    });

    it("lists users across pages (server-capped) and groups without members", async () => {
      const c = make();
      for (let k = 0; k < 7; k++) await sb.seedUser({ userName: `p${k}@example.com` });
      const names: string[] = [];
      for await (const u of c.listUsers({ count: 3 })) names.push(u.userName);
      expect(names.sort()).toEqual(Array.from({ length: 7 }, (_, k) => `p${k}@example.com`));
      const groups: string[] = [];
      for await (const g of c.listGroups()) {
        expect(g.members).toBeUndefined();
        groups.push(g.displayName);
      }
      expect(groups.sort()).toEqual([...GROUPS].sort());
      const reqs = await sb.requests();
      expect(reqs.some((r) => r.path === "/Groups" && r.query.includes("excludedAttributes=members"))).toBe(true);
    });

    it("finds groups, patches members in batches, lists members and finds a user's groups", async () => {
      const c = make();
      const g = (await c.findGroupByDisplayName("finance-readers"))!;
      expect(g.displayName).toBe("finance-readers");
      expect(await c.findGroupByDisplayName("no-such-group")).toBeUndefined();
      const ids: string[] = [];
      for (let k = 0; k < 5; k++) ids.push((await c.createUser({ userName: `m${k}@example.com` })).id);
      const r = await c.patchGroupMembers(g.id, { add: ids }, { batchSize: 2 });
      expect(r.added.sort()).toEqual([...ids].sort());
      expect(r.requests).toBe(3);
      expect((await c.listGroupMembers(g.id)).sort()).toEqual([...ids].sort());
      // re-adding is a no-op, removing a non-member is done
      const again = await c.patchGroupMembers(g.id, { add: [ids[0]!], remove: [ids[1]!, "not-a-member"] });
      expect(again.failed).toEqual([]);
      expect((await c.listGroupMembers(g.id)).sort()).toEqual(ids.filter((x) => x !== ids[1]).sort());
      const mine = await c.findGroupsOfUser(ids[0]!);
      const caps = await c.capabilities();
      if (caps.userGroups || caps.memberFilter) expect(mine).toEqual([g.id]);
      else expect(mine).toBeUndefined();
      const audit = await sb.audit();
      expect(audit.filter((a) => a.method === "PATCH" && a.resourceId === g.id).length).toBeGreaterThanOrEqual(4);
    });

    it("isolates an unknown member in a refused batch and applies the rest", async () => {
      const c = make();
      const g = (await c.findGroupByDisplayName("mkt-readers"))!;
      const a = (await c.createUser({ userName: "ok1@example.com" })).id;
      const b = (await c.createUser({ userName: "ok2@example.com" })).id;
      const r = await c.patchGroupMembers(g.id, { add: [a, "00000000-dead-beef-0000-000000000000", b] });
      expect(r.failed.map((f) => f.value)).toEqual(["00000000-dead-beef-0000-000000000000"]);
      expect((await c.listGroupMembers(g.id)).sort()).toEqual([a, b].sort());
    });

    it("learns capabilities from ServiceProviderConfig and probes", async () => {
      const c = make();
      await sb.seedUser({ userName: "Probe.User@Example.com" });
      const caps = await c.capabilities();
      learned[profile] = caps;
      expect(caps.pageCap).toBeGreaterThan(0);
      if (profile === "minimal") {
        expect(caps.bulk.supported).toBe(false);
        expect(caps.etag).toBe(false);
        expect(caps.userGroups).toBe(false);
        expect(caps.orFilter).toBe(false);
        expect(caps.pageCap).toBeLessThanOrEqual(100);
      } else {
        expect(caps.bulk.supported).toBe(true);
        expect(caps.orFilter).toBe(true);
        expect(caps.userNameCaseInsensitive).toBe(true);
      }
      const spc = await c.serviceProviderConfig();
      expect(spc.bulk.supported).toBe(caps.bulk.supported);
    });

    it("uses /Bulk only when advertised, with bulkId references", async () => {
      const c = make();
      const caps = await c.capabilities();
      const g = (await c.findGroupByDisplayName("data-stewards"))!;
      const ops = [
        { method: "POST" as const, path: "/Users", bulkId: "u1", data: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "bulk1@example.com" } },
        { method: "PATCH" as const, path: `/Groups/${g.id}`, data: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: "bulkId:u1" }] }] } },
      ];
      if (!caps.bulk.supported) {
        await expect(c.bulk(ops)).rejects.toMatchObject({ code: "SCIM_BULK_FAILED" });
        return;
      }
      const res = await c.bulk(ops, { failOnErrors: 1 });
      expect(res.map((r) => Number(r.status))).toEqual([201, expect.any(Number)]);
      const user = (await c.findUserByUserName("bulk1@example.com"))!;
      expect(await c.listGroupMembers(g.id)).toEqual([user.id]);
    });

    it("falls back from a revoked next key to the current key on 401 and remembers it", async () => {
      const keyState = {};
      const c = make({ apiKeyNext: "revoked-next-key", keyState });
      expect(await c.getUser("nope")).toBeUndefined();
      expect(keyState).toEqual({ preferred: "current" });
      await sb.setKeys(["rotated-next-key", sb.apiKey]);
      const c2 = make({ apiKeyNext: "rotated-next-key", keyState: {} });
      expect(await c2.getUser("nope")).toBeUndefined();
      expect(c2.transport.keyState).toEqual({ preferred: "next" });
      const bad = make({ apiKey: "wrong-key" });
      const e = await bad.getUser("x").catch((x: unknown) => x);
      expect((e as ScimResponseError).httpStatus).toBe(401);
      expect(String((e as Error).message)).not.toContain("wrong-key");
    });

    it("fault 429 with Retry-After: waits as told and succeeds", async () => {
      await sb.setFaults([{ route: "GET /Users", kind: "429", count: 2, retryAfter: "2" }]);
      const c = make();
      expect(await c.findUserByExternalId("x")).toBeUndefined();
      expect(sleeps).toEqual([2000, 2000]);
    });

    it("fault 5xx: retries with backoff; gives up with ScimResponseError when it persists", async () => {
      await sb.setFaults([{ route: "POST /Users", kind: "5xx", count: 1, status: 502 }]);
      const c = make();
      expect((await c.createUser({ userName: "retry@example.com" })).userName).toBe("retry@example.com");
      expect(sleeps).toHaveLength(1);
      await sb.setFaults([{ route: "GET /Users", kind: "5xx", status: 500 }]);
      const e = await make({ retries: 1 }).findUserByExternalId("x").catch((x: unknown) => x);
      expect((e as ScimResponseError).httpStatus).toBe(500);
    });

    it("fault drop: a dropped connection is a network error, retried", async () => {
      await sb.setFaults([{ route: "GET /Groups", kind: "drop", count: 1 }]);
      const c = make();
      expect((await c.findGroupByDisplayName("catalog-admins"))?.displayName).toBe("catalog-admins");
      expect(sleeps).toHaveLength(1);
      await sb.setFaults([{ route: "GET /Groups", kind: "drop" }]);
      const e = await make({ retries: 0 }).findGroupByDisplayName("catalog-admins").catch((x: unknown) => x);
      expect((e as ProvisioningError).code).toBe("SCIM_NETWORK");
    });

    it("fault latency: a slow reply past the timeout is SCIM_TIMEOUT; within it, fine", async () => {
      await sb.setFaults([{ route: "GET /Users", kind: "latency", latencyMs: 400 }]);
      const e = await make({ timeoutMs: 100, retries: 0 }).findUserByExternalId("x").catch((x: unknown) => x);
      expect((e as ProvisioningError).code).toBe("SCIM_TIMEOUT");
      expect(await make({ timeoutMs: 3000, retries: 0 }).findUserByExternalId("x")).toBeUndefined();
    });

    it("share-based faults are absorbed by retries", async () => {
      await sb.setFaults([{ kind: "5xx", share: 0.5 }]);
      const c = make({ retries: 4 });
      const users: ScimUser[] = [];
      for (let k = 0; k < 4; k++) users.push(await c.createUser({ userName: `s${k}@example.com` }).catch(async (e: unknown) => {
        // a retried POST may already have been applied: adopt on 409
        if (isUniquenessError(e)) return (await c.findUserByUserName(`s${k}@example.com`))!;
        throw e;
      }));
      expect(users.map((u) => u.userName)).toEqual(["s0@example.com", "s1@example.com", "s2@example.com", "s3@example.com"]);
    });
  });
}

describe("capabilities learned differ between profiles", () => {
  it("full and minimal are told apart", () => {
    expect(learned.full).toBeDefined();
    expect(learned.minimal).toBeDefined();
    expect(learned.full).not.toEqual(learned.minimal);
    expect(learned.full!.bulk.supported).not.toBe(learned.minimal!.bulk.supported);
  });
});
