/**
 * The one SCIM transport: the only module that calls `fetch`.
 *
 * Timeout per request, retries with exponential backoff and jitter on 429, 5xx and network
 * errors (honouring `Retry-After`, never waiting past `deadline`), the API key rotation rule and
 * RFC media types. No `node:*` or undici import here: the Action bundle uses the global `fetch`.
 * {@link ScimTransportBase} is all of that; {@link ScimTransport} adds the optional client-side
 * rate limit (`rateLimitPerSecond`), which only the CLIs use, so the Action bundles the base.
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
  /** requests per second, token bucket over `clock` and `sleep` ({@link ScimTransport} only) */
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
const JSON_TYPES = ["", SCIM_MEDIA_TYPE, "application/json", "text/json"];

/** `http://` is allowed only for loopback hosts. */
export function assertAllowedBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (cause) {
    throw new TypeError(`"baseUrl" must be an absolute URL`, { cause });
  }
  const host = url.hostname.toLowerCase();
  const loopback = /^(localhost|\[::1\]|::1|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.test(host) || host.endsWith(".localhost");
  if (url.protocol === "https:" || (url.protocol === "http:" && loopback)) return url;
  throw new ProvisioningError(
    "SCIM_HTTP_FORBIDDEN_SCHEME",
    `scim base URL must use "https:" ("http:" only for loopback), got "${url.protocol}" for host "${url.hostname}"`,
    { hint: "use an https:// URL for the Catalog SCIM API" },
  );
}

/** Parses `Retry-After` (delta seconds or HTTP date) into a wait in ms. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with equal jitter: half fixed, half random. */
export function backoffDelay(retry: number, backoff: BackoffOptions, random: () => number): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** retry);
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** a failure worth retrying: 429, 5xx, timeout, network */
interface Retryable {
  retry: Error;
  retryAfterMs?: number | undefined;
}

/** The transport without the client-side rate limit (what the Post-Login Action bundles). */
export class ScimTransportBase {
  readonly baseUrl: string;
  readonly keyState: KeyState;
  protected readonly options: TransportOptions;
  private readonly fetchImpl: typeof fetch;
  protected readonly clock: { now(): number };
  protected readonly sleep: (ms: number) => Promise<void>;

  constructor(options: TransportOptions) {
    if (typeof options.apiKey !== "string" || options.apiKey === "") throw new TypeError(`"apiKey" must be a non-empty string`);
    if (options.apiKeyNext !== undefined && (typeof options.apiKeyNext !== "string" || options.apiKeyNext === "")) {
      throw new TypeError(`"apiKeyNext" must be a non-empty string when set`);
    }
    this.baseUrl = assertAllowedBaseUrl(options.baseUrl).href.replace(/\/+$/, "");
    this.options = options;
    this.keyState = options.keyState ?? {};
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError(`"fetch" must be a function`);
    this.fetchImpl = f;
    this.clock = options.clock ?? Date;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** builds the absolute URL (exported for tests and logs; contains no secret) */
  url(path: string, query?: ScimRequest["query"]): string {
    if (!path.startsWith("/")) throw new TypeError(`"path" must start with "/"`);
    const params: string[] = [];
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) params.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    }
    return `${this.baseUrl}${path}${params.length ? `?${params.join("&")}` : ""}`;
  }

  /**
   * Sends one SCIM request with retries. Statuses listed in `allow` are returned instead of
   * thrown; any other non-2xx status throws {@link ScimResponseError}.
   */
  async request(req: ScimRequest, options: { allow?: number[] } = {}): Promise<ScimResponse> {
    const { deadline, retries = 3, backoff = { baseMs: 200, maxMs: 5_000 }, random = Math.random } = this.options;
    const what = `scim ${req.method} ${req.path}`;
    for (let retry = 0; ; retry++) {
      if (deadline !== undefined && this.clock.now() >= deadline) {
        throw new ProvisioningError("SCIM_BUDGET_EXHAUSTED", `${what} not sent: time budget spent`);
      }
      const outcome = await this.attempt(req, options.allow ?? [], retry + 1);
      if (!("retry" in outcome)) return outcome;
      if (retry >= retries) throw outcome.retry;
      const wait = outcome.retryAfterMs ?? backoffDelay(retry, backoff, random);
      if (deadline !== undefined && this.clock.now() + wait >= deadline) {
        throw new ProvisioningError("SCIM_BUDGET_EXHAUSTED", `${what} not retried: a ${wait} ms wait passes the time budget`, {
          cause: outcome.retry,
        });
      }
      await this.sleep(wait);
    }
  }

  /** waits before each request; {@link ScimTransport} applies its rate limit here */
  protected throttle(): Promise<void> | void {}

  private async attempt(req: ScimRequest, allow: number[], attempt: number): Promise<ScimResponse | Retryable> {
    const { apiKey, apiKeyNext } = this.options;
    // a rotated key is tried first unless the current one worked last; never fall back on 403
    const keys: [string, "next" | "current"][] = [[apiKey, "current"]];
    if (apiKeyNext !== undefined) keys[this.keyState.preferred === "current" ? "push" : "unshift"]([apiKeyNext, "next"]);
    for (let k = 0; ; k++) {
      const [key, which] = keys[k]!;
      const result = await this.send(req, key, attempt);
      if ("retry" in result) return result;
      const status = result.status;
      if (status === 401 && k < keys.length - 1) continue;
      if (status !== 401 && apiKeyNext !== undefined) this.keyState.preferred = which;
      if ((status >= 200 && status < 300) || allow.includes(status)) return result;
      const b = (result.body && typeof result.body === "object" ? result.body : {}) as Record<string, unknown>;
      const text = (v: unknown) => (typeof v === "string" ? v : undefined);
      const error = new ScimResponseError(
        status,
        {
          status: typeof b.status === "number" ? b.status : text(b.status),
          scimType: text(b.scimType),
          detail: text(b.detail),
        },
        { method: req.method, path: req.path },
      );
      if (status === 429 || status >= 500) return { retry: error, retryAfterMs: parseRetryAfter(result.headers.get("retry-after"), this.clock.now()) };
      throw error;
    }
  }

  private async send(req: ScimRequest, key: string, attempt: number): Promise<ScimResponse | Retryable> {
    await this.throttle();
    const {
      deadline,
      setTimer = (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimer = (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    } = this.options;
    const what = `scim ${req.method} ${req.path}`;
    const headers: Record<string, string> = { accept: `${SCIM_MEDIA_TYPE}, application/json`, ...req.headers, authorization: `Bearer ${key}` };
    let body: string | undefined;
    if (req.body !== undefined) {
      headers["content-type"] = SCIM_MEDIA_TYPE;
      body = JSON.stringify(req.body);
    }
    const controller = new AbortController();
    let timedOut = false;
    let timeout = this.options.timeoutMs ?? 60_000;
    if (deadline !== undefined) timeout = Math.max(1, Math.min(timeout, deadline - this.clock.now()));
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
        const keys = [this.options.apiKey, this.options.apiKeyNext ?? ""];
        const scrubbed = { cause: scrub(cause, keys) };
        return {
          retry: timedOut
            ? new ProvisioningError("SCIM_TIMEOUT", `${what} timed out after ${timeout} ms`, scrubbed)
            : new ProvisioningError("SCIM_NETWORK", `${what} failed: ${describe(cause, keys)}`, scrubbed),
        };
      }
      report(res.status);
      const parsed = parseBody(res, text, what);
      const etag = res.headers.get("etag");
      return { status: res.status, headers: res.headers, body: parsed, ...(etag !== null ? { etag } : {}) };
    } finally {
      clearTimer(timer);
    }
  }
}

