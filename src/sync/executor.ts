/**
 * Applies a sync plan to the Catalog. It never decides: the plan says what to do, the
 * executor does it in a safe order and reports each outcome.
 *
 * - Phases: create/adopt/update/reactivate → member changes → deactivate → delete. A later
 *   step that depends on a failed one is skipped and reported (a member whose create failed, a
 *   delete whose deactivation failed); unrelated operations carry on. A member removal (left
 *   group or deprovisioning) always goes out before the deactivation that follows it.
 * - Member changes: a group's adds and removes share PATCHes of `batchSize` changes (RFC forms
 *   only: one `add` of explicit values, `remove` with `members[value eq "…"]`; one PATCH,
 *   several Operations, RFC 7644 §3.5.2).
 * - Bounded concurrency (default 8); retries and rate limits live in the SCIM client.
 * - `/Bulk` when the Catalog advertises it (within `maxOperations` and `maxPayloadSize`): the
 *   per-user operations and the member PATCHes form one ordered stream of operations cut into
 *   requests (`runStream`); a member PATCH goes out as soon as its members' creates are placed,
 *   naming a user created in the same request by `bulkId:` (RFC 7644 §3.7.2), so every request
 *   is full. A member PATCH refused there is sent again through `patchGroupMembers` with the
 *   members that exist, which also isolates a refused value.
 * - Hooks: `beforeBatch` / `afterBatch` frame each request (a Bulk request is one batch), so
 *   that a caller can record a whole request durably at once (group commit).
 * - Memory: outcomes are handed to the hooks and the audit log as they settle; the result keeps
 *   counters and the outcomes that did not succeed, not every outcome. One Bulk request is built
 *   at a time, just before it is sent.
 * - A failed operation is not retried here beyond the client's retries: the next run
 *   recomputes the plan and tries again.
 */
import { ScimResponseError } from "../errors.js";
import { addMembers, patchRequest, removeMember } from "../scim/patch.js";
import { SCHEMA_PATCH_OP, SCHEMA_USER } from "../scim/types.js";
import type { BulkOperation, BulkOperationResponse, PatchOperation, ScimClientApi, ScimUser } from "../scim/types.js";
import { bulkOperationSize, bulkRequestOverhead } from "../scim/bulk.js";
import type { MemberRef, SyncOperation } from "./plan-types.js";

export type OperationStatus = "done" | "failed" | "skipped";

export interface OperationOutcome {
  /** position of the operation in the plan */
  index: number;
  operation: SyncOperation;
  status: OperationStatus;
  /** the Catalog user id the operation touched (the new id for a create) */
  scimId?: string;
  /** the user as the Catalog returned it, when it did: seen by the hooks, not kept in the result */
  user?: ScimUser;
  /** member changes the Catalog accepted (addMembers / removeMembers), and those it refused or that were skipped */
  members?: { added: string[]; removed: string[]; failed: string[]; skipped: string[] };
  /** HTTP status of the failure, when there was one */
  httpStatus?: number;
  /** safe to log: never a key or token */
  error?: string;
}

export interface ExecutorHooks {
  /**
   * called once before the operations of one request are sent, before their `beforeOperation`
   * (the snapshot records their intents here, in one transaction)
   */
  beforeBatch?(items: readonly { index: number; operation: SyncOperation }[]): void | Promise<void>;
  /** called once the outcomes of one request are settled, before their `afterOperation` (the ledger and the snapshot record them here) */
  afterBatch?(outcomes: readonly OperationOutcome[]): void | Promise<void>;
  /** called before an operation is sent */
  beforeOperation?(index: number, operation: SyncOperation): void | Promise<void>;
  /** called once the Catalog answered (or the operation was skipped) */
  afterOperation?(outcome: OperationOutcome): void | Promise<void>;
}

export interface AuditEntry {
  time: string;
  target: string;
  op: SyncOperation["op"];
  method: string;
  path: string;
  status: OperationStatus;
  httpStatus?: number;
  scimId?: string;
  externalId?: string;
  groupId?: string;
  members?: number;
  error?: string;
}

export interface AuditSink {
  write(entry: AuditEntry): void;
  /** the entries of the outcomes settled together (one request's), in one write; default one `write` each */
  writeMany?(entries: readonly AuditEntry[]): void;
}

export interface ExecutorOptions {
  target: string;
  /** concurrent operations; default 8 */
  concurrency?: number;
  /** member changes per PATCH; default 100 */
  batchSize?: number;
  /** use `/Bulk` when advertised; default true */
  bulk?: boolean;
  hooks?: ExecutorHooks;
  audit?: AuditSink;
  now?: () => Date;
  /** stops sending new operations when aborted; what is in flight completes */
  signal?: AbortSignal;
  /**
   * the caller hands the operations array over: it is emptied at the start and each operation
   * is let go once settled, so that a large plan is not held through the whole run
   */
  consume?: boolean;
}

export type OperationCounts = Record<SyncOperation["op"], number>;

/**
 * What the execution did, as counters: every outcome went to the hooks and the audit log as
 * it settled; only the outcomes that did not succeed are kept.
 */
export interface ExecutionResult {
  done: number;
  failed: number;
  skipped: number;
  /** operations done, by kind */
  doneByOp: OperationCounts;
  membershipsAdded: number;
  membershipsRemoved: number;
  /** the failed and skipped operations, in plan order (without the returned users) */
  failures: OperationOutcome[];
}

type Phase = "users" | "members" | "deactivate" | "delete";

const PHASE_OF: Record<SyncOperation["op"], Phase> = {
  createUser: "users",
  adoptUser: "users",
  updateUser: "users",
  reactivateUser: "users",
  addMembers: "members",
  removeMembers: "members",
  deactivateUser: "deactivate",
  deleteUser: "delete",
};

const PHASES: Phase[] = ["users", "members", "deactivate", "delete"];

type Item = { operation: SyncOperation; index: number };

