/**
 * The one SCIM transport: the only module that calls `fetch`.
 *
 * Timeout per request, retries with exponential backoff and jitter on 429, 5xx and network
 * errors (honouring `Retry-After`, never waiting past `deadline`), an optional client-side rate
 * limit, the API key rotation rule and RFC media types. No `node:*` or undici import here: the
 * Action bundle uses the global `fetch`.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.1
 */
import { ProvisioningError, ScimResponseError } from "../errors.js";

export interface BackoffOptions {
  /** first retry waits about this long */
  baseMs: number;
  /** no computed backoff exceeds this (a server's `Retry-After` may) */
  maxMs: number;
}

/** Which key worked last; share one object between transports so the choice is remembered. */
export interface KeyState {
  preferred?: "next" | "current";
}

export interface ResponseInfo {
  method: string;
  /** path without query string */
  path: string;
  /** HTTP status, or 0 when no response arrived */
  status: number;
  ms: number;
  /** 1-based */
  attempt: number;
}

export interface TransportOptions {
  /** e.g. `https://catalog.example.com/scim/v2` */
  baseUrl: string;
  apiKey: string;
  /** a rotated key tried first; on 401 the client falls back to `apiKey` (never on 403) */
  apiKeyNext?: string;
  fetch?: typeof fetch;
  /** per request (default 60 000) */
  timeoutMs?: number;
  /** retries after the first attempt (default 3) */
  retries?: number;
  backoff?: BackoffOptions;
  /** requests per second, token bucket over `clock` and `sleep` */
  rateLimitPerSecond?: number;
  clock?: { now(): number };
  sleep?: (ms: number) => Promise<void>;
  /** in [0, 1) */
  random?: () => number;
  /** absolute time in ms (on `clock`): retry only when the wait fits, never send after it */
  deadline?: number;
  keyState?: KeyState;
  onResponse?: (info: ResponseInfo) => void;
  /** timer used for the per-request timeout (tests inject one) */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface ScimRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** path below the base URL, starting with `/` */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ScimResponse {
  status: number;
  headers: Headers;
  /** parsed JSON, or undefined for an empty body */
  body: unknown;
  etag?: string;
}

export const SCIM_MEDIA_TYPE = "application/scim+json";
const ACCEPT = "application/scim+json, application/json";
const JSON_TYPES = ["application/scim+json", "application/json", "text/json"];

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]", "::1"]);

/** `http://` is allowed only for loopback hosts. */
export function assertAllowedBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (cause) {
    throw new TypeError(`"baseUrl" must be an absolute URL`, { cause });
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return url;
  throw new ProvisioningError(
    "SCIM_HTTP_FORBIDDEN_SCHEME",
    `scim base URL must use "https:" (plain "http:" only for loopback), got "${url.protocol}" for host "${url.hostname}"`,
    { hint: "use an https:// URL for the Catalog SCIM API" },
  );
}

function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_HOSTS.has(h) || h.endsWith(".localhost")) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Parses `Retry-After` (delta seconds or HTTP date) into a wait in ms. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with equal jitter: half fixed, half random. */
export function backoffDelay(retry: number, backoff: BackoffOptions, random: () => number): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** retry);
  return Math.round(exp / 2 + random() * (exp / 2));
}

class RetryableFailure {
  constructor(
    readonly error: Error,
    readonly retryAfterMs: number | undefined,
  ) {}
}

export class ScimTransport {
  readonly baseUrl: string;
  readonly keyState: KeyState;
  private readonly options: TransportOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: { now(): number };
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoff: BackoffOptions;
  private limiter: Promise<void> = Promise.resolve();
  private tokens: number;
  private lastRefill: number;

  constructor(options: TransportOptions) {
    if (typeof options.apiKey !== "string" || options.apiKey === "") throw new TypeError(`"apiKey" must be a non-empty string`);
    if (options.apiKeyNext !== undefined && (typeof options.apiKeyNext !== "string" || options.apiKeyNext === "")) {
      throw new TypeError(`"apiKeyNext" must be a non-empty string when set`);
    }
    const url = assertAllowedBaseUrl(options.baseUrl);
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.options = options;
    this.keyState = options.keyState ?? {};
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError(`"fetch" must be a function`);
    this.fetchImpl = f;
    this.clock = options.clock ?? Date;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.retries = options.retries ?? 3;
    this.backoff = options.backoff ?? { baseMs: 200, maxMs: 5_000 };
    const rate = options.rateLimitPerSecond;
    if (rate !== undefined && !(rate > 0)) throw new TypeError(`"rateLimitPerSecond" must be a positive number`);
    this.tokens = rate !== undefined ? Math.max(1, rate) : 0;
    this.lastRefill = this.clock.now();
  }

