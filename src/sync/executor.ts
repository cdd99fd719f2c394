/**
 * Applies a sync plan to the Catalog. It never decides: the plan says what to do, the
 * executor does it in a safe order and reports each outcome.
 *
 * - Phases: create/adopt/update/reactivate → add members → remove members → deactivate →
 *   delete. A later step that depends on a failed one is skipped and reported (a member whose
 *   create failed, a delete whose deactivate failed); unrelated operations carry on.
 * - Bounded concurrency (default 8); retries and rate limits live in the SCIM client.
 * - `/Bulk` for the per-user phases when the Catalog advertises it (within `maxOperations`
 *   and `maxPayloadSize`). Member changes are batched (default 100 per PATCH, RFC forms only:
 *   `add` of explicit values, `remove` with `members[value eq "…"]`); when Bulk is advertised
 *   and a phase needs more PATCHes than go out at once (`concurrency`), those PATCHes travel
 *   inside `/Bulk` requests; a
 *   PATCH refused with 400 there is sent again through `patchGroupMembers`, which isolates
 *   the refused value.
 * - Hooks: `beforeBatch` / `afterBatch` frame each request (a Bulk chunk is one batch), so
 *   that a caller can record a whole request durably at once (group commit).
 * - A failed operation is not retried here beyond the client's retries: the next run
 *   recomputes the plan and tries again.
 */
import { ScimResponseError } from "../errors.js";
import { addMembers, patchRequest, removeMember } from "../scim/patch.js";
import { SCHEMA_PATCH_OP, SCHEMA_USER } from "../scim/types.js";
import type { BulkOperation, BulkOperationResponse, PatchOperation, ScimClientApi, ScimUser } from "../scim/types.js";
import type { SyncOperation } from "./plan-types.js";

export type OperationStatus = "done" | "failed" | "skipped";

export interface OperationOutcome {
  /** position of the operation in the plan */
  index: number;
  operation: SyncOperation;
  status: OperationStatus;
  /** the Catalog user id the operation touched (the new id for a create) */
  scimId?: string;
  /** the user as the Catalog returned it, when it did */
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

type Phase = "users" | "add" | "remove" | "deactivate" | "delete";

const PHASE_OF: Record<SyncOperation["op"], Phase> = {
  createUser: "users",
  adoptUser: "users",
  updateUser: "users",
  reactivateUser: "users",
  addMembers: "add",
  removeMembers: "remove",
  deactivateUser: "deactivate",
  deleteUser: "delete",
};

const PHASES: Phase[] = ["users", "add", "remove", "deactivate", "delete"];

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
  const memberRequests = operations.reduce(
    (n, o) => n + (o.op === "addMembers" ? Math.ceil(o.members.length / batchSize) : o.op === "removeMembers" ? Math.ceil(o.scimIds.length / batchSize) : 0),
    0,
  );
  if (options.bulk !== false && (memberRequests > concurrency || operations.some((o) => PHASE_OF[o.op] !== "add" && PHASE_OF[o.op] !== "remove"))) {
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
  };
  const finish = (outcome: OperationOutcome): Promise<void> => finishMany([outcome]);

