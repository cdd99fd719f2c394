/**
 * One sync run: read inputs → plan → guards → apply → record.
 *
 * Reads the source once, then for each target the source feeds: reads the Catalog state
 * (live, or the snapshot with its pending intents re-checked and a periodic live audit; the
 * first target's live read starts while the source is being read when the source tells its
 * fingerprint up front),
 * plans with the pure planner, enforces the guards, and applies through the executor while
 * recording each accepted operation in the ownership ledger (and the snapshot). Holds the run
 * lock from start to end.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, ProvisioningError } from "../errors.js";
import type { ProvisioningConfig, SyncPolicy, TargetConfig } from "../config/types.js";
import { managedCatalogGroups } from "../config/mapping.js";
import type { PatchOperation, ScimClientApi } from "../scim/types.js";
import type { Directory, DirectorySource, SourceRead } from "./directory.js";
import type { CatalogState, Ledger, SyncOperation, SyncPlan } from "./plan-types.js";
import { planSync } from "./plan.js";
import { checkSourceRead, enforceGuards } from "./guards.js";
import { managedGroupNames } from "./scope.js";
import { createSource } from "./sources/index.js";
import { ScimClient } from "../scim/client.js";
import { createCliFetch, type CliFetch } from "../scim/cli-fetch.js";
import { readCatalogState, toCatalogUser, type CatalogReadPace } from "./catalog-read.js";
import type { AppliedResult } from "./ownership.js";
import { executePlan, type AuditEntry, type ExecutionResult, type ExecutorHooks, type OperationOutcome } from "./executor.js";
import { LedgerStore, readTextFile, writeFileAtomic } from "./ledger.js";
import { acquireLock, type RunLock } from "./lock.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import { SnapshotState, type StateBinding, type StateEffect } from "./state.js";

export type Env = Record<string, string | undefined>;

export interface CatalogEndpointValues {
  target: string;
  baseUrl: string;
  apiKey: string;
  apiKeyNext?: string;
}

export interface RunSyncOptions {
  config: ProvisioningConfig;
  env?: Env;
  mode?: "live" | "snapshot";
  /** plan and print, never write to the Catalog */
  dryRun?: boolean;
  allowDeletions?: number;
  allowRemovals?: number;
  /** write the plan (with input fingerprints) to this file; implies no apply */
  planOut?: string;
  /** apply this reviewed plan, only if the source and the Catalog have not changed since */
  planIn?: string;
  /** rebuild the snapshot state from live */
  rebuildState?: boolean;
  now?: () => Date;
  /** overrides for tests and embedding */
  source?: DirectorySource;
  createClient?: (endpoint: CatalogEndpointValues, config: ProvisioningConfig) => ScimClientApi;
  fetch?: typeof fetch;
  progress?: ProgressReporter;
  hooks?: ExecutorHooks;
}

export interface TargetRunResult {
  target: string;
  /**
   * the plan; once applied its `operations` are empty (the executor let go of each as it
   * settled: a large plan is not held through the run), its counts and report stay
   */
  plan: SyncPlan;
  execution?: ExecutionResult;
  /** dry run only: the guard refusal apply would meet */
  refused?: ProvisioningError;
}

export interface SyncSummary {
  ok: boolean;
  mode: "live" | "snapshot";
  dryRun: boolean;
  targets: string[];
  created: number;
  adopted: number;
  updated: number;
  reactivated: number;
  membershipsAdded: number;
  membershipsRemoved: number;
  deactivated: number;
  deleted: number;
  failed: number;
  skipped: number;
  skippedByGuards: number;
  conflicts: number;
  unmanagedMembers: number;
  durationMs: number;
}

export interface SyncRunResult {
  summary: SyncSummary;
  targets: TargetRunResult[];
  /** the plan file written with `planOut` */
  planFile?: string;
}

/** The reviewed-plan file `--plan-out` writes and `--plan-in` reads. Never holds a secret. */
export interface PlanFile {
  version: 1;
  kind: "catalog-sync-plan";
  createdAt: string;
  mode: "live" | "snapshot";
  targets: { target: string; catalogUrl: string; fingerprints: { source: string; catalog: string; ledger: string }; plan: SyncPlan }[];
}

