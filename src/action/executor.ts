/**
 * Runs a login: gate (which logins, mode), claims, mapping, then the JIT planner's steps over
 * the SCIM client, within a budget, behind a circuit breaker, with the failure policy.
 * No error ever escapes `runPostLogin`.
 */
import type { ActionConfig, ActionTargetConfig } from "../config/action-config.js";
import type { ConnectionConfig } from "../config/types.js";
import { resolveMapping, managedCatalogGroups, selectTarget } from "../config/mapping.js";
import { ProvisioningError, ScimResponseError, isUniquenessError, type ErrorCode } from "../errors.js";
import { extractAnchor } from "../claims/anchor.js";
import { extractGroups } from "../claims/groups.js";
import { mapAttributes } from "../claims/profile.js";
import { normalizeUserName } from "../identity.js";
import { addMembers, patchRequest } from "../scim/patch.js";
import type { BulkOperation, Capabilities, ScimUser, ScimUserInput } from "../scim/types.js";
import type { ActionScimApi } from "./scim-lite.js";
import type { PostLoginApi, PostLoginEvent } from "./auth0-types.js";
import {
  BREAKER_KEY,
  BREAKER_TTL_MS,
  GROUPS_KEY,
  GROUPS_TTL_MS,
  readEntry,
  unpackCapabilities,
  packCapabilities,
  writeEntry,
  type BreakerEntry,
  type TargetGroupsEntry,
} from "./cache.js";
import { NO_ANCHOR, parseAppliedState, planLogin, type AppliedState, type JitStep, type Lookups, type PlanInput } from "./plan.js";

export { packCapabilities, unpackCapabilities } from "./cache.js";

/** What the executor hands to the SCIM client factory (a subset of the transport options). */
export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  apiKeyNext?: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  retries: number;
  backoff: { baseMs: number; maxMs: number };
  deadline: number;
  keyState: { preferred?: "next" | "current" };
  clock: { now(): number };
  sleep?: ((ms: number) => Promise<void>) | undefined;
  random: () => number;
  /** capabilities remembered in the cache: no discovery requests */
  capabilities?: Capabilities | undefined;
}

