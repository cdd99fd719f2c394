import { describe, expect, it } from "vitest";
import { testCapabilities } from "../helpers/capabilities.js";
import { ScimResponseError } from "../../src/errors.js";
import { executePlan as execute, type AuditEntry, type ExecutorOptions, type OperationOutcome } from "../../src/sync/executor.js";
import type { SyncOperation } from "../../src/sync/plan-types.js";
import type { BulkOperation, BulkOperationResponse, ScimClientApi, ScimUser } from "../../src/scim/types.js";

/** An in-memory Catalog behind the client interface, recording every write. */
function fakeClient(options: { bulk?: boolean; failCreateFor?: string[]; failDeactivate?: string[]; maxOperations?: number } = {}) {
  const users = new Map<string, ScimUser>();
  const members = new Map<string, Set<string>>([["g1", new Set()]]);
  const writes: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let n = 0;
  const tick = async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
  };
  const caps = testCapabilities({ bulk: { supported: options.bulk === true, maxOperations: options.maxOperations ?? 10, maxPayloadSize: 1_000_000 } });
  const client: Partial<ScimClientApi> = {
    async capabilities() {
      return caps;
    },
    async createUser(u) {
      await tick();
      writes.push(`POST /Users ${u.userName}`);
      if (options.failCreateFor?.includes(u.userName)) throw new ScimResponseError(400, { scimType: "invalidValue", detail: "bad" }, { method: "POST", path: "/Users" });
      const user = { ...u, id: `u${++n}` } as ScimUser;
      users.set(user.id, user);
      return user;
    },
    async patchUser(id, ops) {
      await tick();
      writes.push(`PATCH /Users/${id} ${ops.length}`);
      return users.get(id);
    },
    async deactivateUser(id) {
      await tick();
      writes.push(`DEACTIVATE ${id}`);
      if (options.failDeactivate?.includes(id)) throw new ScimResponseError(500, undefined, { method: "PATCH", path: `/Users/${id}` });
    },
    async deleteUser(id) {
      await tick();
      writes.push(`DELETE ${id}`);
    },
    async patchGroupMembers(groupId, change) {
      await tick();
      const set = members.get(groupId)!;
      for (const v of change.add ?? []) set.add(v);
      for (const v of change.remove ?? []) set.delete(v);
      writes.push(`PATCH /Groups/${groupId} +${(change.add ?? []).join(",")} -${(change.remove ?? []).join(",")}`);
      return { added: change.add ?? [], removed: change.remove ?? [], failed: [], requests: 1 };
    },
    async bulk(ops: BulkOperation[]): Promise<BulkOperationResponse[]> {
      writes.push(`BULK ${ops.length}`);
      // bulkId references of this request (RFC 7644 §3.7.2)
      const ids = new Map<string, string>();
      return ops.map((o) => {
        if (o.method === "POST") {
          const id = `u${++n}`;
          ids.set(o.bulkId!, id);
          return { method: o.method, bulkId: o.bulkId!, status: "201", location: `http://x/Users/${id}`, response: { id, userName: (o.data as { userName: string }).userName } };
        }
        const group = /^\/Groups\/(.+)$/.exec(o.path)?.[1];
        if (group && o.method === "PATCH") {
          const set = members.get(decodeURIComponent(group))!;
          for (const p of (o.data as { Operations: { op: string; path: string; value?: { value: string }[] }[] }).Operations) {
            if (p.op === "add") for (const v of p.value ?? []) set.add(v.value.startsWith("bulkId:") ? ids.get(v.value.slice(7))! : v.value);
            else set.delete(/members\[value eq "(.+)"\]/.exec(p.path)![1]!);
          }
        }
        return { method: o.method, bulkId: o.bulkId!, status: o.method === "DELETE" ? "204" : "200" };
      });
    },
  };
  return { client: client as ScimClientApi, users, members, writes, maxInFlight: () => maxInFlight };
}