/** Run the sync. Throws a {@link ProvisioningError} for a refusal (exit 2–5); failed operations are in the summary. */
export async function runSync(options: RunSyncOptions): Promise<SyncRunResult> {
  const started = Date.now();
  const now = options.now ?? (() => new Date());
  const env = options.env ?? process.env;
  const config = options.config;
  const policy = config.sync;
  if (!policy) {
    throw new ConfigError('the configuration has no "sync" section', {
      ...(config.file !== undefined ? { file: config.file } : {}),
      hint: 'add "sync.source" (for example type "file" with a "path")',
    });
  }
  const mode = options.mode ?? policy.mode;
  const dryRun = options.dryRun === true || options.planOut !== undefined;
  const targets = syncTargets(config, policy);
  const endpoints = targets.map((t) => catalogEndpoint(t, env, config));
  const planIn = options.planIn !== undefined ? readPlanFile(options.planIn) : undefined;

  // a dry run takes the lock too: it reads the ledger (and may fold its journal) and the snapshot
  const lock: RunLock = acquireLock(policy.lockPath);
  const ledgerStore = new LedgerStore(policy.ledgerPath);
  const results: TargetRunResult[] = [];
  const progress = options.progress ?? silentProgress;
  let cliFetch: CliFetch | undefined;
  const fetchImpl = (): typeof fetch => {
    if (options.fetch) return options.fetch;
    cliFetch ??= createCliFetch({ maxConnections: config.scim.maxConnections });
    return cliFetch.fetch;
  };
  const planFile: PlanFile = { version: 1, kind: "catalog-sync-plan", createdAt: now().toISOString(), mode, targets: [] };
  const where = config.file !== undefined ? { file: config.file } : undefined;
  /**
   * A target's client and snapshot state, opened, and its Catalog read, started (deferred when it
   * would only read the local snapshot back). `pace`: opened while the source is being read (see
   * {@link CatalogReadPace}).
   */
  const openTarget = (i: number, sourceFingerprint: string, pace?: CatalogReadPace): OpenedTarget => {
    const target = targets[i]!;
    const endpoint = endpoints[i]!;
    const client = options.createClient ? options.createClient(endpoint, config) : defaultClient(endpoint, config, fetchImpl());
    const managed = managedGroupNames(managedCatalogGroups(target.groups), target);
    const statePath = targets.length > 1 ? `${policy.statePath}.${safeName(target.name)}` : policy.statePath;
    const binding: StateBinding = { target: target.name, catalogUrl: endpoint.baseUrl, sourceFingerprint, mappingHash: mappingHash(target, managed) };
    const state =
      mode === "snapshot" ? SnapshotState.open(statePath, binding, { ...(options.rebuildState ? { rebuild: true } : {}), now: now().toISOString() }) : undefined;
    // an initial sync (a snapshot never filled) writes: the capabilities it asks before its first
    // write go out with the read, which does not wait for them (a round trip less before the
    // writes); a dry run writes nothing and does not ask them
    if (state && !dryRun && !state.populated) client.capabilities().catch(() => undefined);
    const read = (): Promise<CatalogState> => {
      const catalog = state ? snapshotCatalog(state, client, managed, policy, now(), where, pace) : readCatalogState(client, managed, where, undefined, pace);
      // awaited where it is taken (or when the target is let go): no unhandled rejection meanwhile
      catalog.catch(() => undefined);
      return catalog;
    };
    // ahead of the source only a read over the network: the recorded state, read from the local
    // file, is read back once the source read has let go of its text (peak memory)
    const ahead = !pace || !state || liveReadDue(state, policy, now());
    return { client, sourceFingerprint, state, read, catalog: ahead ? read() : undefined };
  };
  try {
    const source = options.source ?? createSource(policy.source, { env, baseDir: config.dir });
    const reading = readSource(source);
    // The first target's Catalog read does not depend on what the source holds, only on where it
    // reads (bound into the snapshot state): when the source tells that up front, the state is
    // opened and the Catalog read goes out while the source is being read. Not with
    // --rebuild-state: the old state is moved aside only once the source has been read.
    let early: OpenedTarget | undefined;
    if (source.fingerprint !== undefined && !options.rebuildState) {
      try {
        early = openTarget(0, source.fingerprint, { after: reading.catch(() => undefined) });
      } catch (e) {
        await reading.catch(() => undefined);
        throw e;
      }
    }
    // released once the last target is planned (not kept through apply)
    let read: SourceRead | undefined;
    try {
      read = await reading;
      // the state was bound to the fingerprint announced: a read carrying another is refused
      if (early && read.fingerprint !== early.sourceFingerprint) {
        throw new ProvisioningError("SYNC_SOURCE_FAILED", `the source read carries the fingerprint "${read.fingerprint}", not the "${early.sourceFingerprint}" it announced`, {
          hint: "nothing was written; a source must announce the fingerprint its reads carry",
        });
      }
    } catch (e) {
      if (early) await letGo(early);
      throw e;
    }
    for (const [i, target] of targets.entries()) {
      const endpoint = endpoints[i]!;
      let opened: OpenedTarget | undefined;
      if (i === 0 && early) {
        opened = early;
        early = undefined;
      }
      // released once planned (not kept through apply)
      let catalog: CatalogState | undefined;
      try {
        checkSourceRead(read!, target, policy);
        opened ??= openTarget(i, read!.fingerprint);
        const { client, state } = opened;
        catalog = await (opened.catalog ?? opened.read());
        opened.catalog = undefined;

        // only a reviewed plan (in or out) needs the input fingerprints: not computed otherwise
        const fingerprintsOf = (): { source: string; catalog: string; ledger: string } => ({
          source: directoryFingerprint(read!.directory),
          catalog: catalogFingerprint(catalog!),
          ledger: ledgerFingerprint(ledgerStore.ledger, target.name),
        });
        let plan: SyncPlan;
        if (planIn) {
          const fingerprints = fingerprintsOf();
          const reviewed = planIn.targets.find((t) => t.target === target.name);
          if (!reviewed) throw stale(options.planIn!, `it has no plan for the target "${target.name}"`);
          if (reviewed.catalogUrl !== endpoint.baseUrl) throw stale(options.planIn!, `it was made for another Catalog URL`);
          if (reviewed.fingerprints.source !== fingerprints.source) throw stale(options.planIn!, "the source changed since it was made");
          if (reviewed.fingerprints.catalog !== fingerprints.catalog) throw stale(options.planIn!, "the Catalog changed since it was made");
          if (reviewed.fingerprints.ledger !== fingerprints.ledger) throw stale(options.planIn!, "the ownership ledger changed since it was made");
          plan = reviewed.plan;
        } else {
          plan = planSync({
            target,
            policy,
            attributes: config.attributes,
            connections: config.connections,
            ...(sourceConnection(policy) !== undefined ? { sourceConnection: sourceConnection(policy)! } : {}),
            directory: read!.directory,
            catalog: catalog!,
            ledger: ledgerStore.ledger,
            now: now().toISOString(),
            ...(options.allowDeletions !== undefined ? { allowDeletions: options.allowDeletions } : {}),
            ...(options.allowRemovals !== undefined ? { allowRemovals: options.allowRemovals } : {}),
          });
        }
        if (dryRun) {
          // a dry run shows the plan even when a guard would refuse it, and reports the refusal
          let refused: ProvisioningError | undefined;
          try {
            enforceGuards(plan);
          } catch (e) {
            if (!(e instanceof ProvisioningError)) throw e;
            refused = e;
          }
          planFile.targets.push({ target: target.name, catalogUrl: endpoint.baseUrl, fingerprints: fingerprintsOf(), plan });
          results.push({ target: target.name, plan, ...(refused ? { refused } : {}) });
          continue;
        }
        catalog = undefined;
        if (i === targets.length - 1) read = undefined;
        enforceGuards(plan);

        const execution = await apply(plan, client, {
          target,
          policy,
          ledgerStore,
          state,
          now,
          progress,
          ...(options.hooks ? { hooks: options.hooks } : {}),
        });
        results.push({ target: target.name, plan, execution });
        state?.setLastRunFailed(execution.failed > 0);
      } finally {
        if (opened) await letGo(opened);
      }
    }
  } finally {
    try {
      ledgerStore.flush();
    } finally {
      lock.release();
      await cliFetch?.close().catch(() => undefined);
    }
  }

  let written: string | undefined;
  if (options.planOut !== undefined) {
    writeFileAtomic(options.planOut, `${JSON.stringify(planFile, null, 2)}\n`);
    written = options.planOut;
  }
  return {
    summary: summarize(results, { mode, dryRun, durationMs: Date.now() - started }),
    targets: results,
    ...(written !== undefined ? { planFile: written } : {}),
  };
}