const stopped = (item: Item): OperationOutcome => ({ index: item.index, operation: item.operation, status: "skipped", error: "the run was stopped" });

/** Apply `operations` in the safe order. Never throws for an operation's failure. */
export async function executePlan(
  client: ScimClientApi,
  operations: readonly SyncOperation[],
  options: ExecutorOptions,
): Promise<ExecutionResult> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const batchSize = Math.max(1, options.batchSize ?? 100);
  const now = options.now ?? (() => new Date());
  const result: ExecutionResult = {
    done: 0,
    failed: 0,
    skipped: 0,
    doneByOp: { createUser: 0, adoptUser: 0, updateUser: 0, reactivateUser: 0, addMembers: 0, removeMembers: 0, deactivateUser: 0, deleteUser: 0 },
    membershipsAdded: 0,
    membershipsRemoved: 0,
    failures: [],
  };
  /** externalId → scimId of users created in this run (for a member phase of its own) */
  const created = new Map<string, string>();
  /** externalIds whose create failed or was skipped (for a member phase of its own) */
  const notCreated = new Set<string>();
  /** the member changes go out with the users, in one Bulk stream: creates are resolved there */
  let streamed = false;
  /** users whose deactivation failed: their delete is skipped */
  const notDeactivated = new Set<string>();

  let bulk: { maxOperations: number; maxPayloadSize: number } | undefined;
  if (options.bulk !== false && operations.length > 0 && (operations.length > 1 || memberPieceCount(operations, batchSize) > 1)) {
    try {
      const caps = await client.capabilities();
      if (caps.bulk.supported && caps.bulk.maxOperations > 1) bulk = { maxOperations: caps.bulk.maxOperations, maxPayloadSize: caps.bulk.maxPayloadSize };
    } catch {
      bulk = undefined;
    }
  }

  const finishMany = async (batch: OperationOutcome[]): Promise<void> => {
    if (batch.length === 0) return;
    const at = now();
    const audit: AuditEntry[] = [];
    for (const outcome of batch) {
      const op = outcome.operation;
      if (outcome.status === "done") {
        result.done++;
        result.doneByOp[op.op]++;
      } else {
        if (outcome.status === "failed") result.failed++;
        else result.skipped++;
      }
      result.membershipsAdded += outcome.members?.added.length ?? 0;
      result.membershipsRemoved += outcome.members?.removed.length ?? 0;
      if (op.op === "createUser" && !streamed) {
        if (outcome.status === "done" && outcome.scimId) created.set(op.externalId, outcome.scimId);
        else notCreated.add(op.externalId);
      }
      if (op.op === "deactivateUser" && outcome.status !== "done") notDeactivated.add(op.scimId);
      if (options.audit) audit.push(auditEntry(options.target, outcome, at));
    }
    if (options.audit?.writeMany) options.audit.writeMany(audit);
    else for (const entry of audit) options.audit?.write(entry);
    await options.hooks?.afterBatch?.(batch);
    for (const outcome of batch) await options.hooks?.afterOperation?.(outcome);
    // the returned user is for the hooks (the snapshot records it); the result keeps what did not succeed, ids only
    for (const outcome of batch) {
      if (outcome.status === "done") continue;
      delete outcome.user;
      result.failures.push(outcome);
    }
  };
  const finish = (outcome: OperationOutcome): Promise<void> => finishMany([outcome]);

  const byPhase: Record<Phase, Item[]> = { users: [], members: [], deactivate: [], delete: [] };
  operations.forEach((operation, index) => byPhase[PHASE_OF[operation.op]].push({ operation, index }));
  if (options.consume) (operations as SyncOperation[]).length = 0;
  for (const phase of PHASES) {
    const items = byPhase[phase];
    byPhase[phase] = [];
    if (phase === "members" && streamed) continue;
    if (items.length === 0) continue;
    const runnable: Item[] = [];
    for (const item of items) {
      const skip = dependencySkip(item.operation, notCreated, notDeactivated);
      if (skip) await finish({ index: item.index, operation: item.operation, status: "skipped", error: skip });
      else runnable.push(item);
    }
    // from here `runnable` (and what takes its items) is the only holder: settled items are let go
    items.length = 0;
    if (options.signal?.aborted) {
      await finishMany(runnable.map(stopped));
      continue;
    }
    if (bulk && (phase === "users" || phase === "members")) {
      const sendable: Item[] = [];
      const local: Item[] = [];
      // an adoption with nothing to change sends no request
      if (phase === "users") for (const item of runnable) (item.operation.op === "adoptUser" && item.operation.patch.length === 0 ? local : sendable).push(item);
      for (const item of local) await runSingle(client, item, batchSize, created, options, finish);
      const members = phase === "users" ? byPhase.members : runnable;
      // more than one request's worth: user operations and member changes share `/Bulk` requests
      if (sendable.length + memberPieceCount(members.map((i) => i.operation), batchSize) > 1) {
        streamed = true;
        byPhase.members = [];
        if (phase === "users") runnable.length = 0;
        await runStream(client, sendable, members, batchSize, bulk, options, finishMany);
        continue;
      }
      if (phase === "users") {
        for (const item of sendable) await runSingle(client, item, batchSize, created, options, finish);
        continue;
      }
    }
    if (bulk && (phase === "deactivate" || phase === "delete")) {
      for (const chunk of chunks(runnable, bulk.maxOperations, bulk.maxPayloadSize)) {
        if (options.signal?.aborted) {
          await finishMany(chunk.map(stopped));
          continue;
        }
        if (chunk.length === 1) await runSingle(client, chunk[0]!, batchSize, created, options, finish);
        else await runBulk(client, chunk, options, finishMany);
      }
      continue;
    }
    if (phase === "members") {
      // one PATCH stream per group, adds and removes together
      const byGroup = new Map<string, Item[]>();
      for (const item of runnable) {
        const groupId = (item.operation as { groupId: string }).groupId;
        const list = byGroup.get(groupId);
        if (list) list.push(item);
        else byGroup.set(groupId, [item]);
      }
      await pool([...byGroup], concurrency, async ([groupId, groupItems]) => {
        if (options.signal?.aborted) {
          await finishMany(groupItems.map(stopped));
          return;
        }
        await runGroupMembers(client, groupId, groupItems, batchSize, created, options, finishMany);
      });
      continue;
    }
    await pool(runnable, concurrency, async (item) => {
      if (options.signal?.aborted) {
        await finish(stopped(item));
        return;
      }
      await runSingle(client, item, batchSize, created, options, finish);
    });
  }

  result.failures.sort((a, b) => a.index - b.index);
  return result;
}

