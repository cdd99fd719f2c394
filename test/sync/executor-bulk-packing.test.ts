import { describe, expect, it } from "vitest";
import { testCapabilities } from "../helpers/capabilities.js";
import { createRandom } from "../../bench/generate.js";
import { bulkRequest } from "../../src/scim/bulk.js";
import { executePlan, type AuditEntry, type OperationOutcome } from "../../src/sync/executor.js";
import type { SyncOperation } from "../../src/sync/plan-types.js";
import type { BulkOperation, BulkOperationResponse, ScimClientApi } from "../../src/scim/types.js";

interface Recorded {
  ops: BulkOperation[];
  bytes: number;
}

/**
 * A Catalog behind the client interface that processes each Bulk request in order and checks
 * its `bulkId` references (RFC 7644 §3.7.2): a reference to a create that failed, or to no
 * create of the request, is answered 409.
 */
function bulkCatalog(options: { maxOperations: number; maxPayloadSize: number; failCreateFor?: string[]; groups: Record<string, string[]> }) {
  const members = new Map(Object.entries(options.groups).map(([g, m]) => [g, new Set(m)]));
  /** Catalog id → number of the request that created it */
  const createdIn = new Map<string, number>();
  const requests: Recorded[] = [];
  const patches: { groupId: string; add: string[]; remove: string[] }[] = [];
  let n = 0;
  const caps = testCapabilities({ bulk: { supported: true, maxOperations: options.maxOperations, maxPayloadSize: options.maxPayloadSize } });
  const client: Partial<ScimClientApi> = {
    async capabilities() {
      return caps;
    },
    async patchGroupMembers(groupId, change) {
      const set = members.get(groupId)!;
      for (const v of change.add ?? []) set.add(v);
      for (const v of change.remove ?? []) set.delete(v);
      patches.push({ groupId, add: change.add ?? [], remove: change.remove ?? [] });
      return { added: change.add ?? [], removed: change.remove ?? [], failed: [], requests: 1 };
    },
    async bulk(ops: BulkOperation[]): Promise<BulkOperationResponse[]> {
      requests.push({ ops: structuredClone(ops), bytes: Buffer.byteLength(JSON.stringify(bulkRequest(ops))) });
      const ids = new Map<string, string>();
      const failed = new Set<string>();
      return ops.map((o): BulkOperationResponse => {
        const base = { method: o.method, ...(o.bulkId ? { bulkId: o.bulkId } : {}) };
        if (o.method === "POST") {
          const userName = (o.data as { userName: string }).userName;
          if (options.failCreateFor?.includes(userName)) {
            failed.add(o.bulkId!);
            return { ...base, status: "400", response: { status: "400", detail: "invalid" } };
          }
          const id = `u${++n}`;
          ids.set(o.bulkId!, id);
          createdIn.set(id, requests.length);
          return { ...base, status: "201", location: `http://x/Users/${id}` };
        }
        const group = /^\/Groups\/(.+)$/.exec(o.path)?.[1];
        if (group && o.method === "PATCH") {
          const set = members.get(decodeURIComponent(group))!;
          const body = o.data as { Operations: { op: string; path: string; value?: { value: string }[] }[] };
          const values = body.Operations.flatMap((p) => (p.value ?? []).map((v) => v.value));
          const unresolved = values.find((v) => v.startsWith("bulkId:") && !ids.has(v.slice(7)));
          if (unresolved) return { ...base, status: "409", response: { status: "409", detail: `"${unresolved}" does not refer to a resource created in this request` } };
          for (const p of body.Operations) {
            if (p.op === "add") for (const v of p.value ?? []) set.add(v.value.startsWith("bulkId:") ? ids.get(v.value.slice(7))! : v.value);
            else set.delete(/members\[value eq "(.+)"\]/.exec(p.path)![1]!);
          }
        }
        return { ...base, status: "200" };
      });
    },
  };
  return { client: client as ScimClientApi, members, requests, patches, createdIn };
}

interface RandomPlan {
  operations: SyncOperation[];
  groups: Record<string, string[]>;
  /** expected members per group once applied */
  expected: Record<string, string[]>;
  /** member changes per group */
  changes: Map<string, number>;
  userOps: number;
  adds: number;
  removes: number;
}