async function readSource(source: DirectorySource): Promise<SourceRead> {
  try {
    return await source.read();
  } catch (e) {
    if (e instanceof ProvisioningError) throw e;
    throw new ProvisioningError("SYNC_SOURCE_FAILED", `the source read failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: "nothing was written; the next run reads the source again",
    });
  }
}

/** A target whose snapshot state is open and whose Catalog read has started. */
interface OpenedTarget {
  client: ScimClientApi;
  sourceFingerprint: string;
  state: SnapshotState | undefined;
  /** the Catalog state being read, when started; dropped once taken (not held through apply) */
  catalog: Promise<CatalogState> | undefined;
  /** starts the Catalog read */
  read(): Promise<CatalogState>;
}

/** Waits for the target's Catalog read to settle (it may still write the state), then closes its state. */
async function letGo(t: OpenedTarget): Promise<void> {
  await t.catalog?.catch(() => undefined);
  t.catalog = undefined;
  t.state?.close();
}

interface ApplyContext {
  target: TargetConfig;
  policy: SyncPolicy;
  ledgerStore: LedgerStore;
  state: SnapshotState | undefined;
  now: () => Date;
  progress: ProgressReporter;
  hooks?: ExecutorHooks;
}

async function apply(plan: SyncPlan, client: ScimClientApi, ctx: ApplyContext): Promise<ExecutionResult> {
  const { policy, ledgerStore, state } = ctx;
  const intents = new Map<number, number>();
  const connection = sourceConnection(policy);
  const auditLog = openAuditLog(policy.auditLogPath);
  const intentCommit = state
    ? new GroupCommit<{ index: number; operation: SyncOperation }, number>((items) =>
        state.recordIntents(
          items.map((i) => i.operation),
          ctx.now().toISOString(),
        ),
      )
    : undefined;
  const doneCommit = new GroupCommit<OperationOutcome, void>(async (outcomes) => {
    const at = ctx.now().toISOString();
    const accepted: { operation: SyncOperation; result: AppliedResult }[] = [];
    for (const outcome of outcomes) {
      const applied = appliedOperation(outcome);
      if (!applied) continue;
      accepted.push({
        operation: applied,
        result: {
          target: plan.target,
          now: at,
          ...(connection !== undefined ? { connection } : {}),
          ...(outcome.scimId !== undefined ? { scimId: outcome.scimId } : {}),
        },
      });
    }
    if (state) {
      const settled: { seq: number; effects: StateEffect[]; done: boolean }[] = [];
      for (const outcome of outcomes) {
        const seq = intents.get(outcome.index);
        if (seq === undefined) continue;
        intents.delete(outcome.index);
        const found = stateEffects(outcome, client, state);
        const effects = Array.isArray(found) ? found : await found;
        // an operation that failed stays as a pending intent: the next start re-reads what it touched
        if (outcome.status === "done" || effects.length > 0) settled.push({ seq, effects, done: outcome.status === "done" });
      }
      ledgerStore.applyMany(accepted);
      state.recordDoneMany(settled);
    } else {
      ledgerStore.applyMany(accepted);
    }
    return outcomes.map(() => undefined);
  });
  ctx.progress.start(ctx.target.name, plan.operations.length);
  try {
    // the operations are handed over to the executor (the plan was printed or written before)
    return await executePlan(client, plan.operations, {
      consume: true,
      target: plan.target,
      concurrency: policy.concurrency,
      batchSize: policy.batchSize,
      audit: auditLog,
      now: ctx.now,
      hooks: {
        // group commit: the intents of one request (and of the requests about to go out alongside
        // it) in one transaction, durable before any of them is sent
        beforeBatch: async (items) => {
          if (!intentCommit) return;
          const seqs = await intentCommit.submit(items);
          items.forEach((item, k) => intents.set(item.index, seqs[k]!));
        },
        beforeOperation: async (index, operation) => {
          await ctx.hooks?.beforeOperation?.(index, operation);
        },
        // what one request's answer made true (with the answers that arrived alongside it),
        // recorded at once: one journal write, one transaction
        afterBatch: (outcomes) => doneCommit.submit(outcomes).then(() => undefined),
        afterOperation: async (outcome) => {
          ctx.progress.tick(outcome);
          await ctx.hooks?.afterOperation?.(outcome);
        },
      },
    });
  } finally {
    auditLog.close();
    ctx.progress.finish();
  }
}

/**
 * Group commit: the records submitted while one commit is being prepared (the operations in
 * flight together, whose answers arrive in the same turn of the event loop) are written by one
 * call of `commit`, one transaction. `submit` resolves once its records are committed.
 */
class GroupCommit<T, R> {
  #queue: { items: readonly T[]; resolve: (r: R[]) => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;

  constructor(private readonly commit: (items: readonly T[]) => R[] | Promise<R[]>) {}

  submit(items: readonly T[]): Promise<R[]> {
    return new Promise<R[]>((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    try {
      const results = await this.commit(batch.flatMap((b) => b.items));
      let at = 0;
      for (const b of batch) {
        b.resolve(results.slice(at, at + b.items.length));
        at += b.items.length;
      }
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }
}

/** The operation as the Catalog accepted it (only the members that went through), for the ledger. */
function appliedOperation(o: OperationOutcome): SyncOperation | undefined {
  const op = o.operation;
  if (op.op === "addMembers") {
    const added = o.members?.added ?? [];
    return added.length > 0 ? { ...op, members: added.map((scimId) => ({ scimId })) } : undefined;
  }
  if (op.op === "removeMembers") {
    const removed = o.members?.removed ?? [];
    return removed.length > 0 ? { ...op, scimIds: removed } : undefined;
  }
  return o.status === "done" ? op : undefined;
}

/** What an outcome made true, for the snapshot; known from the request and the answer (a promise only when the user must be read back) */
function stateEffects(o: OperationOutcome, client: ScimClientApi, state: SnapshotState): StateEffect[] | Promise<StateEffect[]> {
  const op = o.operation;
  switch (op.op) {
    case "addMembers":
    case "removeMembers": {
      const added = o.members?.added ?? [];
      const removed = o.members?.removed ?? [];
      return added.length + removed.length > 0 ? [{ kind: "members", groupId: op.groupId, added, removed }] : [];
    }
    case "deactivateUser":
      return o.status === "done" ? [{ kind: "userActive", id: op.scimId, active: false }] : [];
    case "deleteUser":
      return o.status === "done" ? [{ kind: "userGone", id: op.scimId }] : [];
    default: {
      if (o.status !== "done" || !o.scimId) return [];
      if (o.user) return [{ kind: "user", user: toCatalogUser(o.user) }];
      // no body (a Bulk answer, a 204): the created user is the request's data with the returned id
      if (op.op === "createUser") return [{ kind: "user", user: toCatalogUser({ ...op.user, id: o.scimId, externalId: op.externalId }) }];
      // a PATCH answered without the resource: its effect on the recorded user is known from the request
      const known = state.user(o.scimId);
      const patched = known ? patchedUser(known, op.op === "reactivateUser" ? [{ op: "replace", path: "active", value: true }] : op.patch) : undefined;
      if (patched) return [{ kind: "user", user: patched }];
      return client
        .getUser(o.scimId)
        .catch(() => undefined)
        .then((user): StateEffect[] => (user ? [{ kind: "user", user: toCatalogUser(user) }] : []));
    }
  }
}

type RecordedUser = CatalogState["users"][number];

/**
 * The recorded user after the PATCH operations the sync sends (`userPatch`, reactivation), or
 * undefined for any other form (the caller then reads the user back).
 */
export function patchedUser(user: RecordedUser, ops: readonly PatchOperation[]): RecordedUser | undefined {
  const u: RecordedUser = { ...user, ...(user.name ? { name: { ...user.name } } : {}), ...(user.emails ? { emails: user.emails.map((e) => ({ ...e })) } : {}) };
  for (const o of ops) {
    if (o.op.toLowerCase() !== "replace") return undefined;
    const v = o.value;
    switch (o.path) {
      case "externalId":
      case "userName":
      case "displayName":
        if (typeof v !== "string") return undefined;
        u[o.path] = v;
        break;
      case "active":
        if (typeof v !== "boolean") return undefined;
        u.active = v;
        break;
      case "name.givenName":
      case "name.familyName":
        if (typeof v !== "string") return undefined;
        u.name = { ...u.name, [o.path === "name.givenName" ? "givenName" : "familyName"]: v };
        break;
      case 'emails[type eq "work"].value':
      case "emails[primary eq true].value": {
        if (typeof v !== "string") return undefined;
        const byType = o.path.startsWith("emails[type");
        const targets = (u.emails ?? []).filter((e) => (byType ? e.type === "work" : e.primary === true));
        if (targets.length === 0) return undefined;
        for (const e of targets) e.value = v;
        break;
      }
      default:
        return undefined;
    }
  }
  return u;
}

/** Whether the snapshot is rebuilt from a live read this run: fresh, unpopulated, audit due, or the last run failed. */
function liveReadDue(state: SnapshotState, policy: SyncPolicy, now: Date): boolean {
  const lastAudit = state.lastAudit ? Date.parse(state.lastAudit) : Number.NaN;
  const auditDue = Number.isNaN(lastAudit) || now.getTime() - lastAudit >= policy.auditEveryHours * 3_600_000;
  return state.fresh || !state.populated || auditDue || state.lastRunFailed;
}

/**
 * The Catalog state from the snapshot. A fresh, unpopulated, audit-due or previously failed
 * state is rebuilt from a live read; pending intents (a crash mid-run) are re-read live.
 */
async function snapshotCatalog(
  state: SnapshotState,
  client: ScimClientApi,
  managed: readonly string[],
  policy: SyncPolicy,
  now: Date,
  where: { file?: string } | undefined,
  pace?: CatalogReadPace,
): Promise<CatalogState> {
  if (liveReadDue(state, policy, now)) {
    // the live read is not held while the recorded state is read back
    state.replaceAll(await readCatalogState(client, managed, where, undefined, pace), now.toISOString());
    return state.catalog();
  }
  for (const intent of state.pendingIntents()) {
    state.applyEffects(await reread(intent.operation, client));
    state.clearIntent(intent.seq);
  }
  return state.catalog();
}

/** What a possibly half-done operation touched, read back live. */
async function reread(op: SyncOperation, client: ScimClientApi): Promise<StateEffect[]> {
  switch (op.op) {
    case "createUser": {
      const u = await client.findUserByExternalId(op.externalId);
      return u ? [{ kind: "user", user: toCatalogUser(u) }] : [];
    }
    case "addMembers":
    case "removeMembers":
      return [{ kind: "groupMembers", groupId: op.groupId, members: await client.listGroupMembers(op.groupId) }];
    default: {
      const u = await client.getUser(op.scimId);
      return [u ? { kind: "user", user: toCatalogUser(u) } : { kind: "userGone", id: op.scimId }];
    }
  }
}

function openAuditLog(path: string): { write(entry: AuditEntry): void; writeMany(entries: readonly AuditEntry[]): void; close(): void } {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | undefined;
  const append = (text: string): void => {
    fd ??= openSync(path, "a", 0o600);
    writeSync(fd, text);
  };
  // one request's entries: one write (a thousand lines of a Bulk request are not a thousand system calls)
  const writeMany = (entries: readonly AuditEntry[]): void => {
    if (entries.length === 0) return;
    let text = "";
    for (const entry of entries) text += `${JSON.stringify(entry)}\n`;
    append(text);
  };
  return {
    write: (entry) => writeMany([entry]),
    writeMany,
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** The targets this source feeds: those whose `match.connections` include the source's connection, or the shorthand target. */
export function syncTargets(config: ProvisioningConfig, policy: SyncPolicy): TargetConfig[] {
  const connection = sourceConnection(policy);
  const targets = config.targets.filter((t) =>
    t.match.connections.length === 0 ? t.match.organizations.length === 0 || connection === undefined : connection !== undefined && t.match.connections.includes(connection),
  );
  if (targets.length === 0) {
    throw new ConfigError(
      connection === undefined ? "no target accepts a source that is not tied to a connection" : `no target lists the source's connection "${connection}"`,
      {
        ...(config.file !== undefined ? { file: config.file } : {}),
        hint: 'set "sync.source.connection" to one of a target\'s "match.connections", or use the shorthand form',
      },
    );
  }
  return targets;
}