function dependencySkip(op: SyncOperation, notCreated: Set<string>, notDeactivated: Set<string>): string | undefined {
  if (op.op === "deleteUser" && notDeactivated.has(op.scimId)) return "its deactivation failed in this run";
  if (op.op === "addMembers" && op.members.length > 0 && op.members.every((m) => "externalId" in m && notCreated.has(m.externalId))) {
    return "every member's create failed in this run";
  }
  return undefined;
}

async function runSingle(
  client: ScimClientApi,
  item: { operation: SyncOperation; index: number },
  batchSize: number,
  created: Map<string, string>,
  options: ExecutorOptions,
  finish: (o: OperationOutcome) => Promise<void>,
): Promise<void> {
  const { operation: op, index } = item;
  const base = { index, operation: op };
  if (op.op === "addMembers") {
    const { values, skipped } = resolveMembers(op.members, created);
    if (values.length === 0) {
      await finish({ ...base, status: "skipped", members: { added: [], removed: [], failed: [], skipped }, error: "no member could be resolved" });
      return;
    }
    const resolved: SyncOperation = { ...op, members: values.map((scimId) => ({ scimId })) };
    await options.hooks?.beforeBatch?.([{ index, operation: resolved }]);
    await options.hooks?.beforeOperation?.(index, resolved);
    let outcome: OperationOutcome;
    try {
      const r = await client.patchGroupMembers(op.groupId, { add: values }, { batchSize });
      const failed = r.failed.map((f) => f.value);
      outcome = {
        ...base,
        status: failed.length > 0 ? "failed" : "done",
        members: { added: r.added, removed: [], failed, skipped },
        ...(failed.length > 0 ? { error: `${failed.length} member value(s) refused`, ...statusOf(r.failed[0]!.error) } : {}),
      };
    } catch (e) {
      outcome = { ...base, status: "failed", members: { added: [], removed: [], failed: values, skipped }, ...errorOf(e) };
    }
    await finish(outcome);
    return;
  }
  if (op.op === "removeMembers") {
    await options.hooks?.beforeBatch?.([{ index, operation: op }]);
    await options.hooks?.beforeOperation?.(index, op);
    let outcome: OperationOutcome;
    try {
      const r = await client.patchGroupMembers(op.groupId, { remove: op.scimIds }, { batchSize });
      const failed = r.failed.map((f) => f.value);
      outcome = {
        ...base,
        status: failed.length > 0 ? "failed" : "done",
        members: { added: [], removed: r.removed, failed, skipped: [] },
        ...(failed.length > 0 ? { error: `${failed.length} member value(s) refused`, ...statusOf(r.failed[0]!.error) } : {}),
      };
    } catch (e) {
      outcome = { ...base, status: "failed", members: { added: [], removed: [], failed: op.scimIds, skipped: [] }, ...errorOf(e) };
    }
    await finish(outcome);
    return;
  }
  await options.hooks?.beforeBatch?.([{ index, operation: op }]);
  await options.hooks?.beforeOperation?.(index, op);
  // the outcome is settled first, then reported: a failing hook must not turn a done operation into a failed one
  let outcome: OperationOutcome;
  try {
    outcome = await sendUserOperation(client, op, base);
  } catch (e) {
    outcome = { ...base, status: "failed", ...("scimId" in op ? { scimId: op.scimId } : {}), ...errorOf(e) };
  }
  await finish(outcome);
}

async function sendUserOperation(
  client: ScimClientApi,
  op: Exclude<SyncOperation, { op: "addMembers" } | { op: "removeMembers" }>,
  base: { index: number; operation: SyncOperation },
): Promise<OperationOutcome> {
  switch (op.op) {
    case "createUser": {
      const user = await client.createUser({ ...op.user, externalId: op.externalId });
      return { ...base, status: "done", scimId: user.id, user };
    }
    case "adoptUser":
    case "updateUser": {
      const user = op.patch.length > 0 ? await client.patchUser(op.scimId, op.patch) : undefined;
      return { ...base, status: "done", scimId: op.scimId, ...(user ? { user } : {}) };
    }
    case "reactivateUser": {
      const user = await client.patchUser(op.scimId, [{ op: "replace", path: "active", value: true }]);
      return { ...base, status: "done", scimId: op.scimId, ...(user ? { user } : {}) };
    }
    case "deactivateUser":
      await client.deactivateUser(op.scimId);
      return { ...base, status: "done", scimId: op.scimId };
    case "deleteUser":
      await client.deleteUser(op.scimId);
      return { ...base, status: "done", scimId: op.scimId };
  }
}

/** One `/Bulk` request for per-user operations; results are matched by `bulkId`. */
async function runBulk(
  client: ScimClientApi,
  chunk: { operation: SyncOperation; index: number }[],
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  await options.hooks?.beforeBatch?.(chunk);
  for (const item of chunk) await options.hooks?.beforeOperation?.(item.index, item.operation);
  const ops = chunk.map((item) => toBulkOperation(item.operation, `op-${item.index}`));
  let responses: BulkOperationResponse[];
  try {
    responses = await client.bulk(ops);
  } catch (e) {
    await finishMany(chunk.map((item) => ({ index: item.index, operation: item.operation, status: "failed" as const, ...scimIdOf(item.operation), ...errorOf(e) })));
    return;
  }
  await finishMany(userBulkOutcomes(chunk, responses));
}