  /** builds the absolute URL (exported for tests and logs; contains no secret) */
  url(path: string, query?: ScimRequest["query"]): string {
    if (!path.startsWith("/")) throw new TypeError(`"path" must start with "/"`);
    const params: string[] = [];
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      params.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    }
    return `${this.baseUrl}${path}${params.length ? `?${params.join("&")}` : ""}`;
  }

  /**
   * Sends one SCIM request with retries. Statuses listed in `allow` are returned instead of
   * thrown; any other non-2xx status throws {@link ScimResponseError}.
   */
  async request(req: ScimRequest, options: { allow?: number[] } = {}): Promise<ScimResponse> {
    const allow = options.allow ?? [];
    let retry = 0;
    for (;;) {
      const deadline = this.options.deadline;
      if (deadline !== undefined && this.clock.now() >= deadline) {
        throw new ProvisioningError("SCIM_BUDGET_EXHAUSTED", `scim ${req.method} ${req.path} not sent: the time budget is spent`);
      }
      const outcome = await this.attempt(req, allow, retry + 1);
      if (!(outcome instanceof RetryableFailure)) return outcome;
      if (retry >= this.retries) throw outcome.error;
      const wait = outcome.retryAfterMs ?? backoffDelay(retry, this.backoff, this.random);
      if (deadline !== undefined && this.clock.now() + wait >= deadline) {
        throw new ProvisioningError(
          "SCIM_BUDGET_EXHAUSTED",
          `scim ${req.method} ${req.path} not retried: waiting ${wait} ms would pass the time budget`,
          { cause: outcome.error },
        );
      }
      await this.sleep(wait);
      retry++;
    }
  }

  private secrets(): string[] {
    return this.options.apiKeyNext === undefined ? [this.options.apiKey] : [this.options.apiKey, this.options.apiKeyNext];
  }

  private keysInOrder(): { key: string; which: "next" | "current" }[] {
    const current = { key: this.options.apiKey, which: "current" as const };
    if (this.options.apiKeyNext === undefined) return [current];
    const next = { key: this.options.apiKeyNext, which: "next" as const };
    return this.keyState.preferred === "current" ? [current, next] : [next, current];
  }

  private async attempt(req: ScimRequest, allow: number[], attempt: number): Promise<ScimResponse | RetryableFailure> {
    const keys = this.keysInOrder();
    for (let k = 0; k < keys.length; k++) {
      const { key, which } = keys[k]!;
      const result = await this.send(req, key, attempt);
      if (result instanceof RetryableFailure) return result;
      if (result.status === 401 && k < keys.length - 1) continue; // fall back to the other key, never on 403
      if (result.status !== 401 && this.options.apiKeyNext !== undefined) this.keyState.preferred = which;
      if ((result.status >= 200 && result.status < 300) || allow.includes(result.status)) return result;
      const body = result.body && typeof result.body === "object" ? (result.body as Record<string, unknown>) : undefined;
      const error = new ScimResponseError(
        result.status,
        body
          ? {
              ...(typeof body.status === "string" || typeof body.status === "number" ? { status: body.status } : {}),
              ...(typeof body.scimType === "string" ? { scimType: body.scimType } : {}),
              ...(typeof body.detail === "string" ? { detail: body.detail } : {}),
            }
          : undefined,
        { method: req.method, path: req.path },
      );
      if (result.status === 429 || result.status >= 500) {
        return new RetryableFailure(error, parseRetryAfter(result.headers.get("retry-after"), this.clock.now()));
      }
      throw error;
    }
    /* c8 ignore next */
    throw new Error("unreachable");
  }

  private async send(req: ScimRequest, key: string, attempt: number): Promise<ScimResponse | RetryableFailure> {
    await this.rateLimit();
    const headers: Record<string, string> = {
      accept: ACCEPT,
      ...(req.headers ?? {}),
      authorization: `Bearer ${key}`,
    };
    let body: string | undefined;
    if (req.body !== undefined) {
      headers["content-type"] = SCIM_MEDIA_TYPE;
      body = JSON.stringify(req.body);
    }
    const controller = new AbortController();
    let timedOut = false;
    let timeout = this.timeoutMs;
    if (this.options.deadline !== undefined) timeout = Math.max(1, Math.min(timeout, this.options.deadline - this.clock.now()));
    const setTimer = this.options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
    const clearTimer = this.options.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
    const timer = setTimer(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const started = this.clock.now();
    const report = (status: number): void => {
      this.options.onResponse?.({ method: req.method, path: req.path, status, ms: this.clock.now() - started, attempt });
    };
    try {
      let res: Response;
      let text: string;
      try {
        res = await this.fetchImpl(this.url(req.path, req.query), {
          method: req.method,
          headers,
          ...(body !== undefined ? { body } : {}),
          signal: controller.signal,
          redirect: "manual",
        });
        text = await res.text();
      } catch (cause) {
        report(0);
        if (timedOut) {
          return new RetryableFailure(
            new ProvisioningError("SCIM_TIMEOUT", `scim ${req.method} ${req.path} timed out after ${timeout} ms`, { cause: scrub(cause, this.secrets()) }),
            undefined,
          );
        }
        return new RetryableFailure(
          new ProvisioningError("SCIM_NETWORK", `scim ${req.method} ${req.path} failed: ${describe(cause, this.secrets())}`, { cause: scrub(cause, this.secrets()) }),
          undefined,
        );
      }
      report(res.status);
      const parsed = parseBody(res, text, req);
      const etag = res.headers.get("etag");
      return { status: res.status, headers: res.headers, body: parsed, ...(etag !== null ? { etag } : {}) };
    } finally {
      clearTimer(timer);
    }
  }

  /** token bucket: capacity = max(1, rate), refilled over the injected clock */
  private rateLimit(): Promise<void> {
    const rate = this.options.rateLimitPerSecond;
    if (rate === undefined) return Promise.resolve();
    const capacity = Math.max(1, rate);
    const take = async (): Promise<void> => {
      for (;;) {
        const now = this.clock.now();
        this.tokens = Math.min(capacity, this.tokens + ((now - this.lastRefill) * rate) / 1000);
        this.lastRefill = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await this.sleep(Math.ceil(((1 - this.tokens) * 1000) / rate));
      }
    };
    const next = this.limiter.then(take);
    this.limiter = next.catch(() => undefined);
    return next;
  }
}