/** Runs the plan and collects every outcome through the hooks (the result keeps counters and failures only). */
async function executePlan(client: ScimClientApi, ops: SyncOperation[], options: ExecutorOptions) {
  const outcomes: OperationOutcome[] = [];
  const hooks = options.hooks ?? {};
  const r = await execute(client, ops, {
    ...options,
    hooks: {
      ...hooks,
      afterOperation: async (o) => {
        outcomes.push(o);
        await hooks.afterOperation?.(o);
      },
    },
  });
  outcomes.sort((a, b) => a.index - b.index);
  expect(r.failures.map((o) => o.index)).toEqual(outcomes.filter((o) => o.status !== "done").map((o) => o.index));
  return { ...r, outcomes };
}

const create = (email: string): SyncOperation => ({ op: "createUser", externalId: `ext-${email}`, user: { userName: email, emails: [{ value: email, primary: true }], active: true } });

describe("sync executor", () => {
  it("applies in order: users, member changes (adds resolving creates of this run, and removes, in one PATCH per group: RFC 7644 §3.5.2), deactivations, deletes", async () => {
    const f = fakeClient();
    const ops: SyncOperation[] = [
      { op: "deleteUser", scimId: "old-2", externalId: "x2" },
      { op: "deactivateUser", scimId: "old-1", externalId: "x1" },
      { op: "removeMembers", groupId: "g1", groupName: "catalog-admins", scimIds: ["old-1"], reason: "deprovision" },
      { op: "addMembers", groupId: "g1", groupName: "catalog-admins", members: [{ externalId: "ext-a@example.com" }, { scimId: "existing" }] },
      create("a@example.com"),
    ];
    const r = await executePlan(f.client, ops, { target: "t", bulk: false });
    expect(r.failed).toBe(0);
    // the deprovisioned member is removed before its deactivation, the new member added after its create
    expect(f.writes).toEqual(["POST /Users a@example.com", "PATCH /Groups/g1 +u1,existing -old-1", "DEACTIVATE old-1", "DELETE old-2"]);
    expect(r.outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3, 4]);
    expect(r.membershipsAdded).toBe(2);
    expect(r.membershipsRemoved).toBe(1);
  });

  it("skips members whose create failed and carries on with unrelated operations", async () => {
    const f = fakeClient({ failCreateFor: ["bad@example.com"] });
    const audit: AuditEntry[] = [];
    const ops: SyncOperation[] = [
      create("bad@example.com"),
      create("good@example.com"),
      { op: "addMembers", groupId: "g1", groupName: "catalog-admins", members: [{ externalId: "ext-bad@example.com" }, { externalId: "ext-good@example.com" }] },
      { op: "addMembers", groupId: "g1", groupName: "catalog-admins", members: [{ externalId: "ext-bad@example.com" }] },
    ];
    const r = await executePlan(f.client, ops, { target: "t", bulk: false, audit: { write: (e) => audit.push(e) } });
    expect(r.failed).toBe(1);
    expect(r.outcomes[0]!.status).toBe("failed");
    expect(r.outcomes[0]!.httpStatus).toBe(400);
    expect(r.outcomes[2]!.status).toBe("done");
    expect(r.outcomes[2]!.members).toMatchObject({ added: ["u1"], skipped: ["ext-bad@example.com"] });
    expect(r.outcomes[3]!.status).toBe("skipped");
    expect([...f.members.get("g1")!]).toEqual(["u1"]);
    const failedEntry = audit.find((e) => e.status === "failed")!;
    expect(failedEntry).toMatchObject({ op: "createUser", method: "POST", path: "/Users", httpStatus: 400, externalId: "ext-bad@example.com" });
    expect(JSON.stringify(audit)).not.toMatch(/bearer/i);
  });

  it("skips a delete whose deactivation failed in the same run", async () => {
    const f = fakeClient({ failDeactivate: ["u9"] });
    const r = await executePlan(
      f.client,
      [
        { op: "deactivateUser", scimId: "u9", externalId: "e9" },
        { op: "deleteUser", scimId: "u9", externalId: "e9" },
      ],
      { target: "t", bulk: false },
    );
    expect(r.outcomes.map((o) => o.status)).toEqual(["failed", "skipped"]);
    expect(f.writes).not.toContain("DELETE u9");
  });

  it("keeps concurrency within the configured bound", async () => {
    const f = fakeClient();
    const ops = Array.from({ length: 30 }, (_, i) => create(`user${i}@example.com`));
    const r = await executePlan(f.client, ops, { target: "t", bulk: false, concurrency: 3 });
    expect(r.done).toBe(30);
    expect(f.maxInFlight()).toBeLessThanOrEqual(3);
    expect(f.maxInFlight()).toBeGreaterThan(1);
  });

  it("sends per-user operations through /Bulk within maxOperations when advertised (RFC 7644 §3.7)", async () => {
    const f = fakeClient({ bulk: true, maxOperations: 4 });
    const ops: SyncOperation[] = [...Array.from({ length: 6 }, (_, i) => create(`b${i}@example.com`)), { op: "addMembers", groupId: "g1", groupName: "catalog-admins", members: [{ externalId: "ext-b0@example.com" }] }];
    const r = await executePlan(f.client, ops, { target: "t" });
    expect(r.failed).toBe(0);
    // the member add of b0 (created by the first request) shares the second request with the last creates
    expect(f.writes.filter((w) => w.startsWith("BULK"))).toEqual(["BULK 4", "BULK 3"]);
    expect(r.outcomes[0]!.scimId).toBe("u1");
    expect([...f.members.get("g1")!]).toEqual(["u1"]);
  });

  it("a small change is one /Bulk request: user PATCHes, member adds and removes of several groups together (RFC 7644 §3.7, §3.5.2)", async () => {
    const f = fakeClient({ bulk: true, maxOperations: 10 });
    f.members.set("g2", new Set(["old-2"]));
    f.members.get("g1")!.add("old-1");
    const ops: SyncOperation[] = [
      { op: "updateUser", scimId: "x1", externalId: "e1", patch: [{ op: "replace", path: "displayName", value: "X" }] },
      { op: "addMembers", groupId: "g1", groupName: "a", members: [{ scimId: "n1" }] },
      { op: "addMembers", groupId: "g2", groupName: "b", members: [{ scimId: "n2" }] },
      { op: "removeMembers", groupId: "g1", groupName: "a", scimIds: ["old-1"], reason: "left-group" },
      { op: "removeMembers", groupId: "g2", groupName: "b", scimIds: ["old-2"], reason: "left-group" },
    ];
    const r = await executePlan(f.client, ops, { target: "t" });
    expect(r.failed).toBe(0);
    expect(f.writes).toEqual(["BULK 3"]);
    expect([...f.members.get("g1")!]).toEqual(["n1"]);
    expect([...f.members.get("g2")!]).toEqual(["n2"]);
    expect(r.membershipsAdded).toBe(2);
    expect(r.membershipsRemoved).toBe(2);
  });

  it("without Bulk, a group's adds and removes share PATCHes of batchSize changes", async () => {
    const f = fakeClient();
    const ops: SyncOperation[] = [
      { op: "addMembers", groupId: "g1", groupName: "a", members: [{ scimId: "n1" }, { scimId: "n2" }] },
      { op: "removeMembers", groupId: "g1", groupName: "a", scimIds: ["old-1"], reason: "left-group" },
    ];
    const r = await executePlan(f.client, ops, { target: "t", bulk: false, batchSize: 3 });
    expect(r.outcomes.map((o) => o.status)).toEqual(["done", "done"]);
    expect(f.writes).toEqual(["PATCH /Groups/g1 +n1,n2 -old-1"]);
    expect(r.outcomes[0]!.members?.added).toEqual(["n1", "n2"]);
    expect(r.outcomes[1]!.members?.removed).toEqual(["old-1"]);
  });

  it("calls the hooks before sending and after the answer, and stops sending when aborted", async () => {
    const f = fakeClient();
    const seen: string[] = [];
    const controller = new AbortController();
    const r = await executePlan(f.client, [create("a@example.com"), create("b@example.com"), create("c@example.com")], {
      target: "t",
      bulk: false,
      concurrency: 1,
      signal: controller.signal,
      hooks: {
        beforeOperation: (i) => void seen.push(`before ${i}`),
        afterOperation: (o) => {
          seen.push(`after ${o.index} ${o.status}`);
          if (o.index === 0) controller.abort();
        },
      },
    });
    expect(seen).toEqual(["before 0", "after 0 done", "after 1 skipped", "after 2 skipped"]);
    expect(r.skipped).toBe(2);
    expect(f.writes).toHaveLength(1);
  });
});