/** A plan like the planner's: per-user operations first, then per group its adds and its removes. */
function randomPlan(random: () => number): RandomPlan {
  const users = 1 + Math.floor(random() * 250);
  const existing = Array.from({ length: Math.floor(random() * 40) }, (_, i) => `e${i}`);
  const groupCount = 1 + Math.floor(random() * 8);
  const operations: SyncOperation[] = [];
  for (let i = 0; i < users; i++) operations.push({ op: "createUser", externalId: `ext-${i}`, user: { userName: `c${i}@example.com`, active: true } });
  for (const e of existing) if (random() < 0.2) operations.push({ op: "updateUser", scimId: e, externalId: `x-${e}`, patch: [{ op: "replace", path: "displayName", value: `D ${e}` }] });
  const groups: Record<string, string[]> = {};
  const expected: Record<string, string[]> = {};
  const changes = new Map<string, number>();
  let adds = 0;
  let removes = 0;
  for (let g = 0; g < groupCount; g++) {
    const id = `g${g}`;
    const initial = existing.filter(() => random() < 0.3);
    groups[id] = initial;
    const members: ({ scimId: string } | { externalId: string })[] = [];
    const density = random();
    for (let i = 0; i < users; i++) if (random() < density) members.push({ externalId: `ext-${i}` });
    for (const e of existing) if (!initial.includes(e) && random() < 0.2) members.push({ scimId: e });
    const removed = initial.filter(() => random() < 0.3);
    if (members.length > 0) operations.push({ op: "addMembers", groupId: id, groupName: id, members });
    if (removed.length > 0) operations.push({ op: "removeMembers", groupId: id, groupName: id, scimIds: removed, reason: "left-group" });
    changes.set(id, members.length + removed.length);
    adds += members.length;
    removes += removed.length;
    expected[id] = [...initial.filter((e) => !removed.includes(e)), ...members.map((m) => ("scimId" in m ? m.scimId : m.externalId))];
  }
  return { operations, groups, expected, changes, userOps: operations.filter((o) => o.op === "createUser" || o.op === "updateUser").length, adds, removes };
}

/** The Catalog ids of created users, by externalId, from the outcomes. */
function createdIds(outcomes: OperationOutcome[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const o of outcomes) if (o.operation.op === "createUser" && o.scimId) m.set(o.operation.externalId, o.scimId);
  return m;
}

