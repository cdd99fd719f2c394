/**
 * Shared HTTP plumbing for the REST directory sources (Microsoft Graph, Okta, Google, Auth0):
 * one JSON GET/POST with timeout, 429/5xx retry honouring `Retry-After` (injected sleep), a
 * refresh-once on 401 for token-based APIs, secret redaction, and paging to the end where any
 * failed or odd page makes the read incomplete, never short.
 */
import { ConfigError, ProvisioningError } from "../../errors.js";
import { isLoopback } from "../../config/load.js";
import type { DirectoryUser } from "../directory.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Test and embedding seams shared by every REST source. */
export interface RestSourceOptions {
  env: Record<string, string | undefined>;
  /** folder relative paths are resolved against (the config file's folder) */
  baseDir?: string;
  fetch?: FetchLike;
  /** backoff waits; default a real timer */
  sleep?: (ms: number) => Promise<void>;
  /** milliseconds since the epoch, for `X-Rate-Limit-Reset` style headers; default Date.now */
  now?: () => number;
}

/** Why a request failed, without any secret. */
export class SourceHttpError extends Error {
  constructor(
    message: string,
    readonly kind: "auth" | "http" | "network" | "invalid",
    readonly status?: number,
  ) {
    super(message);
    this.name = "SourceHttpError";
  }
}

export interface HttpClientOptions {
  /** short source name for messages, e.g. "msgraph" */
  label: string;
  fetch: FetchLike;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  timeoutMs: number;
  /** retries on 429 and 5xx (and network errors) per request */
  maxRetries: number;
  /** the Authorization header value; `refresh` true after a 401 asks for a new token */
  authorize?: (refresh: boolean) => Promise<string>;
  /** values that must never appear in a message (secrets, tokens) */
  secrets: () => string[];
}

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** Longest single wait on a rate limit before the page counts as failed (ms). */
const MAX_WAIT_MS = 120_000;

export function defaultSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Replace every known secret in `text` with "[redacted]". */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

/** Wait before retrying, from `Retry-After` (seconds or HTTP date) or a reset epoch header; undefined when absent. */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const ra = headers.get("retry-after");
  if (ra !== null && ra.trim() !== "") {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  for (const name of ["x-rate-limit-reset", "x-ratelimit-reset"]) {
    const reset = headers.get(name);
    if (reset !== null && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset) * 1000 - nowMs);
  }
  return undefined;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const inner = cause instanceof Error && cause.message ? ` (${cause.message})` : "";
    return `${e.message}${inner}`;
  }
  return String(e);
}

/** Path and query of a URL for messages (never credentials: none travel in our URLs). */
export function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}

export class SourceHttpClient {
  /** true once any request got an HTTP answer: a later network failure is a short read, not an unreachable source */
  reachable = false;

  constructor(private readonly o: HttpClientOptions) {}

  private fail(message: string, kind: SourceHttpError["kind"], status?: number): SourceHttpError {
    return new SourceHttpError(redact(message, this.o.secrets()), kind, status);
  }

  /** One JSON request with retries. Throws {@link SourceHttpError}. */
  async request<T = unknown>(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; auth?: boolean } = {},
    signal?: AbortSignal,
  ): Promise<JsonResponse<T>> {
    const useAuth = init.auth !== false && this.o.authorize !== undefined;
    let refreshed = false;
    let backoff = 1000;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const headers: Record<string, string> = { accept: "application/json", ...init.headers };
      if (useAuth) headers.authorization = await this.o.authorize!(false);
      const timeout = AbortSignal.timeout(this.o.timeoutMs);
      let res: Response;
      try {
        res = await this.o.fetch(url, {
          method: init.method ?? "GET",
          headers,
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (e) {
        if (signal?.aborted) throw e;
        if (attempt < this.o.maxRetries) {
          await this.o.sleep(backoff);
          backoff = Math.min(backoff * 2, 30_000);
          continue;
        }
        const what = timeout.aborted ? `timed out after ${this.o.timeoutMs} ms` : `failed: ${describe(e)}`;
        throw this.fail(`${this.o.label} request "${shortUrl(url)}" ${what}`, "network");
      }
      this.reachable = true;
      if (res.status === 401 && useAuth && !refreshed) {
        await res.body?.cancel().catch(() => undefined);
        refreshed = true;
        await this.o.authorize!(true);
        attempt--;
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < this.o.maxRetries) {
        await res.body?.cancel().catch(() => undefined);
        const wait = retryAfterMs(res.headers, this.o.now()) ?? backoff;
        if (wait > MAX_WAIT_MS) throw this.fail(`${this.o.label} "${shortUrl(url)}" asked to wait ${Math.ceil(wait / 1000)} s`, "http", res.status);
        await this.o.sleep(wait);
        backoff = Math.min(backoff * 2, 30_000);
        continue;
      }
      const text = await res.text().catch(() => "");
      if (!res.ok) {
        const kind = res.status === 401 || res.status === 403 ? "auth" : "http";
        throw this.fail(`${this.o.label} "${shortUrl(url)}" answered ${res.status}${errorDetail(text)}`, kind, res.status);
      }
      let body: T;
      try {
        body = (text === "" ? {} : JSON.parse(text)) as T;
      } catch {
        throw this.fail(`${this.o.label} "${shortUrl(url)}" answered ${res.status} with a body that is not JSON`, "invalid", res.status);
      }
      return { status: res.status, body, headers: res.headers };
    }
  }
}

/** A short, safe detail out of an error body: the API's error code/message, never the whole body. */
function errorDetail(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "";
  }
  if (typeof parsed !== "object" || parsed === null) return "";
  const p = parsed as Record<string, unknown>;
  const e = p.error;
  const pick = (v: unknown) => (typeof v === "string" ? v.slice(0, 200) : undefined);
  const code =
    pick(p.errorCode) ?? pick(p.error_code) ?? (typeof e === "object" && e !== null ? pick((e as Record<string, unknown>).code) ?? pick((e as Record<string, unknown>).status) : pick(e));
  const msg =
    pick(p.errorSummary) ??
    pick(p.error_description) ??
    pick(p.message) ??
    (typeof e === "object" && e !== null ? pick((e as Record<string, unknown>).message) : undefined);
  const parts = [code, msg].filter((x): x is string => x !== undefined);
  return parts.length > 0 ? ` (${parts.join(": ").split("\n")[0]})` : "";
}