  const indexed = operations.map((operation, index) => ({ operation, index }));
  /** the add phase already went out with the users phase (see `runMixedBulk`) */
  let addsDone = false;
  for (const phase of PHASES) {
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
    if (phase === "add" && addsDone) continue;
    if (bulk && (phase === "users" || phase === "deactivate" || phase === "delete")) {
      const sendable = runnable.filter((i) => !(i.operation.op === "adoptUser" && i.operation.patch.length === 0));
      for (const item of runnable) {
        if (!sendable.includes(item)) await runSingle(client, item, batchSize, created, options, finish);
      }
      const adds = phase === "users" ? indexed.filter((i) => i.operation.op === "addMembers") : [];
      const addRequests = adds.reduce((n, i) => n + (i.operation.op === "addMembers" ? Math.ceil(i.operation.members.length / batchSize) : 0), 0);
      // creates over several requests and many member PATCHes: one stream, member PATCHes filling the requests as their members exist
      if (addRequests > concurrency && sendable.length > bulk.maxOperations) {
        await runMixedBulk(client, sendable, adds, batchSize, created, bulk, options, finishMany);
        addsDone = true;
        continue;
      }
      for (const chunk of chunks(sendable, bulk.maxOperations, bulk.maxPayloadSize)) {
        if (options.signal?.aborted) {
          for (const item of chunk) await finish({ index: item.index, operation: item.operation, status: "skipped", error: "the run was stopped" });
          continue;
        }
        if (chunk.length === 1) await runSingle(client, chunk[0]!, batchSize, created, options, finish);
        else await runBulk(client, chunk, options, finishMany);
      }
      continue;
    }
    if (bulk && (phase === "add" || phase === "remove")) {
      const plan = memberBulkPlan(runnable, batchSize, created);
      // up to `concurrency` PATCHes go out together in one round trip; beyond that Bulk saves round trips and requests
      if (plan.pieces.length > concurrency) {
        await runMemberBulk(client, plan, batchSize, bulk, options, finishMany);
        continue;
      }
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
    const values: string[] = [];
    const skipped: string[] = [];
    for (const m of op.members) {
      if ("scimId" in m) values.push(m.scimId);
      else {
        const id = created.get(m.externalId);
        if (id) values.push(id);
        else skipped.push(m.externalId);
      }
    }
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
  /** the operation as sent (members resolved to Catalog ids) */
  resolved: SyncOperation;
  groupId: string;
  added: string[];
  removed: string[];
  failed: string[];
  skipped: string[];
  firstError?: { error: string; httpStatus?: number };
  remaining: number;
  started: boolean;
}

interface MemberPiece {
  account: MemberAccount;
  kind: "add" | "remove";
  values: string[];
  op: BulkOperation;
}

interface MemberBulkPlan {
  /** operations with nothing to send (no member could be resolved) */
  unresolved: OperationOutcome[];
  accounts: MemberAccount[];
  pieces: MemberPiece[];
}

/** The member PATCHes of a phase as Bulk operations, `batchSize` values each (the same batches `patchGroupMembers` sends). */
function memberBulkPlan(items: { operation: SyncOperation; index: number }[], batchSize: number, created: Map<string, string>): MemberBulkPlan {
  const plan: MemberBulkPlan = { unresolved: [], accounts: [], pieces: [] };
  for (const item of items) {
    const op = item.operation;
    let kind: "add" | "remove";
    let values: string[];
    let skipped: string[] = [];
    let resolved: SyncOperation;
    if (op.op === "addMembers") {
      const ids: string[] = [];
      for (const m of op.members) {
        if ("scimId" in m) ids.push(m.scimId);
        else {
          const id = created.get(m.externalId);
          if (id) ids.push(id);
          else skipped.push(m.externalId);
        }
      }
      if (ids.length === 0) {
        plan.unresolved.push({ index: item.index, operation: op, status: "skipped", members: { added: [], removed: [], failed: [], skipped }, error: "no member could be resolved" });
        continue;
      }
      kind = "add";
      values = [...new Set(ids)];
      resolved = { ...op, members: ids.map((scimId) => ({ scimId })) };
    } else if (op.op === "removeMembers") {
      kind = "remove";
      values = [...new Set(op.scimIds)];
      skipped = [];
      resolved = op;
    } else continue;
    const account: MemberAccount = { item, resolved, groupId: op.groupId, added: [], removed: [], failed: [], skipped, remaining: 0, started: false };
    plan.accounts.push(account);
    for (let i = 0; i < values.length; i += batchSize) {
      const batch = values.slice(i, i + batchSize);
      const operations = kind === "add" ? [addMembers(batch)] : batch.map((v) => removeMember(v));
      plan.pieces.push({
        account,
        kind,
        values: batch,
        op: { method: "PATCH", bulkId: `m-${item.index}-${i / batchSize}`, path: `/Groups/${encodeURIComponent(op.groupId)}`, data: patchRequest(operations) },
      });
      account.remaining++;
    }
  }
  return plan;
}

/** Member PATCHes inside `/Bulk` requests within `maxOperations` and `maxPayloadSize`; one batch of hooks per request. */
async function runMemberBulk(
  client: ScimClientApi,
  plan: MemberBulkPlan,
  batchSize: number,
  limits: { maxOperations: number; maxPayloadSize: number },
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  await finishMany(plan.unresolved);
  const settle = (a: MemberAccount): OperationOutcome => {
    const base = { index: a.item.index, operation: a.item.operation };
    const failed = a.failed;
    return {
      ...base,
      status: failed.length > 0 ? "failed" : "done",
      members: { added: a.added, removed: a.removed, failed, skipped: a.skipped },
      ...(failed.length > 0 ? { error: a.firstError && a.added.length + a.removed.length === 0 ? a.firstError.error : `${failed.length} member value(s) refused`, ...(a.firstError?.httpStatus !== undefined ? { httpStatus: a.firstError.httpStatus } : {}) } : {}),
    };
  };
  const fail = (p: MemberPiece, e: { error: string; httpStatus?: number }): void => {
    p.account.failed.push(...p.values);
    p.account.firstError ??= e;
  };
  const accept = (p: MemberPiece, values: string[]): void => {
    (p.kind === "add" ? p.account.added : p.account.removed).push(...values);
  };
  const sized = plan.pieces.map((p) => ({ piece: p, size: Buffer.byteLength(JSON.stringify(p.op)) + 1 }));
  for (const chunk of chunkBySize(sized, limits.maxOperations, limits.maxPayloadSize)) {
    const pieces = chunk.map((c) => c.piece);
    const starting = [...new Set(pieces.map((p) => p.account))].filter((a) => !a.started);
    if (options.signal?.aborted) {
      const stopped: OperationOutcome[] = [];
      for (const p of pieces) {
        if (!p.account.started) continue;
        fail(p, { error: "the run was stopped" });
        if (--p.account.remaining === 0) stopped.push(settle(p.account));
      }
      for (const a of starting) {
        a.started = true;
        a.remaining = -1;
        stopped.push({ index: a.item.index, operation: a.item.operation, status: "skipped", error: "the run was stopped" });
      }
      await finishMany(stopped);
      continue;
    }
    if (starting.length > 0) {
      for (const a of starting) a.started = true;
      await options.hooks?.beforeBatch?.(starting.map((a) => ({ index: a.item.index, operation: a.resolved })));
      for (const a of starting) await options.hooks?.beforeOperation?.(a.item.index, a.resolved);
    }
    let responses: BulkOperationResponse[] | undefined;
    let thrown: unknown;
    try {
      responses = await client.bulk(pieces.map((p) => p.op));
    } catch (e) {
      thrown = e;
    }
    const byBulkId = new Map((responses ?? []).filter((r) => r.bulkId).map((r) => [r.bulkId!, r]));
    for (const [i, p] of pieces.entries()) {
      if (!responses) {
        fail(p, errorOf(thrown));
        continue;
      }
      const r = byBulkId.get(p.op.bulkId!) ?? responses[i];
      const status = r ? Number(r.status) : 0;
      if (r && status >= 200 && status < 300) {
        accept(p, p.values);
        continue;
      }
      if (status === 400) {
        // a refused value: the same batch again through PATCH, which isolates it (and treats a missing member to remove as done)
        try {
          const res = await client.patchGroupMembers(p.account.groupId, p.kind === "add" ? { add: p.values } : { remove: p.values }, { batchSize });
          accept(p, p.kind === "add" ? res.added : res.removed);
          if (res.failed.length > 0) {
            p.account.failed.push(...res.failed.map((f) => f.value));
            p.account.firstError ??= { error: errorOf(res.failed[0]!.error).error, ...statusOf(res.failed[0]!.error) };
          }
        } catch (e) {
          fail(p, errorOf(e));
        }
        continue;
      }
      const detail = (r?.response as { detail?: unknown } | undefined)?.detail;
      fail(p, r ? { httpStatus: status, error: `bulk PATCH failed with ${status}${typeof detail === "string" ? `: ${detail.slice(0, 200)}` : ""}` } : { error: "no result in the bulk response" });
    }
    const done: OperationOutcome[] = [];
    for (const p of pieces) if (--p.account.remaining === 0) done.push(settle(p.account));
    await finishMany(done);
  }
}

/**
 * The users phase and the member adds in one stream of `/Bulk` requests: each request carries
 * first the member PATCHes that are ready (a full batch of `batchSize` members that exist,
 * created in an earlier request or already there), then per-user operations up to the
 * limits. Member batches are formed per group as its members are created, so requests stay
 * full and the total is close to (per-user operations + member PATCHes) / `maxOperations`.
 * Once every user is sent, the remaining partial batches go out. A member whose create
 * failed is skipped, as in the phased order.
 */
async function runMixedBulk(
  client: ScimClientApi,
  users: { operation: SyncOperation; index: number }[],
  adds: { operation: SyncOperation; index: number }[],
  batchSize: number,
  created: Map<string, string>,
  limits: { maxOperations: number; maxPayloadSize: number },
  options: ExecutorOptions,
  finishMany: (o: OperationOutcome[]) => Promise<void>,
): Promise<void> {
  interface Account extends MemberAccount {
    pending: string[];
    seen: Set<string>;
    waiting: number;
    sentPieces: number;
    allFailedCreates: boolean;
  }
  const accounts: Account[] = [];
  const waitingFor = new Map<string, Account[]>();
  const ready: { piece: MemberPiece; size: number }[] = [];
  const emit = (a: Account, final: boolean): void => {
    while (a.pending.length >= batchSize || (final && a.pending.length > 0)) {
      const values = a.pending.splice(0, batchSize);
      const op: BulkOperation = {
        method: "PATCH",
        bulkId: `m-${a.item.index}-${a.sentPieces++}`,
        path: `/Groups/${encodeURIComponent(a.groupId)}`,
        data: patchRequest([addMembers(values)]),
      };
      a.remaining++;
      ready.push({ piece: { account: a, kind: "add", values, op }, size: Buffer.byteLength(JSON.stringify(op)) + 1 });
    }
  };
  const known = (a: Account, id: string): void => {
    if (a.seen.has(id)) return;
    a.seen.add(id);
    a.pending.push(id);
  };
  for (const item of adds) {
    const op = item.operation;
    if (op.op !== "addMembers") continue;
    const a: Account = {
      item,
      resolved: op,
      groupId: op.groupId,
      added: [],
      removed: [],
      failed: [],
      skipped: [],
      remaining: 0,
      started: false,
      pending: [],
      seen: new Set(),
      waiting: 0,
      sentPieces: 0,
      allFailedCreates: op.members.length > 0,
    };
    accounts.push(a);
    for (const m of op.members) {
      if ("scimId" in m) {
        a.allFailedCreates = false;
        known(a, m.scimId);
      } else {
        const id = created.get(m.externalId);
        if (id) {
          a.allFailedCreates = false;
          known(a, id);
        } else {
          a.waiting++;
          const list = waitingFor.get(m.externalId);
          if (list) list.push(a);
          else waitingFor.set(m.externalId, [a]);
        }
      }
    }
    emit(a, false);
  }
  const userSizes = users.map((item) => Buffer.byteLength(JSON.stringify(toBulkOperation(item.operation, `op-${item.index}`))) + 1);
  const limit = limits.maxPayloadSize > 0 ? Math.floor(limits.maxPayloadSize * 0.9) : Number.POSITIVE_INFINITY;
  const settled = new Set<Account>();
  const settleable = (a: Account): boolean => !settled.has(a) && a.waiting === 0 && a.pending.length === 0 && a.remaining === 0 && a.started;
  let u = 0;
  let flushed = false;
  for (;;) {
    if (u >= users.length && !flushed) {
      for (const a of accounts) emit(a, true);
      flushed = true;
    }
    const pieces: MemberPiece[] = [];
    const batch: { operation: SyncOperation; index: number }[] = [];
    let size = 200;
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
          a.skipped.push(op.externalId);
        }
      }
      for (const p of pieces) {
        if (p.account.started) {
          p.account.failed.push(...p.values);
          p.account.firstError ??= { error: "the run was stopped" };
          p.account.remaining--;
        } else {
          p.account.remaining--;
          p.account.skipped.push(...p.values);
        }
      }
      await finishMany(stopped);
      continue;
    }