function sourceConnection(policy: SyncPolicy): string | undefined {
  const c = (policy.source as { connection?: unknown }).connection;
  return typeof c === "string" && c !== "" ? c : undefined;
}

/** The Catalog URL and keys of a target from the environment (never printed). */
export function catalogEndpoint(target: TargetConfig, env: Env, config: ProvisioningConfig): CatalogEndpointValues {
  const file = config.file !== undefined ? { file: config.file } : {};
  const baseUrl = nonEmpty(env[target.catalog.urlSecret]) ?? target.catalog.url;
  if (!baseUrl) {
    throw new ConfigError(`no Catalog URL for the target "${target.name}"`, {
      code: "CONFIG_MISSING_SECRET",
      ...file,
      hint: `set the environment variable "${target.catalog.urlSecret}"`,
    });
  }
  const apiKey = nonEmpty(env[target.catalog.apiKeySecret]);
  if (!apiKey) {
    throw new ConfigError(`no Catalog API key for the target "${target.name}"`, {
      code: "CONFIG_MISSING_SECRET",
      ...file,
      hint: `set the environment variable "${target.catalog.apiKeySecret}"`,
    });
  }
  const apiKeyNext = nonEmpty(env[target.catalog.apiKeyNextSecret]);
  return { target: target.name, baseUrl: baseUrl.replace(/\/+$/, ""), apiKey, ...(apiKeyNext ? { apiKeyNext } : {}) };
}