/** The outcomes of per-user operations from a `/Bulk` answer, matched by `bulkId` (else by position). */
function userBulkOutcomes(chunk: { operation: SyncOperation; index: number }[], responses: BulkOperationResponse[]): OperationOutcome[] {
  const settled: OperationOutcome[] = [];
  const finish = (o: OperationOutcome): void => {
    settled.push(o);
  };
  const byBulkId = new Map(responses.filter((r) => r.bulkId).map((r) => [r.bulkId!, r]));
  for (const [i, item] of chunk.entries()) {
    const r = byBulkId.get(`op-${item.index}`) ?? responses[i];
    const base = { index: item.index, operation: item.operation };
    if (!r) {
      finish({ ...base, status: "failed", ...scimIdOf(item.operation), error: "no result in the bulk response" });
      continue;
    }
    const status = Number(r.status);
    const ok = (status >= 200 && status < 300) || (item.operation.op === "deleteUser" && status === 404);
    if (!ok) {
      const detail = (r.response as { detail?: unknown } | undefined)?.detail;
      finish({
        ...base,
        status: "failed",
        ...scimIdOf(item.operation),
        httpStatus: status,
        error: `bulk ${r.method} failed with ${status}${typeof detail === "string" ? `: ${detail.slice(0, 200)}` : ""}`,
      });
      continue;
    }
    const body = r.response as ScimUser | undefined;
    if (item.operation.op === "createUser") {
      const id = (body && typeof body.id === "string" ? body.id : undefined) ?? idFromLocation(r.location);
      if (!id) {
        finish({ ...base, status: "failed", error: "the bulk create returned no id" });
        continue;
      }
      finish({ ...base, status: "done", scimId: id, ...(body && typeof body.userName === "string" ? { user: body } : {}) });
    } else {
      finish({ ...base, status: "done", ...scimIdOf(item.operation), ...(body && typeof body.userName === "string" ? { user: body } : {}) });
    }
  }
  return settled;
}


interface MemberAccount {
  item: Item;
  kind: "add" | "remove";
  group: GroupQueue;
  added: string[];
  removed: string[];
  failed: string[];
  skipped: string[];
  firstError?: { error: string; httpStatus?: number };
  /** pieces formed (ready or sent) that carry some of its entries, not answered yet */
  remaining: number;
  /** entries waiting in its group's queue */
  queued: number;
  /** members whose create is not placed in a request yet */
  waiting: number;
  started: boolean;
  allFailedCreates: boolean;
}

interface GroupQueue {
  groupId: string;
  key: number;
  /** member changes not in a PATCH yet: who asked for each (parallel to `values`) */
  accounts: MemberAccount[];
  /** a known Catalog id, or a user created in this stream */
  values: MemberValue[];
  /** member creates not placed yet, over all its accounts */
  waiting: number;
  sent: number;
}

/**
 * A user created in this stream, shared by every member change that names it: `ref` is its
 * create's `bulkId`, `request` the request the create was placed in; `id` is set once the
 * create is answered, `failed` when it failed.
 */
interface StreamCreate {
  ref: string;
  request: number;
  externalId: string;
  id: string | undefined;
  failed: boolean;
}

type MemberValue = string | StreamCreate;

/** One member PATCH: up to `batchSize` changes of one group, adds and removes together (RFC 7644 §3.5.2). */
interface MemberPiece {
  group: GroupQueue;
  /** per change, parallel to `values` */
  accounts: MemberAccount[];
  values: MemberValue[];
  /** the accounts it carries changes of, once each */
  owners: MemberAccount[];
}

/** the Catalog id of a member value, when known */
const idOf = (v: MemberValue): string | undefined => (typeof v === "string" ? v : v.id);

/**
 * The users phase and the member changes as one ordered stream of Bulk operations, cut into
 * requests of at most `maxOperations` operations and `maxPayloadSize` bytes (RFC 7644 §3.7).
 * The stream is the per-user operations in plan order; right after a create, every group that
 * now has `batchSize` changes whose creates are placed gets its member PATCH, and a group's last
 * partial PATCH follows its last create. A member created in the same request is named by
 * `bulkId:<id>` (after its create, RFC 7644 §3.7.2), one created by an earlier request by its
 * Catalog id. Requests go out one at a time, each built just before it is sent, so every
 * request but the last is full when the payload limit allows: ceil(operations / maxOperations).
 * A member PATCH answered 400 (a refused value), or 409/404 while it names a create of its
 * request (a `bulkId` the Catalog could not resolve), is sent again through
 * `patchGroupMembers` with the members that exist; a member whose create failed is skipped.
 * Memory: a member change is two array slots (who, which), a created user one shared record.
 */