function parseBody(res: Response, text: string, req: ScimRequest): unknown {
  if (text.trim() === "") return undefined;
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const isJson = type === "" || JSON_TYPES.includes(type) || type.endsWith("+json");
  if (!isJson) {
    if (res.status >= 400) return undefined; // an HTML error page: the status says enough
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${req.method} ${req.path} answered with "${type}" instead of JSON`);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    if (res.status >= 400) return undefined;
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${req.method} ${req.path} answered with invalid JSON`, { cause });
  }
}

/** a short description of a network failure, without the key */
function describe(cause: unknown, keys: string[]): string {
  const e = cause as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const inner = e?.cause && typeof e.cause.code === "string" ? ` (${e.cause.code})` : "";
  const msg = typeof e?.message === "string" ? e.message : String(cause);
  return redact(`${msg}${inner}`, keys).toLowerCase();
}

function redact(s: string, keys: string[]): string {
  return keys.reduce((out, key) => (key ? out.split(key).join("[redacted]") : out), s);
}

/** keeps a cause only when it does not mention the key */
function scrub(cause: unknown, keys: string[]): unknown {
  try {
    const e = cause as { message?: unknown; stack?: unknown; cause?: unknown };
    const text = `${String(e?.message ?? "")}${String(e?.stack ?? "")}${safeJson(e?.cause)}`;
    if (keys.some((k) => k && text.includes(k))) return new Error(redact(String(e?.message ?? "network error"), keys));
  } catch {
    return undefined;
  }
  return cause;
}

function safeJson(v: unknown): string {
  try {
    return v === undefined ? "" : JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
}
