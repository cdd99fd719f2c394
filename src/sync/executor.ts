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
 *   per-user operations and the member PATCHes share one stream of requests (`runStream`), a
 *   member created in this run being added by a later request; a PATCH refused with 400 there
 *   is sent again through `patchGroupMembers`, which isolates the refused value.
 * - Hooks: `beforeBatch` / `afterBatch` frame each request (a Bulk chunk is one batch), so
 *   that a caller can record a whole request durably at once (group commit).
 * - A failed operation is not retried here beyond the client's retries: the next run
 *   recomputes the plan and tries again.
 */
import { ScimResponseError } from "../errors.js";
import { addMembers, patchRequest, removeMember } from "../scim/patch.js";
import { SCHEMA_PATCH_OP, SCHEMA_USER } from "../scim/types.js";
import type { BulkOperation, BulkOperationResponse, PatchOperation, ScimClientApi, ScimUser } from "../scim/types.js";
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
}

export interface ExecutionResult {
  outcomes: OperationOutcome[];
  done: number;
  failed: number;
  skipped: number;
  membershipsAdded: number;
  membershipsRemoved: number;
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

/** Apply `operations` in the safe order. Never throws for an operation's failure. */
export async function executePlan(
  client: ScimClientApi,
  operations: readonly SyncOperation[],
  options: ExecutorOptions,
): Promise<ExecutionResult> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const batchSize = Math.max(1, options.batchSize ?? 100);
  const now = options.now ?? (() => new Date());
  const outcomes: OperationOutcome[] = [];
  /** externalId → scimId of users created in this run */
  const created = new Map<string, string>();
  /** externalIds whose create failed or was skipped */
  const notCreated = new Set<string>();
  /** users whose deactivation failed: their delete is skipped */
  const notDeactivated = new Set<string>();

  let bulk: { maxOperations: number; maxPayloadSize: number } | undefined;
  if (options.bulk !== false && operations.length > 0 && (operations.length > 1 || memberPieceCount(operations.map((operation) => ({ operation })), batchSize) > 1)) {
    try {
      const caps = await client.capabilities();
      if (caps.bulk.supported && caps.bulk.maxOperations > 1) bulk = { maxOperations: caps.bulk.maxOperations, maxPayloadSize: caps.bulk.maxPayloadSize };
    } catch {
      bulk = undefined;
    }
  }

  const finishMany = async (batch: OperationOutcome[]): Promise<void> => {
    if (batch.length === 0) return;
    for (const outcome of batch) {
      outcomes.push(outcome);
      const op = outcome.operation;
      if (op.op === "createUser") {
        if (outcome.status === "done" && outcome.scimId) created.set(op.externalId, outcome.scimId);
        else notCreated.add(op.externalId);
      }
      if (op.op === "deactivateUser" && outcome.status !== "done") notDeactivated.add(op.scimId);
      options.audit?.write(auditEntry(options.target, outcome, now()));
    }
    await options.hooks?.afterBatch?.(batch);
    for (const outcome of batch) await options.hooks?.afterOperation?.(outcome);
    // the returned user is for the hooks (the snapshot records it); the result keeps ids only
    for (const outcome of batch) delete outcome.user;
  };
  const finish = (outcome: OperationOutcome): Promise<void> => finishMany([outcome]);