async function runStream(
  client: ScimClientApi,
  /** taken over: each is let go once placed in a request */
  users: (Item | undefined)[],
  /** taken over: emptied once registered */
  memberItems: Item[],
  batchSize: number,
  limits: { maxOperations: number; maxPayloadSize: number },
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  const groups = new Map<string, GroupQueue>();
  const unsettled = new Set<MemberAccount>();
  /** externalId of a create in the stream → the member operations naming it (dropped once placed) */
  const waitingFor = new Map<string, MemberAccount | MemberAccount[]>();
  const ready: MemberPiece[] = [];

  const emit = (g: GroupQueue): void => {
    const final = g.waiting === 0;
    while (g.values.length >= batchSize || (final && g.values.length > 0)) {
      const accounts = g.accounts.splice(0, batchSize);
      const values = g.values.splice(0, batchSize);
      const owners: MemberAccount[] = [];
      for (const a of accounts) {
        a.queued--;
        if (owners[owners.length - 1] !== a && !owners.includes(a)) owners.push(a);
      }
      for (const a of owners) a.remaining++;
      ready.push({ group: g, accounts, values, owners });
    }
  };
  const settleable = (a: MemberAccount): boolean => a.waiting === 0 && a.queued === 0 && a.remaining === 0;
  const settle = (candidates: Iterable<MemberAccount>, out: OperationOutcome[]): void => {
    for (const a of candidates) {
      if (!unsettled.has(a) || !settleable(a)) continue;
      unsettled.delete(a);
      out.push(memberOutcome(a, false));
    }
  };
  orderCreatesByGroup(users, memberItems);
  const record: MemberRecorder = {
    accept(a, value) {
      (a.kind === "add" ? a.added : a.removed).push(value);
    },
    fail(a, value, e) {
      a.failed.push(value);
      a.firstError ??= e;
    },
    skip(a, v) {
      a.skipped.push(typeof v === "string" ? v : v.externalId);
    },
  };

  {
    const inStream = new Set<string>();
    for (const item of users) if (item?.operation.op === "createUser") inStream.add(item.operation.externalId);
    const initial: OperationOutcome[] = [];
    for (const item of memberItems) {
      const op = item.operation;
      if (op.op !== "addMembers" && op.op !== "removeMembers") continue;
      let g = groups.get(op.groupId);
      if (!g) {
        g = { groupId: op.groupId, key: item.index, accounts: [], values: [], waiting: 0, sent: 0 };
        groups.set(op.groupId, g);
      }
      const a: MemberAccount = {
        item,
        kind: op.op === "addMembers" ? "add" : "remove",
        group: g,
        added: [],
        removed: [],
        failed: [],
        skipped: [],
        remaining: 0,
        queued: 0,
        waiting: 0,
        started: false,
        allFailedCreates: op.op === "addMembers" && op.members.length > 0,
      };
      // Catalog ids named twice by one operation are changed once
      let seen: Set<string> | undefined;
      const known = (value: string): void => {
        seen ??= new Set();
        if (seen.has(value)) return;
        seen.add(value);
        a.queued++;
        g.accounts.push(a);
        g.values.push(value);
      };
      if (op.op === "removeMembers") for (const id of op.scimIds) known(id);
      else {
        for (const m of op.members) {
          if ("scimId" in m) {
            a.allFailedCreates = false;
            known(m.scimId);
          } else if (inStream.has(m.externalId)) {
            const named = waitingFor.get(m.externalId);
            // a member named twice by one operation is added once
            if (named === a || (Array.isArray(named) && named[named.length - 1] === a)) continue;
            if (named === undefined) waitingFor.set(m.externalId, a);
            else if (Array.isArray(named)) named.push(a);
            else waitingFor.set(m.externalId, [named, a]);
            a.waiting++;
            g.waiting++;
          } else {
            a.allFailedCreates = false;
            a.skipped.push(m.externalId);
          }
        }
      }
      if (settleable(a)) initial.push(memberOutcome(a, false));
      else unsettled.add(a);
    }
    memberItems.length = 0;
    await finishMany(initial);
  }
  for (const g of groups.values()) emit(g);

  const overhead = bulkRequestOverhead();
  const maxBytes = limits.maxPayloadSize > 0 ? limits.maxPayloadSize : Number.POSITIVE_INFINITY;
  let u = 0;
  let request = 0;
  while ((ready.length > 0 || u < users.length) && !options.signal?.aborted) {
    request++;
    const ops: BulkOperation[] = [];
    let size = overhead;
    const fits = (bytes: number): boolean => ops.length === 0 || size + 1 + bytes <= maxBytes;
    const add = (op: BulkOperation, bytes: number): void => {
      size += bytes + (ops.length > 0 ? 1 : 0);
      ops.push(op);
    };
    const sentUsers: Item[] = [];
    const sentPieces: { piece: MemberPiece; bulkId: string }[] = [];
    /** the creates of this request, by `bulkId` */
    const placed = new Map<string, StreamCreate>();
    const starting: MemberAccount[] = [];
    /** accounts whose state changed without a request (a piece left empty) */
    const touched = new Set<MemberAccount>();
    /** the next member PATCH does not fit this request: per-user operations that still fit go first */
    let blocked = false;
    while (ops.length < limits.maxOperations) {
      const piece = blocked ? undefined : ready[0];
      if (piece) {
        const adds: string[] = [];
        const removes: string[] = [];
        let sendable = 0;
        for (const [k, v] of piece.values.entries()) {
          const value = typeof v === "string" ? v : v.id ?? (!v.failed && v.request === request ? `bulkId:${v.ref}` : undefined);
          if (value === undefined) continue;
          (piece.accounts[k]!.kind === "add" ? adds : removes).push(value);
          sendable++;
        }
        if (sendable === 0) {
          // every member's create failed: nothing to send
          ready.shift();
          for (const [k, v] of piece.values.entries()) record.skip(piece.accounts[k]!, v);
          for (const a of piece.owners) {
            a.remaining--;
            touched.add(a);
          }
          continue;
        }
        const bulkId = `m-${piece.group.key}-${piece.group.sent}`;
        const op: BulkOperation = { method: "PATCH", bulkId, path: `/Groups/${encodeURIComponent(piece.group.groupId)}`, data: patchRequest(memberPatchOperations(adds, removes)) };
        const bytes = bulkOperationSize(op);
        if (!fits(bytes)) {
          blocked = true;
          continue;
        }
        ready.shift();
        piece.group.sent++;
        add(op, bytes);
        sentPieces.push({ piece, bulkId });
        for (const a of piece.owners) {
          if (a.started) continue;
          a.started = true;
          starting.push(a);
        }
        continue;
      }
      const item = users[u];
      if (!item) break;
      const op = toBulkOperation(item.operation, `op-${item.index}`);
      const bytes = bulkOperationSize(op);
      if (!fits(bytes)) break;
      add(op, bytes);
      users[u++] = undefined;
      sentUsers.push(item);
      if (item.operation.op !== "createUser") continue;
      const named = waitingFor.get(item.operation.externalId);
      if (!named) continue;
      waitingFor.delete(item.operation.externalId);
      const c: StreamCreate = { ref: op.bulkId!, request, externalId: item.operation.externalId, id: undefined, failed: false };
      placed.set(c.ref, c);
      for (const a of Array.isArray(named) ? named : [named]) {
        a.waiting--;
        a.group.waiting--;
        a.queued++;
        a.group.accounts.push(a);
        a.group.values.push(c);
        // the member PATCHes this create completes come right after it
        emit(a.group);
      }
    }

    const settledNow: OperationOutcome[] = [];
    if (ops.length === 0) {
      settle(touched, settledNow);
      await finishMany(settledNow);
      continue;
    }
    const announce: Item[] = [...sentUsers, ...starting.map((a) => a.item)];
    await options.hooks?.beforeBatch?.(announce);
    for (const item of announce) await options.hooks?.beforeOperation?.(item.index, item.operation);

    let responses: BulkOperationResponse[] | undefined;
    let thrown: unknown;
    try {
      responses = await client.bulk(ops);
    } catch (e) {
      thrown = e;
    }
    ops.length = 0;
    const userOutcomes: OperationOutcome[] = responses
      ? userBulkOutcomes(
          sentUsers,
          responses.filter((r) => !r.bulkId?.startsWith("m-")),
        )
      : sentUsers.map((item) => ({ index: item.index, operation: item.operation, status: "failed" as const, ...scimIdOf(item.operation), ...errorOf(thrown) }));
    // the members created in this request: their Catalog ids, or a failed create
    for (const o of userOutcomes) {
      const c = o.operation.op === "createUser" ? placed.get(`op-${o.index}`) : undefined;
      if (!c) continue;
      if (o.status === "done" && o.scimId) c.id = o.scimId;
      else c.failed = true;
    }
    const byBulkId = new Map<string, BulkOperationResponse>();
    for (const r of responses ?? []) if (r.bulkId?.startsWith("m-")) byBulkId.set(r.bulkId, r);
    for (const { piece, bulkId } of sentPieces) {
      const r = byBulkId.get(bulkId);
      const status = r ? Number(r.status) : 0;
      const { accounts, values } = piece;
      if (r && status >= 200 && status < 300) {
        for (const [k, v] of values.entries()) {
          const id = idOf(v);
          if (id !== undefined) {
            record.accept(accounts[k]!, id);
            if (typeof v !== "string") accounts[k]!.allFailedCreates = false;
          } else record.skip(accounts[k]!, v);
        }
      } else if (r && (status === 400 || ((status === 409 || status === 404) && values.some((v) => typeof v !== "string" && v.request === request)))) {
        await resendMembers(client, piece, batchSize, record);
      } else {
        const err = r
          ? { httpStatus: status, error: `bulk PATCH failed with ${status}${bulkDetail(r)}` }
          : responses
            ? { error: "no result in the bulk response" }
            : errorOf(thrown);
        for (const [k, v] of values.entries()) {
          const id = idOf(v);
          if (id !== undefined) record.fail(accounts[k]!, id, err);
          else record.skip(accounts[k]!, v);
        }
      }
      for (const a of piece.owners) {
        a.remaining--;
        touched.add(a);
      }
    }
    settledNow.push(...userOutcomes);
    settle(touched, settledNow);
    await finishMany(settledNow);
  }

  // stopped: what was not sent is reported, nothing more goes out
  const rest: OperationOutcome[] = [];
  for (; u < users.length; u++) {
    const item = users[u]!;
    users[u] = undefined;
    rest.push(stopped(item));
    if (item.operation.op !== "createUser") continue;
    const named = waitingFor.get(item.operation.externalId);
    for (const a of named === undefined ? [] : Array.isArray(named) ? named : [named]) {
      a.waiting--;
      a.group.waiting--;
      a.skipped.push(item.operation.externalId);
    }
  }
  const unsent = (accounts: MemberAccount[], values: MemberValue[]): void => {
    for (const [k, v] of values.entries()) {
      const a = accounts[k]!;
      const id = idOf(v);
      if (id === undefined) record.skip(a, v);
      else if (a.started) record.fail(a, id, { error: "the run was stopped" });
    }
  };
  for (const p of ready) unsent(p.accounts, p.values);
  for (const g of groups.values()) unsent(g.accounts, g.values);
  for (const a of unsettled) rest.push(memberOutcome(a, options.signal?.aborted === true));
  await finishMany(rest);
}