    const starting = [...new Set(pieces.map((p) => p.account as Account))].filter((a) => !a.started);
    for (const a of starting) a.started = true;
    const announce = [...batch, ...starting.map((a) => ({ index: a.item.index, operation: a.resolved }))];
    await options.hooks?.beforeBatch?.(announce);
    for (const item of announce) await options.hooks?.beforeOperation?.(item.index, item.operation);

    const ops = [...pieces.map((p) => p.op), ...batch.map((item) => toBulkOperation(item.operation, `op-${item.index}`))];
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
    // the members created in this request become ready for the next ones
    for (const o of userOutcomes) {
      const op = o.operation;
      if (op.op !== "createUser") continue;
      for (const a of waitingFor.get(op.externalId) ?? []) {
        a.waiting--;
        if (o.status === "done" && o.scimId) {
          a.allFailedCreates = false;
          known(a, o.scimId);
          emit(a, false);
        } else a.skipped.push(op.externalId);
      }
    }
    const byBulkId = new Map((responses ?? []).filter((r) => r.bulkId).map((r) => [r.bulkId!, r]));
    for (const p of pieces) {
      p.account.remaining--;
      if (!responses) {
        p.account.failed.push(...p.values);
        p.account.firstError ??= errorOf(thrown);
        continue;
      }
      const r = byBulkId.get(p.op.bulkId!);
      const status = r ? Number(r.status) : 0;
      if (r && status >= 200 && status < 300) {
        p.account.added.push(...p.values);
        continue;
      }
      if (status === 400) {
        try {
          const res = await client.patchGroupMembers(p.account.groupId, { add: p.values }, { batchSize });
          p.account.added.push(...res.added);
          if (res.failed.length > 0) {
            p.account.failed.push(...res.failed.map((f) => f.value));
            p.account.firstError ??= { error: errorOf(res.failed[0]!.error).error, ...statusOf(res.failed[0]!.error) };
          }
        } catch (e) {
          p.account.failed.push(...p.values);
          p.account.firstError ??= errorOf(e);
        }
        continue;
      }
      const detail = (r?.response as { detail?: unknown } | undefined)?.detail;
      p.account.failed.push(...p.values);
      p.account.firstError ??= r
        ? { httpStatus: status, error: `bulk PATCH failed with ${status}${typeof detail === "string" ? `: ${detail.slice(0, 200)}` : ""}` }
        : { error: "no result in the bulk response" };
    }
    const done: OperationOutcome[] = [...userOutcomes];
    for (const a of new Set(pieces.map((p) => p.account as Account))) {
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