export interface ExecutorDeps {
  createClient(options: ClientOptions): ActionScimApi;
  now(): number;
  random(): number;
  log(line: string): void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export type SummaryPath =
  | "skipped"
  | "off"
  | "shadow"
  | "breaker"
  | "unchanged"
  | "created"
  | "returning"
  | "adopted"
  | "found"
  | "inactive"
  | "not-created"
  | "gone"
  | "conflict"
  | "error";

export interface LoginSummary {
  path: SummaryPath;
  target?: string;
  adds: number;
  removes: number;
  requests: number;
  /** sequential rounds of requests */
  rounds: number;
  ms: number;
  error?: ErrorCode;
  denied: boolean;
  /** the shadow plan's write step, for the log */
  shadowStep?: string;
}

const MODE_KEY = "catalog_provisioning";

const MAX_STEPS = 8;
const DEFAULT_CONNECTION: ConnectionConfig = { lifecycle: "sync", anchor: "user_id", mode: "on" };

/** One summary line, ≤ 256 characters, no email, no name, never a secret. */
export function summaryLine(s: LoginSummary): string {
  const parts = [`catalog-provisioning path=${s.path}`];
  if (s.target) parts.push(`target=${s.target.slice(0, 40)}`);
  parts.push(`adds=${s.adds} removes=${s.removes} requests=${s.requests} rounds=${s.rounds} ms=${s.ms}`);
  if (s.error) parts.push(`error=${s.error}`);
  if (s.denied) parts.push("denied=1");
  if (s.shadowStep) parts.push(`plan=${s.shadowStep}`);
  return parts.join(" ").slice(0, 256);
}

/** The whole login. Never throws. */
export async function runPostLogin(event: PostLoginEvent, api: PostLoginApi, config: ActionConfig, deps: ExecutorDeps): Promise<LoginSummary> {
  const started = deps.now();
  const summary: LoginSummary = { path: "skipped", adds: 0, removes: 0, requests: 0, rounds: 0, ms: 0, denied: false };
  let target: ActionTargetConfig | undefined;
  try {
    target = gate(event, config);
    if (!target) return summary; // other logins cost nothing, not even a log line
    summary.target = target.name;
    const mode = modeOf(event, config);
    if (mode === "off") {
      summary.path = "off";
      return finish(summary, deps, started);
    }
    await provision(event, api, config, target, mode === "shadow", deps, summary, started);
  } catch (e) {
    if (summary.path !== "conflict" && summary.path !== "breaker") summary.path = "error";
    summary.error = errorCode(e);
    if (target && config.login.fail === "closed") {
      try {
        api.access.deny(config.login.denyReason || "access to the catalog could not be provisioned");
        summary.denied = true;
      } catch {
        // nothing escapes
      }
    }
  }
  return finish(summary, deps, started);
}

function finish(summary: LoginSummary, deps: ExecutorDeps, started: number): LoginSummary {
  summary.ms = Math.max(0, Math.round(deps.now() - started));
  try {
    deps.log(summaryLine(summary));
  } catch {
    // nothing escapes
  }
  return summary;
}

/** Which logins: refresh tokens, applications, connections and organizations matching a target. */
function gate(event: PostLoginEvent, config: ActionConfig): ActionTargetConfig | undefined {
  if (event.transaction?.protocol === "oauth2-refresh-token" && !config.login.refreshTokens) return undefined;
  if (config.login.clients.length > 0 && !config.login.clients.includes(event.client?.client_id)) return undefined;
  const login = { connection: event.connection?.name, strategy: event.connection?.strategy };
  const org = event.organization;
  const byName = selectTarget(config as never, { ...login, ...(org ? { organization: org.name } : {}) }) as unknown as ActionTargetConfig | undefined;
  if (byName || !org) return byName;
  return selectTarget(config as never, { ...login, organization: org.id }) as unknown as ActionTargetConfig | undefined;
}

function modeOf(event: PostLoginEvent, config: ActionConfig): "off" | "shadow" | "on" {
  const m = event.connection?.metadata?.[MODE_KEY];
  if (m === "off" || m === "shadow" || m === "on") return m;
  return config.connections[event.connection?.name]?.mode ?? "on";
}

/** 429 or 5xx */
const overloaded = (e: ScimResponseError) => e.httpStatus === 429 || e.httpStatus >= 500;

function errorCode(e: unknown): ErrorCode {
  if (e instanceof ProvisioningError) return e.code;
  if (e instanceof ScimResponseError) return overloaded(e) ? "SCIM_NETWORK" : "SCIM_INVALID_RESPONSE";
  return "ACTION_INTERNAL";
}

/** a failure of the Catalog itself (counts towards the breaker), not a decision or a refusal */
function isCatalogFailure(e: unknown): boolean {
  if (e instanceof ScimResponseError) return overloaded(e);
  if (e instanceof ProvisioningError) return ["SCIM_TIMEOUT", "SCIM_NETWORK", "SCIM_BUDGET_EXHAUSTED", "SCIM_INVALID_RESPONSE"].includes(e.code);
  return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError" || e instanceof TypeError);
}

async function provision(
  event: PostLoginEvent,
  api: PostLoginApi,
  config: ActionConfig,
  target: ActionTargetConfig,
  shadow: boolean,
  deps: ExecutorDeps,
  summary: LoginSummary,
  started: number,
): Promise<void> {
  const login = config.login;
  const connection = config.connections[event.connection.name] ?? DEFAULT_CONNECTION;
  const user = event.user as unknown as Record<string, unknown>;

  // claims → mapping
  // groupsClaim, splitGroups, groupsCap
  const claim = extractGroups(user, event.connection.strategy, connection);
  const excludedGroups = new Set(target.exclude.groups.map((g) => g.toLowerCase()));
  const notExcluded = (groups: string[]) => groups.filter((g) => !excludedGroups.has(g.toLowerCase()));
  const managed = notExcluded(managedCatalogGroups(target.groups));
  const desired = notExcluded(resolveMapping(target.groups, claim.groups).catalogGroups);
  const anchor = extractAnchor(event.user, event.connection.name, connection.anchor);
  const attributes = mapAttributes(user, config.attributes);

  const claimOut = login.tokenClaim;
  if (claimOut.enabled && claimOut.name) {
    if (claimOut.idToken) api.idToken.setCustomClaim(claimOut.name, desired);
    if (claimOut.accessToken) api.accessToken.setCustomClaim(claimOut.name, desired);
  }
  const excludedUsers = new Set(target.exclude.users.map((u) => u.toLowerCase()));
  if ((attributes.userName && excludedUsers.has(normalizeUserName(attributes.userName))) || (anchor && excludedUsers.has(anchor.toLowerCase()))) {
    summary.path = "skipped";
    return;
  }
  if (!anchor) throw new ProvisioningError("ACTION_INTERNAL", NO_ANCHOR);

  const state = parseAppliedState(event.user.app_metadata?.[login.metadataKey]);
  const cached = readEntry<TargetGroupsEntry>(api, GROUPS_KEY, target.name) ?? { i: {} };
  const groupIds: Record<string, string> = { ...cached.i };
  const missingGroups: string[] = [];
  let caps = unpackCapabilities(cached.c);
  const bulkOf = (c: Capabilities | undefined) => c !== undefined && c.bulk.supported && c.bulk.maxOperations >= 2;
  let cacheDirty = false;

  const input: PlanInput = {
    target: target.name,
    facts: { anchor, attributes, desiredGroups: desired, groupsUnknown: claim.unknown },
    state,
    groupIds,
    missingGroups,
    managedGroups: managed,
    capabilities: { bulk: bulkOf(caps) },
    lifecycle: connection.lifecycle,
    domains: target.domains,
    now: deps.now(),
    ttlMs: login.ttlSeconds * 1000,
    ttlJitter: login.ttlJitter,
    jitterSample: deps.random() * 2 - 1,
    lookups: {},
  };

  let step = planLogin(input);
  if (step.kind === "skip") {
    summary.path = "unchanged";
    return;
  }

  // the circuit breaker: open → zero requests
  const breaker = readEntry<BreakerEntry>(api, BREAKER_KEY, target.name);
  if (breaker && breaker.f >= login.breakerFailures && deps.now() < breaker.o) {
    summary.path = "breaker";
    throw new ProvisioningError("SCIM_CIRCUIT_OPEN", "the catalog circuit is open", { publicReason: login.denyReason });
  }

  const names = target.secrets;
  const baseUrl = event.secrets[names.url];
  const apiKey = event.secrets[names.apiKey];
  if (!baseUrl || !apiKey) throw new ProvisioningError("CONFIG_MISSING_SECRET", `secret "${baseUrl ? names.apiKey : names.url}" is not set`);

  const deadline = started + login.budgetMs;
  const keyState: { preferred?: "next" | "current" } = {};
  if (cached.k) keyState.preferred = cached.k === "n" ? "next" : "current";
  const baseFetch = deps.fetch ?? globalThis.fetch;
  const countingFetch: typeof fetch = (url, init) => {
    summary.requests++;
    return baseFetch(url, init);
  };
  // undefined values count as absent for the transport
  const client = deps.createClient({
    baseUrl,
    apiKey,
    apiKeyNext: event.secrets[names.apiKeyNext] || undefined,
    fetch: countingFetch,
    timeoutMs: Math.max(1, Math.min(login.requestTimeoutMs, login.budgetMs)),
    retries: 2,
    backoff: { baseMs: 100, maxMs: 500 },
    deadline,
    keyState,
    clock: deps,
    sleep: deps.sleep,
    random: () => deps.random(),
    capabilities: caps,
  });

  /** one sequential round trip, bounded by what is left of the budget */
  const round = async <T>(fn: () => Promise<T>): Promise<T> => {
    const left = deadline - deps.now();
    const spent = () => new ProvisioningError("SCIM_BUDGET_EXHAUSTED", "the login budget is spent");
    if (left <= 0) throw spent();
    const before = summary.requests;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([fn(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(spent()), left)))]);
    } finally {
      clearTimeout(timer);
      if (summary.requests > before) summary.rounds++;
    }
  };

  const resolveGroup = async (name: string): Promise<void> => {
    const g = await client.findGroupByDisplayName(name);
    if (g) groupIds[name] = g.id;
    else missingGroups.push(name);
    cacheDirty = true;
  };

  const lookups: Lookups = input.lookups;
  let recorded: AppliedState | null | undefined;
  try {
    for (let i = 0; i < MAX_STEPS; i++) {
      if (step.kind === "read") {
        const reads = step.reads;
        const wantCaps = caps === undefined && reads.some((r) => r.kind === "userByExternalId");
        await round(() =>
          Promise.all([
            ...reads.map(async (r): Promise<void> => {
              switch (r.kind) {
                case "groupId":
                  return resolveGroup(r.name);
                case "userById":
                  lookups.byId = (await client.getUser(r.id)) ?? null;
                  return;
                case "userByExternalId":
                  lookups.byExternalId = (await client.findUserByExternalId(r.value)) ?? null;
                  return;
                case "userByUserName":
                  lookups.retryByUserName = (await client.findUserByUserName(r.value)) ?? null;
                  return;
                case "retry": {
                  const [byExt, byName] = await Promise.all([
                    client.findUserByExternalId(anchor),
                    attributes.userName ? client.findUserByUserName(attributes.userName) : undefined,
                  ]);
                  lookups.retryByExternalId = byExt ?? null;
                  lookups.retryByUserName = byName ?? null;
                  return;
                }
                case "userGroups":
                  lookups.userGroups = (await client.findGroupsOfUser(r.userId)) ?? null;
                  return;
              }
            }),
            wantCaps
              ? client.capabilities().then(
                  (c) => {
                    caps = c;
                    cacheDirty = true;
                  },
                  () => undefined,
                )
              : undefined,
          ]),
        );
        input.capabilities = { bulk: bulkOf(caps) };
      } else if (step.kind === "create") {
        if (shadow) return shadowStop(summary, step);
        const createStep = step;
        await round(async () => {
          if (createStep.bulkGroups.length > 0) {
            lookups.created = await createWithBulk(client, createStep.user, createStep.bulkGroups);
          } else {
            try {
              lookups.created = { user: await client.createUser(createStep.user), groupsAdded: [] };
            } catch (e) {
              if (!isUniquenessError(e)) throw e;
              lookups.created = "conflict";
            }
          }
        });
        if (lookups.created !== "conflict" && lookups.created) summary.adds += lookups.created.groupsAdded.length;
      } else if (step.kind === "apply") {
        if (shadow) return shadowStop(summary, step);
        summary.path = step.path;
        recorded = await applyStep(step, client, groupIds, resolveGroup, round, summary);
        break;
      } else if (step.kind === "done") {
        summary.path = step.path;
        recorded = step.record;
        break;
      } else if (step.kind === "conflict") {
        summary.path = "conflict";
        throw new ProvisioningError("ACTION_CONFLICT", `catalog user "${step.userId}" has another "externalId"`, {
          details: { reason: step.reason },
        });
      } else if (step.kind === "fail") {
        throw new ProvisioningError(step.code, step.message);
      } else {
        summary.path = "unchanged";
        break;
      }
      input.now = deps.now();
      step = planLogin(input);
    }
    if (breaker && breaker.f > 0) writeEntry<BreakerEntry>(api, BREAKER_KEY, target.name, undefined, BREAKER_TTL_MS);
  } catch (e) {
    if (isCatalogFailure(e)) {
      const f = (breaker?.f ?? 0) + 1;
      const open = f >= login.breakerFailures ? deps.now() + login.breakerCooldownSeconds * 1000 : 0;
      writeEntry<BreakerEntry>(api, BREAKER_KEY, target.name, { f, o: open }, BREAKER_TTL_MS);
    }
    throw e;
  } finally {
    const k = keyState.preferred === "next" ? "n" : keyState.preferred === "current" ? "c" : undefined;
    if (k !== cached.k) cacheDirty = true;
    if (cacheDirty && !shadow) {
      const entry: TargetGroupsEntry = { i: groupIds };
      if (caps) entry.c = packCapabilities(caps);
      if (k) entry.k = k;
      writeEntry(api, GROUPS_KEY, target.name, entry, GROUPS_TTL_MS);
    }
  }

  if (!shadow && recorded !== undefined) {
    if (recorded === null) {
      if (state) api.user.setAppMetadata(login.metadataKey, null);
    } else if (JSON.stringify(recorded) !== JSON.stringify(state)) {
      api.user.setAppMetadata(login.metadataKey, recorded);
    }
  }
  if (summary.error) throw new ProvisioningError(summary.error, "some catalog writes failed");
}