/**
 * Puts the creates in the order that completes groups one after another: the per-user
 * operations that are not creates first (plan order), then, group by group (plan order), the
 * creates of its members not placed yet, then the creates no member change names. In plan order
 * (sorted by identifier) every group would wait for creates spread over the whole stream and
 * all the last partial member PATCHes would pile up at its end, where the payload limit, not
 * `maxOperations`, cuts the requests; completed one after another, they spread over the
 * stream and every request can be full. Creates do not depend on each other, so any order is
 * safe; the outcomes and the ledger do not depend on it either.
 */
function orderCreatesByGroup(users: (Item | undefined)[], memberItems: readonly Item[]): void {
  const creates = new Map<string, Item>();
  const out: Item[] = [];
  for (const item of users) {
    if (!item) continue;
    if (item.operation.op === "createUser") creates.set(item.operation.externalId, item);
    else out.push(item);
  }
  if (creates.size === 0) return;
  for (const { operation: op } of memberItems) {
    if (op.op !== "addMembers") continue;
    for (const m of op.members) {
      if (!("externalId" in m)) continue;
      const item = creates.get(m.externalId);
      if (!item) continue;
      creates.delete(m.externalId);
      out.push(item);
    }
  }
  // the creates no member change names, in plan order
  for (const item of users) if (item?.operation.op === "createUser" && creates.has(item.operation.externalId)) out.push(item);
  users.length = 0;
  for (const item of out) users.push(item);
}

interface MemberRecorder {
  accept(a: MemberAccount, value: string): void;
  fail(a: MemberAccount, value: string, e: { error: string; httpStatus?: number }): void;
  /** a member whose create failed (or was never sent) */
  skip(a: MemberAccount, v: MemberValue): void;
}