describe("RFC 7644 §3.7 Bulk requests: the sync's member PATCHes packed with the creates", () => {
  it("for random plans: requests = ceil(operations / maxOperations), within both limits, bulkId references only to earlier creates of the same request (§3.7.2)", async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const random = createRandom(seed);
      const plan = randomPlan(random);
      const batchSize = 1 + Math.floor(random() * 25);
      const maxOperations = 2 + Math.floor(random() * 60);
      // every third plan under a tight payload limit
      const tight = seed % 3 === 0;
      const maxPayloadSize = tight ? 4_000 + Math.floor(random() * 8_000) : 10_000_000;
      const f = bulkCatalog({ maxOperations, maxPayloadSize, groups: plan.groups });
      const outcomes: OperationOutcome[] = [];
      const r = await executePlan(f.client, plan.operations, { target: "t", batchSize, hooks: { afterOperation: (o) => void outcomes.push(o) } });
      const context = `seed ${seed}`;
      expect(r.failed, context).toBe(0);
      expect(r.skipped, context).toBe(0);
      expect(r.membershipsAdded, context).toBe(plan.adds);
      expect(r.membershipsRemoved, context).toBe(plan.removes);

      // the minimum's definition: per group, its changes divided by the batch size
      const memberOps = f.requests.flatMap((q) => q.ops.filter((o) => o.path.startsWith("/Groups/")));
      for (const [g, count] of plan.changes) {
        expect(memberOps.filter((o) => o.path === `/Groups/${g}`).length, `${context} ${g}`).toBe(Math.ceil(count / batchSize));
      }
      const total = plan.userOps + [...plan.changes.values()].reduce((s, c) => s + Math.ceil(c / batchSize), 0);
      expect(f.requests.reduce((s, q) => s + q.ops.length, 0), context).toBe(total);
      if (!tight) expect(f.requests.length, context).toBe(Math.ceil(total / maxOperations));
      for (const [k, q] of f.requests.entries()) {
        expect(q.ops.length, context).toBeLessThanOrEqual(maxOperations);
        expect(q.bytes, context).toBeLessThanOrEqual(maxPayloadSize);
        // every request but the last is full by count, or the next operation would not have fit
        // (a member PATCH is measured as sent: its references may have become ids since)
        const next = f.requests[k + 1]?.ops[0];
        if (next && q.ops.length < maxOperations && !next.path.startsWith("/Groups/")) {
          expect(q.bytes + 1 + Buffer.byteLength(JSON.stringify(next)), context).toBeGreaterThan(maxPayloadSize);
        }
        const posted = new Set<string>();
        for (const o of q.ops) {
          if (o.method === "POST") posted.add(o.bulkId!);
          const values = o.path.startsWith("/Groups/") ? (o.data as { Operations: { value?: { value: string }[] }[] }).Operations.flatMap((p) => (p.value ?? []).map((v) => v.value)) : [];
          for (const v of values) {
            // a reference names a create placed before it in the same request
            if (v.startsWith("bulkId:")) expect(posted.has(v.slice(7)), `${context} ${v}`).toBe(true);
            // a Catalog id of a user created in this run comes from an earlier request
            else if (f.createdIn.has(v)) expect(f.createdIn.get(v)!, `${context} ${v}`).toBeLessThan(k + 1);
          }
        }
      }
      // creates go out group by group: a create's first naming group (plan order) never goes back
      const firstGroup = new Map<string, number>();
      plan.operations.forEach((o, i) => {
        if (o.op !== "addMembers") return;
        for (const m of o.members) if ("externalId" in m && !firstGroup.has(m.externalId)) firstGroup.set(m.externalId, i);
      });
      const userNameToExt = new Map(plan.operations.flatMap((o) => (o.op === "createUser" ? [[o.user.userName, o.externalId] as const] : [])));
      const order = f.requests.flatMap((q) => q.ops.filter((o) => o.method === "POST").map((o) => firstGroup.get(userNameToExt.get((o.data as { userName: string }).userName)!) ?? Number.POSITIVE_INFINITY));
      for (let i = 1; i < order.length; i++) expect(order[i]!, `${context} create ${i}`).toBeGreaterThanOrEqual(order[i - 1]!);
      // the Catalog ends with exactly the planned members
      const ids = createdIds(outcomes);
      for (const [g, want] of Object.entries(plan.expected)) {
        expect([...f.members.get(g)!].sort(), `${context} ${g}`).toEqual(want.map((m) => ids.get(m) ?? m).sort());
      }
    }
  });

  it("a member PATCH in the same request as a create that failed is sent again with the members that exist; the failed member is skipped", async () => {
    const operations: SyncOperation[] = [
      ...["a", "bad", "c"].map((n): SyncOperation => ({ op: "createUser", externalId: `ext-${n}`, user: { userName: `${n}@example.com`, active: true } })),
      { op: "addMembers", groupId: "g1", groupName: "g1", members: [{ externalId: "ext-a" }, { externalId: "ext-bad" }, { externalId: "ext-c" }, { scimId: "old" }] },
      { op: "addMembers", groupId: "g2", groupName: "g2", members: [{ externalId: "ext-bad" }] },
    ];
    const f = bulkCatalog({ maxOperations: 10, maxPayloadSize: 1_000_000, failCreateFor: ["bad@example.com"], groups: { g1: [], g2: [] } });
    const outcomes: OperationOutcome[] = [];
    const afterBatch: OperationOutcome[][] = [];
    const r = await executePlan(f.client, operations, {
      target: "t",
      hooks: { afterOperation: (o) => void outcomes.push(o), afterBatch: (b) => void afterBatch.push([...b]) },
    });
    // one Bulk request (3 creates and 2 member PATCHes naming them by bulkId), then the PATCH again without the failed member
    expect(f.requests.map((q) => q.ops.length)).toEqual([5]);
    const ids = createdIds(outcomes);
    expect(f.patches.map((p) => [p.groupId, p.remove.length])).toEqual([["g1", 0]]);
    expect([...f.patches[0]!.add].sort()).toEqual([ids.get("ext-a")!, ids.get("ext-c")!, "old"].sort());
    expect([...f.members.get("g1")!].sort()).toEqual([ids.get("ext-a")!, ids.get("ext-c")!, "old"].sort());
    expect([...f.members.get("g2")!]).toEqual([]);
    const byIndex = new Map(outcomes.map((o) => [o.index, o]));
    expect(byIndex.get(1)).toMatchObject({ status: "failed", httpStatus: 400 });
    expect(byIndex.get(3)!.status).toBe("done");
    expect(byIndex.get(3)!.members).toMatchObject({ skipped: ["ext-bad"], failed: [] });
    expect([...byIndex.get(3)!.members!.added].sort()).toEqual([ids.get("ext-a")!, ids.get("ext-c")!, "old"].sort());
    expect(byIndex.get(4)).toMatchObject({ status: "skipped", error: "every member's create failed in this run", members: { added: [], skipped: ["ext-bad"] } });
    // what a ledger records (from the outcomes of each request): only what the Catalog accepted
    const recorded = afterBatch.flat().flatMap((o) => o.members?.added ?? []);
    expect(recorded.sort()).toEqual([ids.get("ext-a")!, ids.get("ext-c")!, "old"].sort());
    expect(r).toMatchObject({ done: 3, failed: 1, skipped: 1, membershipsAdded: 3 });
    expect(r.failures.map((o) => o.index)).toEqual([1, 4]);
  });

  it("a create that failed in an earlier request leaves its member out of the later PATCH", async () => {
    const operations: SyncOperation[] = [
      ...Array.from({ length: 6 }, (_, i): SyncOperation => ({ op: "createUser", externalId: `ext-${i}`, user: { userName: `${i}@example.com`, active: true } })),
      { op: "addMembers", groupId: "g1", groupName: "g1", members: Array.from({ length: 6 }, (_, i) => ({ externalId: `ext-${i}` })) },
    ];
    const f = bulkCatalog({ maxOperations: 4, maxPayloadSize: 1_000_000, failCreateFor: ["1@example.com"], groups: { g1: [] } });
    const outcomes: OperationOutcome[] = [];
    const r = await executePlan(f.client, operations, { target: "t", batchSize: 100, hooks: { afterOperation: (o) => void outcomes.push(o) } });
    // 6 creates + 1 PATCH in ceil(7 / 4) = 2 requests; the PATCH names 0..3 by id and 4, 5 by bulkId
    expect(f.requests.map((q) => q.ops.length)).toEqual([4, 3]);
    expect(f.patches).toEqual([]);
    const ids = createdIds(outcomes);
    expect([...f.members.get("g1")!].sort()).toEqual([0, 2, 3, 4, 5].map((i) => ids.get(`ext-${i}`)!).sort());
    const add = outcomes.find((o) => o.operation.op === "addMembers")!;
    expect(add.status).toBe("done");
    expect(add.members!.skipped).toEqual(["ext-1"]);
    expect(r).toMatchObject({ failed: 1, membershipsAdded: 5 });
  });

  it("the audit log gets the entries of one request in one write, one entry per operation", async () => {
    const operations: SyncOperation[] = [
      ...Array.from({ length: 6 }, (_, i): SyncOperation => ({ op: "createUser", externalId: `ext-${i}`, user: { userName: `${i}@example.com`, active: true } })),
      { op: "addMembers", groupId: "g1", groupName: "g1", members: Array.from({ length: 6 }, (_, i) => ({ externalId: `ext-${i}` })) },
    ];
    const f = bulkCatalog({ maxOperations: 4, maxPayloadSize: 1_000_000, failCreateFor: ["1@example.com"], groups: { g1: [] } });
    const writes: AuditEntry[][] = [];
    const single: AuditEntry[] = [];
    await executePlan(f.client, operations, { target: "t", batchSize: 100, audit: { write: (e) => void single.push(e), writeMany: (es) => void writes.push([...es]) } });
    expect(single).toEqual([]);
    // two requests: 4 creates, then 2 creates and the PATCH (settled with them)
    expect(writes.map((w) => w.length)).toEqual([4, 3]);
    const entries = writes.flat();
    expect(entries.map((e) => e.op).sort()).toEqual([...Array(6).fill("createUser"), "addMembers"].sort());
    expect(entries.filter((e) => e.status === "failed")).toHaveLength(1);
    // a sink without writeMany gets one write per entry, the same entries
    const g = bulkCatalog({ maxOperations: 4, maxPayloadSize: 1_000_000, failCreateFor: ["1@example.com"], groups: { g1: [] } });
    const each: AuditEntry[] = [];
    await executePlan(g.client, operations.map((o) => structuredClone(o)), { target: "t", batchSize: 100, audit: { write: (e) => void each.push(e) } });
    expect(each.map((e) => [e.op, e.status])).toEqual(entries.map((e) => [e.op, e.status]));
  });
});
