/**
 * Apply a deploy plan with the `auth0` SDK, read the tenant's state, roll back and list versions.
 *
 * Order per action: create or PATCH the draft with every secret → poll until `built` (stop on
 * `failed` with the build errors; bounded wait) → deploy → bind at the configured position,
 * keeping every other binding in order → read the bindings back. Every call survives a 429
 * (honouring `Retry-After`) and a failure names its step. Never prompts.
 */
import { ManagementError, type ManagementClient } from "auth0";
import { ProvisioningError } from "../errors.js";
import { readMarkers, withFingerprint, withPin, type BindingChange, type DeployPlan, type RemoteAction, type RemoteBinding, type RemoteState } from "./plan.js";
import type { TenantAction } from "./tenant.js";

export type DeployStep = "read" | "create" | "update" | "wait-build" | "deploy" | "bind" | "confirm-bindings" | "rollback" | "pin" | "list-versions";

export interface IoOptions {
  /** injected for tests: no real waiting */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** attempts per call on 429 (default 5) */
  maxAttempts?: number;
  /** bound on the build wait (default 5 min) */
  buildTimeoutMs?: number;
  /** between build polls (default 2 s) */
  pollIntervalMs?: number;
  log?: (line: string) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function retryAfterMs(e: ManagementError): number | undefined {
  const h = e.rawResponse?.headers?.get("retry-after");
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.min(60_000, Math.max(0, secs * 1000));
  const date = Date.parse(h);
  return Number.isFinite(date) ? Math.min(60_000, Math.max(0, date - Date.now())) : undefined;
}

function describe(e: unknown): string {
  if (e instanceof ManagementError) {
    const body = e.body as { message?: string } | undefined;
    return `${e.statusCode ?? "error"}${body?.message ? ` ${body.message}` : ""}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** run one Management API call as a named step: retry 429s, name the step on failure */
export async function step<T>(name: DeployStep, subject: string | undefined, fn: () => Promise<T>, io: IoOptions = {}): Promise<T> {
  const sleep = io.sleep ?? realSleep;
  const attempts = io.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ProvisioningError) throw e;
      if (e instanceof ManagementError && e.statusCode === 429 && attempt < attempts) {
        const wait = retryAfterMs(e) ?? Math.min(60_000, 1000 * 2 ** (attempt - 1));
        io.log?.(`step "${name}" was rate limited: retrying in ${Math.round(wait / 1000)} s`);
        await sleep(wait);
        continue;
      }
      const status = e instanceof ManagementError ? e.statusCode : undefined;
      throw new ProvisioningError("DEPLOY_STEP_FAILED", `step "${name}"${subject ? ` of "${subject}"` : ""} failed: ${describe(e)}`, {
        cause: e,
        details: { step: name, ...(subject ? { action: subject } : {}), ...(status !== undefined ? { status } : {}) },
      });
    }
  }
}

async function collect<T>(page: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of page) out.push(x);
  return out;
}

function toRemoteAction(a: Awaited<ReturnType<ManagementClient["actions"]["get"]>>): RemoteAction {
  const r: RemoteAction = {
    id: a.id ?? "",
    name: a.name ?? "",
    code: a.code ?? "",
    secrets: (a.secrets ?? []).map((s) => ({ name: s.name ?? "", ...(s.updated_at ? { updated_at: s.updated_at } : {}) })),
  };
  const d = a.deployed_version;
  if (d?.id) {
    r.deployedVersion = { id: d.id, code: d.code ?? "", ...(d.number !== undefined ? { number: d.number } : {}), ...(d.created_at ? { created_at: d.created_at } : {}) };
  }
  return r;
}

/** find actions by name (paging to the empty page) */
export async function findActions(client: ManagementClient, names: string[], io: IoOptions = {}): Promise<Map<string, string>> {
  const all = await step("read", undefined, async () => collect(await client.actions.list()), io);
  const ids = new Map<string, string>();
  for (const a of all) if (a.name && a.id && names.includes(a.name)) ids.set(a.name, a.id);
  return ids;
}

/** the tenant's state for the named actions and triggers */
export async function readRemoteState(client: ManagementClient, names: string[], triggers: string[], io: IoOptions = {}): Promise<RemoteState> {
  const ids = await findActions(client, names, io);
  const actions: RemoteAction[] = [];
  for (const [name, id] of ids) actions.push(toRemoteAction(await step("read", name, () => client.actions.get(id), io)));
  const bindings: Record<string, RemoteBinding[]> = {};
  for (const t of triggers) bindings[t] = await readBindings(client, t, io, "read");
  return { actions, bindings };
}

async function readBindings(client: ManagementClient, trigger: string, io: IoOptions, name: DeployStep): Promise<RemoteBinding[]> {
  const list = await step(name, undefined, async () => collect(await client.actions.triggers.bindings.list(trigger as "post-login")), io);
  return list.map((b) => ({
    id: b.id ?? "",
    ...(b.action?.id ? { actionId: b.action.id } : {}),
    ...(b.action?.name ? { actionName: b.action.name } : {}),
    ...(b.display_name ? { displayName: b.display_name } : {}),
  }));
}

/** poll the draft until `built`; `failed` stops with the build errors */
export async function waitForBuild(client: ManagementClient, id: string, name: string, io: IoOptions = {}): Promise<void> {
  const sleep = io.sleep ?? realSleep;
  const now = io.now ?? Date.now;
  const timeout = io.buildTimeoutMs ?? 300_000;
  const interval = io.pollIntervalMs ?? 2000;
  const started = now();
  for (let polls = 0; ; polls++) {
    const a = await step("wait-build", name, () => client.actions.get(id), io);
    if (a.status === "built") return;
    if (a.status === "failed") {
      const raw = a as { errors?: { id?: string; msg?: string }[] };
      const errors = (raw.errors ?? a.deployed_version?.errors ?? []).map((x) => x.msg ?? x.id ?? "unknown error");
      throw new ProvisioningError("DEPLOY_BUILD_FAILED", `step "wait-build" of "${name}" failed: the build failed${errors.length ? `: ${errors.join("; ")}` : ""}`, {
        details: { step: "wait-build", action: name, errors },
      });
    }
    if (now() - started >= timeout) {
      throw new ProvisioningError("DEPLOY_BUILD_TIMEOUT", `step "wait-build" of "${name}" failed: not built after ${Math.round(timeout / 1000)} s (status "${a.status ?? "unknown"}")`, {
        details: { step: "wait-build", action: name, polls },
      });
    }
    await sleep(interval);
  }
}

export interface ApplyResult {
  created: string[];
  updated: string[];
  deployed: { name: string; version?: number }[];
  bound: { trigger: string; order: string[] }[];
}

/** the action body sent on create and update (never `deployed`, which the API rejects) */
function body(action: TenantAction, fingerprint: string, includeSecrets: boolean) {
  return {
    code: withFingerprint(action.code, fingerprint),
    runtime: action.runtime,
    dependencies: action.dependencies,
    supported_triggers: action.supported_triggers as { id: "post-login"; version: string }[],
    ...(includeSecrets ? { secrets: action.secrets } : {}),
  };
}

/** apply a plan that has no refusals */
export async function applyPlan(
  client: ManagementClient,
  plan: DeployPlan,
  actions: TenantAction[],
  fingerprints: Map<string, string>,
  io: IoOptions = {},
): Promise<ApplyResult> {
  if (plan.refusals.length > 0) {
    const first = plan.refusals[0]!;
    throw new ProvisioningError(first.code, plan.refusals.map((r) => r.message).join("; "), { hint: first.hint, details: { refusals: plan.refusals } });
  }
  const result: ApplyResult = { created: [], updated: [], deployed: [], bound: [] };
  const ids = new Map<string, string>();
  for (const change of plan.actions) {
    const action = actions.find((a) => a.name === change.name);
    const fp = fingerprints.get(change.name);
    if (!action || fp === undefined) throw new TypeError(`no desired action "${change.name}" for the plan`);
    if (change.kind === "unchanged") {
      ids.set(change.name, change.id);
      continue;
    }
    let id: string;
    if (change.kind === "create") {
      const created = await step("create", change.name, () => client.actions.create({ name: action.name, ...body(action, fp, true) }), io);
      id = created.id ?? "";
      result.created.push(change.name);
    } else {
      id = change.id;
      if (change.patch) {
        await step("update", change.name, () => client.actions.update(id, body(action, fp, true)), io);
        result.updated.push(change.name);
      }
    }
    ids.set(change.name, id);
    if (change.deploy) {
      await waitForBuild(client, id, change.name, io);
      const v = await step("deploy", change.name, () => client.actions.deploy(id), io);
      result.deployed.push({ name: change.name, ...(v.number !== undefined ? { version: v.number } : {}) });
    }
  }
  for (const b of plan.bindings) result.bound.push(await applyBindings(client, b, ids, io));
  return result;
}

async function applyBindings(client: ManagementClient, change: BindingChange, ids: Map<string, string>, io: IoOptions) {
  const bindings = change.after.map((s) => {
    if (s.kind === "existing") return { ref: { type: "binding_id" as const, value: s.bindingId }, ...(s.displayName ? { display_name: s.displayName } : {}) };
    const id = ids.get(s.actionName);
    if (!id) throw new TypeError(`no action id for "${s.actionName}"`);
    return { ref: { type: "action_id" as const, value: id }, display_name: s.displayName };
  });
  await step("bind", change.inserted.join(", "), () => client.actions.triggers.bindings.updateMany(change.trigger as "post-login", { bindings }), io);
  // read back: every binding kept, ours where planned
  const after = await readBindings(client, change.trigger, io, "confirm-bindings");
  const expected = change.after.map((s) => (s.kind === "existing" ? `b:${s.bindingId}` : `a:${ids.get(s.actionName)}`));
  const actual = after.map((b, i) => (change.after[i]?.kind === "existing" ? `b:${b.id}` : `a:${b.actionId}`));
  if (expected.join("|") !== actual.join("|")) {
    throw new ProvisioningError("DEPLOY_STEP_FAILED", `step "confirm-bindings" failed: "${change.trigger}" bindings read back differ from the list sent`, {
      details: { step: "confirm-bindings", trigger: change.trigger },
    });
  }
  return { trigger: change.trigger, order: after.map((b) => b.actionName ?? b.id) };
}

export interface VersionRow {
  number: number;
  id: string;
  created_at?: string;
  deployed: boolean;
  fingerprint?: string;
  pinned: boolean;
}

async function actionId(client: ManagementClient, name: string, io: IoOptions): Promise<string> {
  const id = (await findActions(client, [name], io)).get(name);
  if (!id) throw new ProvisioningError("DEPLOY_NOT_FOUND", `action "${name}" is not on the tenant`, { details: { action: name } });
  return id;
}

/** every stored version, newest first, with fingerprint and pin */
export async function listVersions(client: ManagementClient, name: string, io: IoOptions = {}): Promise<VersionRow[]> {
  const id = await actionId(client, name, io);
  const draft = await step("list-versions", name, () => client.actions.get(id), io);
  const pin = readMarkers(draft.code ?? "").pin;
  const versions = await step("list-versions", name, async () => collect(await client.actions.versions.list(id)), io);
  return versions
    .map((v) => {
      const fp = readMarkers(v.code ?? "").fingerprint;
      const row: VersionRow = { number: v.number ?? 0, id: v.id ?? "", deployed: v.deployed === true, pinned: pin !== undefined && pin.versionId === v.id };
      if (v.created_at) row.created_at = v.created_at;
      if (fp) row.fingerprint = fp;
      return row;
    })
    .sort((a, b) => b.number - a.number);
}

export interface RollbackResult {
  action: string;
  from?: number;
  to: number;
  /** the new deployed version, identical to `to`, now pinned */
  version: number;
}

/**
 * Redeploy a previous version (default: the one before the deployed version) and pin it in the
 * draft, where every later deploy (CI or an admin) reads it.
 */
export async function rollback(client: ManagementClient, name: string, to: number | undefined, io: IoOptions = {}): Promise<RollbackResult> {
  const id = await actionId(client, name, io);
  const versions = await step("rollback", name, async () => collect(await client.actions.versions.list(id)), io);
  const current = versions.find((v) => v.deployed)?.number;
  const target =
    to !== undefined
      ? versions.find((v) => v.number === to)
      : versions.filter((v) => v.number !== undefined && (current === undefined || v.number < current)).sort((a, b) => b.number! - a.number!)[0];
  if (!target?.id || target.number === undefined) {
    throw new ProvisioningError("DEPLOY_NOT_FOUND", to !== undefined ? `version ${to} of "${name}" does not exist (the tenant keeps 50)` : `"${name}" has no earlier version to roll back to`, {
      details: { action: name, ...(to !== undefined ? { version: to } : {}) },
    });
  }
  const nv = await step("rollback", name, () => client.actions.versions.deploy(id, target.id!, { update_draft: true }), io);
  const draft = await step("pin", name, () => client.actions.get(id), io);
  const pinned = withPin(draft.code ?? target.code ?? "", { number: nv.number ?? target.number, versionId: nv.id ?? target.id });
  // code only: leaving `secrets` out keeps them as they are
  await step("pin", name, () => client.actions.update(id, { code: pinned }), io);
  return { action: name, ...(current !== undefined ? { from: current } : {}), to: target.number, version: nv.number ?? target.number };
}