/** A member PATCH the Bulk request did not apply, again through `patchGroupMembers` with the members that exist. */
async function resendMembers(client: ScimClientApi, piece: MemberPiece, batchSize: number, record: MemberRecorder): Promise<void> {
  const live: { account: MemberAccount; id: string }[] = [];
  for (const [k, v] of piece.values.entries()) {
    const id = idOf(v);
    if (id === undefined) record.skip(piece.accounts[k]!, v);
    else live.push({ account: piece.accounts[k]!, id });
  }
  if (live.length === 0) return;
  const add = live.filter((e) => e.account.kind === "add").map((e) => e.id);
  const remove = live.filter((e) => e.account.kind === "remove").map((e) => e.id);
  try {
    const res = await client.patchGroupMembers(piece.group.groupId, { ...(add.length > 0 ? { add } : {}), ...(remove.length > 0 ? { remove } : {}) }, { batchSize });
    const added = new Set(res.added);
    const removed = new Set(res.removed);
    const refused = new Map(res.failed.map((f) => [`${f.op}:${f.value}`, f.error] as const));
    for (const e of live) {
      if ((e.account.kind === "add" ? added : removed).has(e.id)) {
        record.accept(e.account, e.id);
        continue;
      }
      const err = refused.get(`${e.account.kind}:${e.id}`);
      record.fail(e.account, e.id, err !== undefined ? { error: errorOf(err).error, ...statusOf(err) } : { error: "the member change was not applied" });
    }
  } catch (err) {
    for (const e of live) record.fail(e.account, e.id, errorOf(err));
  }
}

function bulkDetail(r: BulkOperationResponse): string {
  const detail = (r.response as { detail?: unknown } | undefined)?.detail;
  return typeof detail === "string" ? `: ${detail.slice(0, 200)}` : "";
}

/** The outcome of a member operation once every change of it is settled. */
function memberOutcome(a: MemberAccount, stoppedRun: boolean): OperationOutcome {
  const base = { index: a.item.index, operation: a.item.operation };
  const members = { added: a.added, removed: a.removed, failed: a.failed, skipped: a.skipped };
  if (a.added.length + a.removed.length + a.failed.length === 0) {
    return {
      ...base,
      status: "skipped",
      members,
      error: stoppedRun ? "the run was stopped" : a.allFailedCreates ? "every member's create failed in this run" : "no member could be resolved",
    };
  }
  if (a.failed.length === 0) return { ...base, status: "done", members };
  return {
    ...base,
    status: "failed",
    members,
    error: a.firstError && a.added.length + a.removed.length === 0 ? a.firstError.error : `${a.failed.length} member value(s) refused`,
    ...(a.firstError?.httpStatus !== undefined ? { httpStatus: a.firstError.httpStatus } : {}),
  };
}

function memberPatchOperations(adds: string[], removes: string[]): PatchOperation[] {
  return [...(adds.length > 0 ? [addMembers(adds)] : []), ...removes.map((v) => removeMember(v))];
}

/** PATCHes a group needs for its member changes (adds and removes share batches). */
function memberPieceCount(operations: readonly SyncOperation[], batchSize: number): number {
  const perGroup = new Map<string, number>();
  for (const op of operations) {
    const n = op.op === "addMembers" ? op.members.length : op.op === "removeMembers" ? op.scimIds.length : 0;
    if (n > 0 && "groupId" in op) perGroup.set(op.groupId, (perGroup.get(op.groupId) ?? 0) + n);
  }
  let pieces = 0;
  for (const n of perGroup.values()) pieces += Math.ceil(n / batchSize);
  return pieces;
}

/** The member operations of one group as one `patchGroupMembers` call (without Bulk). */
async function runGroupMembers(
  client: ScimClientApi,
  groupId: string,
  items: { operation: SyncOperation; index: number }[],
  batchSize: number,
  created: Map<string, string>,
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  const outcomes: OperationOutcome[] = [];
  const parts: { item: { operation: SyncOperation; index: number }; kind: "add" | "remove"; values: string[]; skipped: string[]; resolved: SyncOperation }[] = [];
  for (const item of items) {
    const op = item.operation;
    if (op.op === "addMembers") {
      const { values, skipped } = resolveMembers(op.members, created);
      if (values.length === 0) {
        outcomes.push({ index: item.index, operation: op, status: "skipped", members: { added: [], removed: [], failed: [], skipped }, error: "no member could be resolved" });
        continue;
      }
      parts.push({ item, kind: "add", values, skipped, resolved: { ...op, members: values.map((scimId) => ({ scimId })) } });
    } else if (op.op === "removeMembers") parts.push({ item, kind: "remove", values: op.scimIds, skipped: [], resolved: op });
  }
  if (parts.length > 0) {
    await options.hooks?.beforeBatch?.(parts.map((p) => ({ index: p.item.index, operation: p.resolved })));
    for (const p of parts) await options.hooks?.beforeOperation?.(p.item.index, p.resolved);
    const add = parts.filter((p) => p.kind === "add").flatMap((p) => p.values);
    const remove = parts.filter((p) => p.kind === "remove").flatMap((p) => p.values);
    try {
      const r = await client.patchGroupMembers(groupId, { ...(add.length > 0 ? { add } : {}), ...(remove.length > 0 ? { remove } : {}) }, { batchSize });
      const added = new Set(r.added);
      const removed = new Set(r.removed);
      const refused = new Map(r.failed.map((f) => [`${f.op}:${f.value}`, f.error] as const));
      for (const p of parts) {
        const done = p.kind === "add" ? added : removed;
        const ok: string[] = [];
        const failed: string[] = [];
        let firstError: unknown;
        for (const v of p.values) {
          if (done.has(v)) ok.push(v);
          else {
            failed.push(v);
            firstError ??= refused.get(`${p.kind}:${v}`);
          }
        }
        outcomes.push({
          index: p.item.index,
          operation: p.item.operation,
          status: failed.length > 0 ? "failed" : "done",
          members: { added: p.kind === "add" ? ok : [], removed: p.kind === "remove" ? ok : [], failed, skipped: p.skipped },
          ...(failed.length > 0 ? { error: `${failed.length} member value(s) refused`, ...statusOf(firstError) } : {}),
        });
      }
    } catch (e) {
      for (const p of parts) outcomes.push({ index: p.item.index, operation: p.item.operation, status: "failed", members: { added: [], removed: [], failed: p.values, skipped: p.skipped }, ...errorOf(e) });
    }
  }
  outcomes.sort((a, b) => a.index - b.index);
  await finishMany(outcomes);
}