/** {@link ScimTransportBase} with the optional client-side rate limit (`rateLimitPerSecond`). */
export class ScimTransport extends ScimTransportBase {
  private limiter: Promise<void> = Promise.resolve();
  private tokens: number;
  private lastRefill: number;

  constructor(options: TransportOptions) {
    super(options);
    const rate = options.rateLimitPerSecond;
    if (rate !== undefined && !(rate > 0)) throw new TypeError(`"rateLimitPerSecond" must be a positive number`);
    this.tokens = rate !== undefined ? Math.max(1, rate) : 0;
    this.lastRefill = this.clock.now();
  }

  /** token bucket: capacity = max(1, rate), refilled over the injected clock */
  protected override throttle(): Promise<void> {
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

function parseBody(res: Response, text: string, what: string): unknown {
  if (text.trim() === "") return undefined;
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  try {
    if (!JSON_TYPES.includes(type) && !type.endsWith("+json")) throw new Error(`"${type}" instead of JSON`);
    return JSON.parse(text);
  } catch (cause) {
    if (res.status >= 400) return undefined; // an HTML error page: the status says enough
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `${what} answered with ${cause instanceof SyntaxError ? "invalid JSON" : (cause as Error).message}`, { cause });
  }
}

/** a short description of a network failure, without the key */
function describe(cause: unknown, keys: string[]): string {
  const e = cause as { message?: unknown; cause?: { code?: unknown } } | undefined;
  const inner = typeof e?.cause?.code === "string" ? ` (${e.cause.code})` : "";
  return redact(`${typeof e?.message === "string" ? e.message : String(cause)}${inner}`, keys).toLowerCase();
}

function redact(s: string, keys: string[]): string {
  return keys.reduce((out, key) => (key ? out.split(key).join("[redacted]") : out), s);
}

/** keeps a cause only when it does not mention the key */
function scrub(cause: unknown, keys: string[]): unknown {
  try {
    const e = cause as { message?: unknown; stack?: unknown; cause?: unknown };
    const text = `${String(e?.message ?? "")}${String(e?.stack ?? "")}${e?.cause === undefined ? "" : JSON.stringify(e.cause)}`;
    if (keys.some((k) => k && text.includes(k))) return new Error(redact(String(e?.message ?? "network error"), keys));
  } catch {
    return undefined;
  }
  return cause;
}