/** The outcome of listing one collection to its end. */
export interface ListOutcome<T> {
  items: T[];
  /** set when the list is known to be short */
  incompleteReason?: string;
}

/** One fetched page: its items and how to get the next one (undefined = the end). */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** Upper bound on pages per collection, against a server that never ends its paging. */
export const MAX_PAGES = 100_000;

/**
 * Page through a collection to its end. `fetchPage(cursor)` gets one page (cursor undefined
 * for the first). Authentication failures and an unreachable source throw `SYNC_SOURCE_FAILED`;
 * any other failure, a repeated cursor or a malformed page ends the list as incomplete.
 */
export async function listAll<T>(
  client: SourceHttpClient,
  what: string,
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  signal?: AbortSignal,
): Promise<ListOutcome<T>> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 1; page <= MAX_PAGES; page++) {
    signal?.throwIfAborted();
    let result: Page<T>;
    try {
      result = await fetchPage(cursor);
    } catch (e) {
      if (signal?.aborted) throw e;
      rethrowFatal(client, e);
      return { items, incompleteReason: `${what}: page ${page} failed after ${items.length} items: ${(e as Error).message}` };
    }
    items.push(...result.items);
    if (result.next === undefined) return { items };
    if (seen.has(result.next)) return { items, incompleteReason: `${what}: page ${page} pointed back to a page already read` };
    seen.add(result.next);
    cursor = result.next;
  }
  return { items, incompleteReason: `${what}: more than ${MAX_PAGES} pages` };
}

/** Rethrow what must stop the whole read: bad credentials, an unreachable source, an abort. */
export function rethrowFatal(client: SourceHttpClient, e: unknown): void {
  if (e instanceof SourceHttpError) {
    if (e.kind === "auth") {
      throw new ProvisioningError("SYNC_SOURCE_FAILED", e.message, { publicReason: "the directory could not be read", hint: "check the source credentials and their permissions" });
    }
    if (e.kind === "network" && !client.reachable) {
      throw new ProvisioningError("SYNC_SOURCE_FAILED", e.message, { publicReason: "the directory could not be read" });
    }
    return;
  }
  if (e instanceof ProvisioningError) throw e;
  if (!(e instanceof Error)) throw e;
}

/** A failure while obtaining a token is always fatal. */
export function tokenFailure(label: string, e: unknown, secrets: string[]): ProvisioningError {
  const msg = e instanceof Error ? e.message : String(e);
  return new ProvisioningError("SYNC_SOURCE_FAILED", redact(`${label} token request failed: ${msg}`, secrets), {
    publicReason: "the directory could not be read",
    hint: "check the source credentials",
  });
}

/** Read a required secret from the environment. */
export function requireEnv(env: Record<string, string | undefined>, name: string, what: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === "") {
    throw new ConfigError(`environment variable "${name}" holding the ${what} is not set`, { code: "CONFIG_MISSING_SECRET" });
  }
  return v.trim();
}

/** An https URL, or http only for loopback (a local test double). Trailing slashes removed. */
export function checkBaseUrl(url: string, key: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`"${key}" is not a valid URL`, { hint: "write it like https://host.example.com" });
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopback(u.hostname))) {
    throw new ConfigError(`"${key}" must be an https:// URL`, { hint: "plain http:// is allowed only for loopback" });
  }
  return url.replace(/\/+$/, "");
}