function shadowStop(summary: LoginSummary, step: JitStep): void {
  summary.path = "shadow";
  if (step.kind === "create") summary.shadowStep = `create+${step.bulkGroups.length}`;
  if (step.kind === "apply") summary.shadowStep = `${step.path}:u${step.userOps.length}+${step.adds.length}-${step.removes.length}`;
}

async function createWithBulk(client: ActionScimApi, user: ScimUserInput, groups: string[]): Promise<Lookups["created"]> {
  const ops: BulkOperation[] = [
    { method: "POST", bulkId: "u", path: "/Users", data: user },
    ...groups.map((id) => ({ method: "PATCH" as const, path: `/Groups/${id}`, data: patchRequest([addMembers(["bulkId:u"])]) })),
  ];
  const results = await client.bulk(ops, { failOnErrors: ops.length });
  const first = results[0];
  const status = Number(first?.status ?? 0);
  if (status === 409) return "conflict";
  const created = first?.response as ScimUser | undefined;
  const id = created?.id ?? first?.location?.split("/").pop();
  if (status < 200 || status >= 300 || !id) {
    throw new ProvisioningError("SCIM_BULK_FAILED", `bulk create failed with ${status}`);
  }
  const groupsAdded = groups.filter((_, i) => {
    const s = Number(results[i + 1]?.status ?? 0);
    return s >= 200 && s < 300;
  });
  return { user: { ...(created ?? {}), id, userName: user.userName, externalId: user.externalId ?? "", active: true } as ScimUser, groupsAdded };
}