  const indexed = operations.map((operation, index) => ({ operation, index }));
  /** the member phase already went out with the users phase (see `runStream`) */
  let membersDone = false;
  for (const phase of PHASES) {
    if (phase === "members" && membersDone) continue;
    const items = indexed.filter((i) => PHASE_OF[i.operation.op] === phase);
    if (items.length === 0) continue;
    const runnable: typeof items = [];
    for (const item of items) {
      const skip = dependencySkip(item.operation, notCreated, notDeactivated);
      if (skip) await finish({ index: item.index, operation: item.operation, status: "skipped", error: skip });
      else runnable.push(item);
    }
    if (options.signal?.aborted) {
      for (const item of runnable) await finish({ index: item.index, operation: item.operation, status: "skipped", error: "the run was stopped" });
      continue;
    }
    if (bulk && (phase === "users" || phase === "members")) {
      const sendable = phase === "users" ? runnable.filter((i) => !(i.operation.op === "adoptUser" && i.operation.patch.length === 0)) : [];
      for (const item of runnable) {
        if (phase === "users" && !sendable.includes(item)) await runSingle(client, item, batchSize, created, options, finish);
      }
      const members = phase === "users" ? indexed.filter((i) => PHASE_OF[i.operation.op] === "members") : runnable;
      // more than one request's worth: user operations and member changes share `/Bulk` requests
      if (sendable.length + memberPieceCount(members, batchSize) > 1) {
        await runStream(client, sendable, members, batchSize, created, bulk, options, finishMany);
        membersDone = true;
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
          for (const item of chunk) await finish({ index: item.index, operation: item.operation, status: "skipped", error: "the run was stopped" });
          continue;
        }
        if (chunk.length === 1) await runSingle(client, chunk[0]!, batchSize, created, options, finish);
        else await runBulk(client, chunk, options, finishMany);
      }
      continue;
    }
    if (phase === "members") {
      // one PATCH stream per group, adds and removes together
      const byGroup = new Map<string, typeof runnable>();
      for (const item of runnable) {
        const groupId = (item.operation as { groupId: string }).groupId;
        const list = byGroup.get(groupId);
        if (list) list.push(item);
        else byGroup.set(groupId, [item]);
      }
      await pool([...byGroup], concurrency, async ([groupId, groupItems]) => {
        if (options.signal?.aborted) {
          await finishMany(groupItems.map((item) => ({ index: item.index, operation: item.operation, status: "skipped" as const, error: "the run was stopped" })));
          return;
        }
        await runGroupMembers(client, groupId, groupItems, batchSize, created, options, finishMany);
      });
      continue;
    }
    await pool(runnable, concurrency, async (item) => {
      if (options.signal?.aborted) {
        await finish({ index: item.index, operation: item.operation, status: "skipped", error: "the run was stopped" });
        return;
      }
      await runSingle(client, item, batchSize, created, options, finish);
    });
  }

  outcomes.sort((a, b) => a.index - b.index);
  let membershipsAdded = 0;
  let membershipsRemoved = 0;
  for (const o of outcomes) {
    membershipsAdded += o.members?.added.length ?? 0;
    membershipsRemoved += o.members?.removed.length ?? 0;
  }
  return {
    outcomes,
    done: outcomes.filter((o) => o.status === "done").length,
    failed: outcomes.filter((o) => o.status === "failed").length,
    skipped: outcomes.filter((o) => o.status === "skipped").length,
    membershipsAdded,
    membershipsRemoved,
  };
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
  item: { operation: SyncOperation; index: number };
  /** the operation as sent (members resolved to Catalog ids when they are known) */
  resolved: SyncOperation;
  kind: "add" | "remove";
  group: GroupQueue;
  added: string[];
  removed: string[];
  failed: string[];
  skipped: string[];
  firstError?: { error: string; httpStatus?: number };
  /** pieces sent or ready that carry some of its values */
  remaining: number;
  /** values waiting in its group's queue */
  queued: number;
  /** members whose create is still to be answered */
  waiting: number;
  seen: Set<string>;
  started: boolean;
  allFailedCreates: boolean;
}

interface GroupQueue {
  groupId: string;
  key: number;
  pending: { account: MemberAccount; value: string }[];
  waiting: number;
  sent: number;
}

/** One member PATCH: up to `batchSize` changes of one group, adds and removes together (RFC 7644 §3.5.2). */
interface MemberPiece {
  group: GroupQueue;
  parts: { account: MemberAccount; values: string[] }[];
  op: BulkOperation;
}

/** The member changes of a PATCH body: one `add` of explicit values, one `remove` per value. */
function memberPatchOperations(adds: string[], removes: string[]): PatchOperation[] {
  return [...(adds.length > 0 ? [addMembers(adds)] : []), ...removes.map((v) => removeMember(v))];
}