function defaultClient(endpoint: CatalogEndpointValues, config: ProvisioningConfig, fetchImpl: typeof fetch): ScimClientApi {
  return new ScimClient({
    // the sync uses Bulk, ETags and the page cap, all in /ServiceProviderConfig: no probe requests
    discovery: "serviceProviderConfig",
    baseUrl: endpoint.baseUrl,
    apiKey: endpoint.apiKey,
    ...(endpoint.apiKeyNext ? { apiKeyNext: endpoint.apiKeyNext } : {}),
    fetch: fetchImpl,
    timeoutMs: config.scim.timeoutMs,
    retries: config.scim.retries,
    ...(config.scim.rateLimit !== undefined ? { rateLimitPerSecond: config.scim.rateLimit } : {}),
  });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function stale(file: string, why: string): ProvisioningError {
  return new ProvisioningError("SYNC_PLAN_STALE", `the reviewed plan "${file}" cannot be applied: ${why}`, {
    file,
    hint: "make a new plan with --plan-out and review it again",
  });
}

/** Read and check a plan file written by `--plan-out`. */
export function readPlanFile(path: string): PlanFile {
  let data: unknown;
  try {
    data = JSON.parse(readTextFile(path));
  } catch (e) {
    throw new ConfigError(`cannot read the plan file "${path}": ${e instanceof Error ? e.message : String(e)}`, { file: path, cause: e });
  }
  const p = data as Partial<PlanFile>;
  if (p?.version !== 1 || p.kind !== "catalog-sync-plan" || !Array.isArray(p.targets)) {
    throw new ConfigError(`the plan file "${path}" is not a sync plan`, { file: path, hint: "write one with --plan-out" });
  }
  for (const t of p.targets) {
    if (typeof t?.target !== "string" || typeof t.fingerprints?.source !== "string" || !Array.isArray(t.plan?.operations)) {
      throw new ConfigError(`the plan file "${path}" is not a sync plan`, { file: path, hint: "write one with --plan-out" });
    }
  }
  return p as PlanFile;
}

// ---- fingerprints (stable JSON → sha256) -----------------------------------------------

/** Stable JSON (keys sorted, undefined members left out), fed to `out` piece by piece. */
function stableTo(v: unknown, out: (s: string) => void): void {
  if (Array.isArray(v)) {
    out("[");
    v.forEach((x, i) => {
      if (i > 0) out(",");
      stableTo(x, out);
    });
    out("]");
    return;
  }
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out("{");
    entries.forEach(([k, x], i) => {
      out(`${i > 0 ? "," : ""}${JSON.stringify(k)}:`);
      stableTo(x, out);
    });
    out("}");
    return;
  }
  out(JSON.stringify(v) ?? ""); // as `[...].join(",")` writes an undefined item
}