async function applyStep(
  step: Extract<JitStep, { kind: "apply" }>,
  client: ActionScimApi,
  groupIds: Record<string, string>,
  resolveGroup: (name: string) => Promise<void>,
  round: <T>(fn: () => Promise<T>) => Promise<T>,
  summary: LoginSummary,
): Promise<AppliedState> {
  const record: AppliedState = { ...step.record, g: [...step.record.g] };
  const granted = new Set(record.g);
  let failed: unknown;
  const nameOf = (id: string) => Object.keys(groupIds).find((n) => groupIds[n] === id);

  const member = async (groupId: string, change: { add?: string[]; remove?: string[] }): Promise<boolean> => {
    try {
      const r = await client.patchGroupMembers(groupId, change);
      return r.failed.length === 0;
    } catch (e) {
      // a stale cached id: re-resolve by displayName and try once more
      if (e instanceof ProvisioningError && e.code === "SCIM_GROUP_NOT_FOUND") {
        const name = nameOf(groupId);
        if (name === undefined) return change.remove !== undefined; // a removed group: nothing left to remove
        delete groupIds[name];
        await resolveGroup(name);
        const fresh = groupIds[name];
        if (!fresh) return change.remove !== undefined;
        const r = await client.patchGroupMembers(fresh, change);
        if (r.failed.length === 0 && change.add) {
          granted.delete(groupId);
          granted.add(fresh);
        }
        return r.failed.length === 0;
      }
      failed ??= e;
      return false;
    }
  };

  await round(() =>
    Promise.all([
      step.userOps.length > 0
        ? client.patchUser(step.userId, step.userOps).catch((e: unknown) => {
            failed ??= e;
          })
        : undefined,
      ...step.adds.map(async (id) => {
        if (await member(id, { add: [step.userId] })) summary.adds++;
        else granted.delete(id); // nothing that failed is recorded as applied
      }),
      ...step.removes.map(async (id) => {
        if (await member(id, { remove: [step.userId] })) {
          summary.removes++;
          granted.delete(id);
        } else granted.add(id); // still ours to remove later
      }),
    ]),
  );
  record.g = [...granted].sort();
  if (failed !== undefined) {
    record.h = ""; // try again at the next login
    summary.error = errorCode(failed);
  }
  return record;
}