/**
 * The users phase and the member changes in one stream of `/Bulk` requests. Each request
 * takes the member PATCHes that are ready, then per-user operations (creates, updates,
 * reactivations) up to `maxOperations` and `maxPayloadSize`; the per-user operations come
 * first in the request. A group's adds and
 * removes share PATCHes of `batchSize` changes (one PATCH, several Operations). A member
 * created in this stream is added by a later request, once its create is answered; a member
 * whose create failed is skipped. Batches are formed per group as its members become known,
 * and a group's last partial batch goes out as soon as it waits for no create, so requests
 * stay full and the total is close to (per-user operations + member PATCHes) / `maxOperations`.
 * A member PATCH refused with 400 is sent again through `patchGroupMembers`, which isolates
 * the refused value.
 */

function chunkBySize<T extends { size: number }>(items: T[], maxOperations: number, maxPayloadSize: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 200;
  const limit = maxPayloadSize > 0 ? Math.floor(maxPayloadSize * 0.9) : Number.POSITIVE_INFINITY;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxOperations || size + item.size > limit)) {
      out.push(current);
      current = [];
      size = 200;
    }
    current.push(item);
    size += item.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function toBulkOperation(op: SyncOperation, bulkId: string): BulkOperation {
  const patch = (Operations: PatchOperation[]) => ({ schemas: [SCHEMA_PATCH_OP], Operations });
  switch (op.op) {
    case "createUser":
      return { method: "POST", bulkId, path: "/Users", data: { schemas: [SCHEMA_USER], ...op.user, externalId: op.externalId } };
    case "adoptUser":
    case "updateUser":
      return { method: "PATCH", bulkId, path: `/Users/${op.scimId}`, data: patch(op.patch) };
    case "reactivateUser":
      return { method: "PATCH", bulkId, path: `/Users/${op.scimId}`, data: patch([{ op: "replace", path: "active", value: true }]) };
    case "deactivateUser":
      return { method: "PATCH", bulkId, path: `/Users/${op.scimId}`, data: patch([{ op: "replace", path: "active", value: false }]) };
    case "deleteUser":
      return { method: "DELETE", bulkId, path: `/Users/${op.scimId}` };
    default:
      throw new TypeError(`"${op.op}" is not sent through bulk`);
  }
}

function chunks<T extends { operation: SyncOperation; index: number }>(items: T[], maxOperations: number, maxPayloadSize: number): T[][] {
  const sized = items.map((item) => ({ item, size: Buffer.byteLength(JSON.stringify(toBulkOperation(item.operation, `op-${item.index}`))) + 1 }));
  return chunkBySize(sized, maxOperations, maxPayloadSize).map((c) => c.map((x) => x.item));
}

function idFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  const last = location.replace(/\/+$/, "").split("/").pop();
  return last ? decodeURIComponent(last) : undefined;
}

function scimIdOf(op: SyncOperation): { scimId?: string } {
  return "scimId" in op ? { scimId: op.scimId } : {};
}

function statusOf(e: unknown): { httpStatus?: number } {
  return e instanceof ScimResponseError ? { httpStatus: e.httpStatus } : {};
}

function errorOf(e: unknown): { error: string; httpStatus?: number } {
  const message = e instanceof Error ? e.message : String(e);
  return { error: message, ...statusOf(e) };
}

/** Method and path of an operation, for the audit log (ids only). */
export function describeRequest(op: SyncOperation): { method: string; path: string } {
  switch (op.op) {
    case "createUser":
      return { method: "POST", path: "/Users" };
    case "deleteUser":
      return { method: "DELETE", path: `/Users/${op.scimId}` };
    case "addMembers":
    case "removeMembers":
      return { method: "PATCH", path: `/Groups/${op.groupId}` };
    default:
      return { method: "PATCH", path: `/Users/${op.scimId}` };
  }
}

function auditEntry(target: string, o: OperationOutcome, time: Date): AuditEntry {
  const op = o.operation;
  const { method, path } = describeRequest(op);
  const entry: AuditEntry = { time: time.toISOString(), target, op: op.op, method, path: op.op === "createUser" && o.scimId ? "/Users" : path, status: o.status };
  if (o.httpStatus !== undefined) entry.httpStatus = o.httpStatus;
  if (o.scimId !== undefined) entry.scimId = o.scimId;
  if ("externalId" in op) entry.externalId = op.externalId;
  if ("groupId" in op) {
    entry.groupId = op.groupId;
    entry.members = op.op === "addMembers" ? op.members.length : op.scimIds.length;
  }
  if (o.error !== undefined) entry.error = o.error;
  return entry;
}

/** Runs `fn` over the items, `concurrency` at a time; takes the array over and lets go of each item once taken. */
async function pool<T>(items: (T | undefined)[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next]!;
      items[next++] = undefined;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Catalog ids of the members: existing users as they are, users created in this run through `created`; the rest are skipped. */
function resolveMembers(members: readonly MemberRef[], created: ReadonlyMap<string, string>): { values: string[]; skipped: string[] } {
  const values: string[] = [];
  const skipped: string[] = [];
  for (const m of members) {
    if ("scimId" in m) values.push(m.scimId);
    else {
      const id = created.get(m.externalId);
      if (id) values.push(id);
      else skipped.push(m.externalId);
    }
  }
  return { values, skipped };
}