/** sha256 of the stable JSON, hashed in 64 kB pieces (no whole-input string for a large directory) */
function sha256(v: unknown): string {
  const hash = createHash("sha256");
  let buffer = "";
  stableTo(v, (s) => {
    buffer += s;
    if (buffer.length >= 65_536) {
      hash.update(buffer);
      buffer = "";
    }
  });
  return hash.update(buffer).digest("hex");
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function directoryFingerprint(d: Directory): string {
  return sha256({
    users: [...d.users].sort(byId),
    groups: [...d.groups].sort(byId).map((g) => ({ ...g, members: [...g.members].sort() })),
  });
}

export function catalogFingerprint(c: CatalogState): string {
  return sha256({
    users: [...c.users].sort(byId),
    groups: [...c.groups].sort(byId).map((g) => ({ ...g, members: [...g.members].sort() })),
  });
}

function ledgerFingerprint(l: Ledger, target: string): string {
  return sha256(
    l.users
      .filter((u) => u.target === target)
      .map((u) => ({ ...u, granted: [...u.granted].sort() }))
      .sort((a, b) => (a.scimId < b.scimId ? -1 : 1)),
  );
}

/** The mapping as it shapes the snapshot: rules, managed groups, exclusions (no line numbers). */
export function mappingHash(target: TargetConfig, managed: readonly string[]): string {
  return sha256({
    rules: target.groups.rules.map((r) => ({ idp: r.idp, catalogGroups: r.catalogGroups })),
    caseInsensitive: target.groups.caseInsensitive,
    privileged: target.groups.privileged,
    managed,
    exclude: target.exclude,
    include: target.include,
  });
}

function summarize(results: TargetRunResult[], meta: { mode: "live" | "snapshot"; dryRun: boolean; durationMs: number }): SyncSummary {
  const s: SyncSummary = {
    ok: true,
    mode: meta.mode,
    dryRun: meta.dryRun,
    targets: results.map((r) => r.target),
    created: 0,
    adopted: 0,
    updated: 0,
    reactivated: 0,
    membershipsAdded: 0,
    membershipsRemoved: 0,
    deactivated: 0,
    deleted: 0,
    failed: 0,
    skipped: 0,
    skippedByGuards: 0,
    conflicts: 0,
    unmanagedMembers: 0,
    durationMs: meta.durationMs,
  };
  for (const r of results) {
    s.conflicts += r.plan.report.conflicts.length;
    s.unmanagedMembers += r.plan.report.unmanagedMembers.length;
    if (r.refused) s.skippedByGuards += r.plan.operations.length;
    if (!r.execution) {
      // a dry run: what apply would do
      s.created += r.plan.counts.create;
      s.adopted += r.plan.counts.adopt;
      s.updated += r.plan.counts.update;
      s.reactivated += r.plan.counts.reactivate;
      s.membershipsAdded += r.plan.counts.membershipsAdded;
      s.membershipsRemoved += r.plan.counts.membershipsRemoved;
      s.deactivated += r.plan.counts.deactivate;
      s.deleted += r.plan.counts.delete;
      continue;
    }
    const e = r.execution;
    s.created += e.doneByOp.createUser;
    s.adopted += e.doneByOp.adoptUser;
    s.updated += e.doneByOp.updateUser;
    s.reactivated += e.doneByOp.reactivateUser;
    s.deactivated += e.doneByOp.deactivateUser;
    s.deleted += e.doneByOp.deleteUser;
    s.membershipsAdded += e.membershipsAdded;
    s.membershipsRemoved += e.membershipsRemoved;
    s.failed += e.failed;
    s.skipped += e.skipped;
  }
  s.ok = s.failed === 0 && s.skippedByGuards === 0;
  return s;
}