/** PATCHes a group needs for its member changes (adds and removes share batches). */
function memberPieceCount(items: readonly { operation: SyncOperation }[], batchSize: number): number {
  const perGroup = new Map<string, number>();
  for (const { operation: op } of items) {
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
async function runStream(
  client: ScimClientApi,
  users: { operation: SyncOperation; index: number }[],
  memberItems: { operation: SyncOperation; index: number }[],
  batchSize: number,
  created: Map<string, string>,
  limits: { maxOperations: number; maxPayloadSize: number },
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  const accounts: MemberAccount[] = [];
  const groups = new Map<string, GroupQueue>();
  const waitingFor = new Map<string, MemberAccount[]>();
  const ready: { piece: MemberPiece; size: number }[] = [];
  const inStream = new Set<string>();
  for (const item of users) if (item.operation.op === "createUser") inStream.add(item.operation.externalId);
  const emit = (g: GroupQueue): void => {
    const final = g.waiting === 0;
    while (g.pending.length >= batchSize || (final && g.pending.length > 0)) {
      const entries = g.pending.splice(0, batchSize);
      const byAccount = new Map<MemberAccount, string[]>();
      const adds: string[] = [];
      const removes: string[] = [];
      for (const e of entries) {
        e.account.queued--;
        const list = byAccount.get(e.account);
        if (list) list.push(e.value);
        else byAccount.set(e.account, [e.value]);
        (e.account.kind === "add" ? adds : removes).push(e.value);
      }
      const op: BulkOperation = {
        method: "PATCH",
        bulkId: `m-${g.key}-${g.sent++}`,
        path: `/Groups/${encodeURIComponent(g.groupId)}`,
        data: patchRequest(memberPatchOperations(adds, removes)),
      };
      for (const a of byAccount.keys()) a.remaining++;
      ready.push({ piece: { group: g, parts: [...byAccount].map(([account, values]) => ({ account, values })), op }, size: Buffer.byteLength(JSON.stringify(op)) + 1 });
    }
  };
  const known = (a: MemberAccount, id: string): void => {
    if (a.seen.has(id)) return;
    a.seen.add(id);
    a.queued++;
    a.group.pending.push({ account: a, value: id });
  };
  const unresolved: OperationOutcome[] = [];
  for (const item of memberItems) {
    const op = item.operation;
    if (op.op !== "addMembers" && op.op !== "removeMembers") continue;
    let g = groups.get(op.groupId);
    if (!g) {
      g = { groupId: op.groupId, key: item.index, pending: [], waiting: 0, sent: 0 };
      groups.set(op.groupId, g);
    }
    const a: MemberAccount = {
      item,
      resolved: op,
      kind: op.op === "addMembers" ? "add" : "remove",
      group: g,
      added: [],
      removed: [],
      failed: [],
      skipped: [],
      remaining: 0,
      queued: 0,
      waiting: 0,
      seen: new Set(),
      started: false,
      allFailedCreates: op.op === "addMembers" && op.members.length > 0,
    };
    if (op.op === "removeMembers") {
      for (const id of op.scimIds) known(a, id);
    } else {
      const resolvedIds: string[] = [];
      for (const m of op.members) {
        const id = "scimId" in m ? m.scimId : created.get(m.externalId);
        if (id) {
          a.allFailedCreates = false;
          resolvedIds.push(id);
          known(a, id);
        } else if (inStream.has((m as { externalId: string }).externalId)) {
          a.waiting++;
          g.waiting++;
          const externalId = (m as { externalId: string }).externalId;
          const list = waitingFor.get(externalId);
          if (list) list.push(a);
          else waitingFor.set(externalId, [a]);
        } else {
          a.allFailedCreates = false;
          a.skipped.push((m as { externalId: string }).externalId);
        }
      }
      if (a.waiting === 0) {
        if (resolvedIds.length === 0) {
          unresolved.push({ index: item.index, operation: op, status: "skipped", members: { added: [], removed: [], failed: [], skipped: a.skipped }, error: "no member could be resolved" });
          continue;
        }
        a.resolved = { ...op, members: resolvedIds.map((scimId) => ({ scimId })) };
      }
    }
    accounts.push(a);
  }
  await finishMany(unresolved);
  for (const g of groups.values()) emit(g);

  const userSizes = users.map((item) => Buffer.byteLength(JSON.stringify(toBulkOperation(item.operation, `op-${item.index}`))) + 1);
  const limit = limits.maxPayloadSize > 0 ? Math.floor(limits.maxPayloadSize * 0.9) : Number.POSITIVE_INFINITY;
  const settled = new Set<MemberAccount>();
  const settleable = (a: MemberAccount): boolean => !settled.has(a) && a.started && a.waiting === 0 && a.queued === 0 && a.remaining === 0;
  const accept = (a: MemberAccount, values: string[]): void => {
    (a.kind === "add" ? a.added : a.removed).push(...values);
  };
  const fail = (a: MemberAccount, values: string[], e: { error: string; httpStatus?: number }): void => {
    a.failed.push(...values);
    a.firstError ??= e;
  };
  let u = 0;
  for (;;) {
    const batch: { operation: SyncOperation; index: number }[] = [];
    const pieces: MemberPiece[] = [];
    let size = 200;
    // the member PATCHes that are ready first (they are consumed as they form), then per-user operations up to the limits
    while (ready.length > 0 && pieces.length < limits.maxOperations && (pieces.length === 0 || size + ready[0]!.size <= limit)) {
      const next = ready.shift()!;
      pieces.push(next.piece);
      size += next.size;
    }
    while (u < users.length && pieces.length + batch.length < limits.maxOperations && (pieces.length + batch.length === 0 || size + userSizes[u]! <= limit)) {
      batch.push(users[u]!);
      size += userSizes[u]!;
      u++;
    }
    if (pieces.length + batch.length === 0) break;

    if (options.signal?.aborted) {
      const stopped: OperationOutcome[] = batch.map((item) => ({ index: item.index, operation: item.operation, status: "skipped" as const, error: "the run was stopped" }));
      for (const item of batch) {
        const op = item.operation;
        if (op.op !== "createUser") continue;
        for (const a of waitingFor.get(op.externalId) ?? []) {
          a.waiting--;
          a.group.waiting--;
          a.skipped.push(op.externalId);
        }
      }
      for (const p of pieces) {
        for (const part of p.parts) {
          part.account.remaining--;
          if (part.account.started) fail(part.account, part.values, { error: "the run was stopped" });
          else part.account.skipped.push(...part.values);
        }
      }
      await finishMany(stopped);
      continue;
    }

    const starting = [...new Set(pieces.flatMap((p) => p.parts.map((part) => part.account)))].filter((a) => !a.started);
    for (const a of starting) a.started = true;
    const announce = [...batch, ...starting.map((a) => ({ index: a.item.index, operation: a.resolved }))];
    await options.hooks?.beforeBatch?.(announce);
    for (const item of announce) await options.hooks?.beforeOperation?.(item.index, item.operation);

    const ops = [...batch.map((item) => toBulkOperation(item.operation, `op-${item.index}`)), ...pieces.map((p) => p.op)];
    let responses: BulkOperationResponse[] | undefined;
    let thrown: unknown;
    try {
      responses = await client.bulk(ops);
    } catch (e) {
      thrown = e;
    }
    const userOutcomes: OperationOutcome[] = responses
      ? userBulkOutcomes(
          batch,
          responses.filter((r) => !r.bulkId?.startsWith("m-")),
        )
      : batch.map((item) => ({ index: item.index, operation: item.operation, status: "failed" as const, ...scimIdOf(item.operation), ...errorOf(thrown) }));
    const byBulkId = new Map((responses ?? []).filter((r) => r.bulkId).map((r) => [r.bulkId!, r]));
    for (const p of pieces) {
      for (const part of p.parts) part.account.remaining--;
      if (!responses) {
        for (const part of p.parts) fail(part.account, part.values, errorOf(thrown));
        continue;
      }
      const r = byBulkId.get(p.op.bulkId!);
      const status = r ? Number(r.status) : 0;
      if (r && status >= 200 && status < 300) {
        for (const part of p.parts) accept(part.account, part.values);
        continue;
      }
      if (status === 400) {
        // a refused value: the same changes again through PATCH, which isolates it (and treats a missing member to remove as done)
        const add = p.parts.filter((x) => x.account.kind === "add").flatMap((x) => x.values);
        const remove = p.parts.filter((x) => x.account.kind === "remove").flatMap((x) => x.values);
        try {
          const res = await client.patchGroupMembers(p.group.groupId, { ...(add.length > 0 ? { add } : {}), ...(remove.length > 0 ? { remove } : {}) }, { batchSize });
          const added = new Set(res.added);
          const removed = new Set(res.removed);
          const refused = new Map(res.failed.map((f) => [`${f.op}:${f.value}`, f.error] as const));
          for (const part of p.parts) {
            const done = part.account.kind === "add" ? added : removed;
            for (const v of part.values) {
              if (done.has(v)) accept(part.account, [v]);
              else {
                const err = refused.get(`${part.account.kind}:${v}`);
                fail(part.account, [v], err !== undefined ? { error: errorOf(err).error, ...statusOf(err) } : { error: "the member change was not applied" });
              }
            }
          }
        } catch (e) {
          for (const part of p.parts) fail(part.account, part.values, errorOf(e));
        }
        continue;
      }
      const detail = (r?.response as { detail?: unknown } | undefined)?.detail;
      const e = r ? { httpStatus: status, error: `bulk PATCH failed with ${status}${typeof detail === "string" ? `: ${detail.slice(0, 200)}` : ""}` } : { error: "no result in the bulk response" };
      for (const part of p.parts) fail(part.account, part.values, e);
    }
    // the members created in this request become ready for the next ones
    const touched = new Set<GroupQueue>();
    for (const o of userOutcomes) {
      const op = o.operation;
      if (op.op !== "createUser") continue;
      for (const a of waitingFor.get(op.externalId) ?? []) {
        a.waiting--;
        a.group.waiting--;
        touched.add(a.group);
        if (o.status === "done" && o.scimId) {
          a.allFailedCreates = false;
          known(a, o.scimId);
        } else a.skipped.push(op.externalId);
      }
      waitingFor.delete(op.externalId);
    }
    for (const g of touched) emit(g);
    const done: OperationOutcome[] = [...userOutcomes];
    const candidates = new Set<MemberAccount>(pieces.flatMap((p) => p.parts.map((part) => part.account)));
    for (const g of touched) for (const e of g.pending) candidates.add(e.account);
    for (const a of candidates) {
      if (!settleable(a)) continue;
      settled.add(a);
      done.push(memberOutcome(a));
    }
    await finishMany(done);
  }
  // operations that never sent a PATCH: every member's create failed, or the run was stopped
  const rest: OperationOutcome[] = [];
  for (const a of accounts) {
    if (settled.has(a)) continue;
    if (a.started) rest.push(memberOutcome(a));
    else
      rest.push({
        index: a.item.index,
        operation: a.item.operation,
        status: "skipped",
        members: { added: [], removed: [], failed: [], skipped: a.skipped },
        error: options.signal?.aborted ? "the run was stopped" : a.allFailedCreates ? "every member's create failed in this run" : "no member could be resolved",
      });
  }
  await finishMany(rest);
}

function memberOutcome(a: MemberAccount): OperationOutcome {
  const failed = a.failed;
  return {
    index: a.item.index,
    operation: a.item.operation,
    status: failed.length > 0 ? "failed" : "done",
    members: { added: a.added, removed: a.removed, failed, skipped: a.skipped },
    ...(failed.length > 0
      ? {
          error: a.firstError && a.added.length + a.removed.length === 0 ? a.firstError.error : `${failed.length} member value(s) refused`,
          ...(a.firstError?.httpStatus !== undefined ? { httpStatus: a.firstError.httpStatus } : {}),
        }
      : {}),
  };
}

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

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
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