/** Join reasons into one incomplete read result. */
export function finish<D>(directory: D, reasons: string[], fingerprint: string): { directory: D; complete: boolean; incompleteReason?: string; fingerprint: string } {
  const out: { directory: D; complete: boolean; incompleteReason?: string; fingerprint: string } = { directory, complete: reasons.length === 0, fingerprint };
  if (reasons.length > 0) out.incompleteReason = reasons.join("; ");
  return out;
}

/** Run `fn` over `items` with at most `limit` in flight, results in input order. */
export async function mapLimit<I, O>(items: I[], limit: number, fn: (item: I) => Promise<O>): Promise<O[]> {
  const out = new Array<O>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** The request limits every REST source's config carries. */
export interface RestLimits {
  timeoutMs: number;
  maxRetries: number;
}

/** {@link HttpClientOptions} from a source's options and limits (default fetch, sleep and clock). */
export function httpClientOptions(label: string, options: RestSourceOptions, limits: RestLimits, secrets: () => string[]): HttpClientOptions {
  return {
    label,
    fetch: options.fetch ?? ((u, i) => fetch(u, i)),
    sleep: options.sleep ?? defaultSleep,
    now: options.now ?? Date.now,
    timeoutMs: limits.timeoutMs,
    maxRetries: limits.maxRetries,
    secrets,
  };
}

export interface BearerTokenClientOptions {
  label: string;
  options: RestSourceOptions;
  limits: RestLimits;
  /** the long-lived credential the token is obtained with (never in a message) */
  credential: string;
  /** who asks for the token, for the failure message, e.g. `msgraph tenant "t1"` */
  who: string;
  /** one token request through `tokenClient` (no Authorization header) */
  requestToken: (tokenClient: SourceHttpClient) => Promise<JsonResponse<{ access_token?: unknown }>>;
}

/**
 * A client whose requests carry `Bearer <access_token>`: the token is obtained once up front
 * (a failure is fatal, see {@link tokenFailure}) and again after a 401.
 */
export async function bearerTokenClient(o: BearerTokenClientOptions): Promise<SourceHttpClient> {
  let token: string | undefined;
  const secrets = () => [o.credential, ...(token ? [token] : [])];
  const common = httpClientOptions(o.label, o.options, o.limits, secrets);
  const tokenClient = new SourceHttpClient(common);
  async function authorize(refresh: boolean): Promise<string> {
    if (token === undefined || refresh) {
      try {
        const res = await o.requestToken(tokenClient);
        if (typeof res.body.access_token !== "string" || res.body.access_token === "") throw new Error("the answer has no access_token");
        token = res.body.access_token;
      } catch (e) {
        throw tokenFailure(o.who, e, secrets());
      }
    }
    return `Bearer ${token}`;
  }
  const client = new SourceHttpClient({ ...common, authorize });
  await authorize(false);
  client.reachable = true;
  return client;
}

/**
 * Map listed users to directory users, skipping those the mapping skips; a user id seen twice
 * is kept once and adds `duplicate(id)` to `reasons`. `onUser` sees each kept user.
 */
export function collectUsers<U>(
  items: U[],
  map: (u: U) => DirectoryUser | { skip: string },
  reasons: string[],
  duplicate: (id: string) => string,
  onUser?: (u: U, user: DirectoryUser) => void,
): DirectoryUser[] {
  const out: DirectoryUser[] = [];
  const seen = new Set<string>();
  for (const u of items) {
    const m = map(u);
    if ("skip" in m) continue;
    if (seen.has(m.id)) {
      reasons.push(duplicate(m.id));
      continue;
    }
    seen.add(m.id);
    onUser?.(u, m);
    out.push(m);
  }
  return out;
}

/** The usual duplicate message: paging moved under the read. */
export const movedUnderRead = (label: string) => (id: string) => `${label} users: user "${id}" came back twice (paging moved under the read)`;

/** The groups that carry a non-empty string id. */
export function withIds<G extends { id?: unknown }>(groups: G[]): Array<G & { id: string }> {
  return groups.filter((g): g is G & { id: string } => typeof g.id === "string" && g.id !== "");
}

/**
 * For each group with an id, list its members (at most `concurrency` lists at once) and map
 * group and members; every incomplete list adds its reason to `reasons`, in group order.
 */
export async function readGroupMembers<G extends { id?: unknown }, M, O>(
  groups: G[],
  concurrency: number,
  reasons: string[],
  list: (g: G & { id: string }) => Promise<ListOutcome<M>>,
  map: (g: G & { id: string }, members: M[]) => O,
): Promise<O[]> {
  const valid = withIds(groups);
  const memberLists = await mapLimit(valid, concurrency, list);
  return valid.map((g, i) => {
    const r = memberLists[i]!;
    if (r.incompleteReason) reasons.push(r.incompleteReason);
    return map(g, r.items);
  });
}
