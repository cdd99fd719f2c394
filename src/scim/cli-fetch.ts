/**
 * A `fetch` for the CLIs, backed by `node:http` / `node:https` keep-alive `Agent`s (bounded
 * sockets per origin). The Action must not import this module: its bundle uses the global `fetch`.
 *
 * It answers with a small `Response` (status, headers, `text`/`json`/`arrayBuffer`): the WHATWG
 * `fetch` machinery (Request, Response and web streams per call) costs more CPU than the request
 * itself, and a sync sends up to a hundred thousand of them; the built-in modules also cost
 * nothing to import, where an HTTP client library costs a noticeable share of a short run.
 * Redirects are never followed (the SCIM transport asks for `redirect: "manual"` and treats a
 * 3xx as an answer), no proxy is read from the environment, and a request ends when its
 * `signal` aborts (the transport's timeout).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface CliFetchOptions {
  /** connections per origin (default 16) */
  maxConnections?: number;
  /** idle keep-alive in ms (default 30 000) */
  keepAliveTimeoutMs?: number;
}

export interface CliFetch {
  fetch: typeof fetch;
  /** closes idle connections; pending requests finish first */
  close(): Promise<void>;
}

export function createCliFetch(options: CliFetchOptions = {}): CliFetch {
  const maxConnections = options.maxConnections ?? 16;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new TypeError(`"maxConnections" must be a positive integer`);
  const agentOptions = { keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections, timeout: options.keepAliveTimeoutMs ?? 30_000, scheduling: "lifo" as const };
  let http: HttpAgent | undefined;
  let https: HttpsAgent | undefined;
  let inFlight = 0;
  const idle: (() => void)[] = [];
  let closed = false;

  const f = async (input: Parameters<typeof fetch>[0], init: Parameters<typeof fetch>[1] = {}): Promise<Response> => {
    const url = typeof input === "string" ? new URL(input) : input instanceof URL ? input : new URL(input.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`cli fetch supports http and https only`);
    const headers: OutgoingHttpHeaders = {};
    if (init.headers) copyRequestHeaders(init.headers, headers);
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== "string") throw new TypeError("cli fetch sends string bodies only");
    if (body !== undefined && body !== null) headers["content-length"] = Buffer.byteLength(body);
    if (closed) throw new TypeError("fetch failed", { cause: new Error("the client is closed") });
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw new TypeError("fetch failed", { cause: signal.reason });
    const secure = url.protocol === "https:";
    const agent = secure ? (https ??= new HttpsAgent(agentOptions)) : (http ??= new HttpAgent(agentOptions));
    inFlight++;
    try {
      const { status, raw, text } = await new Promise<{ status: number; raw: IncomingMessage["headers"]; text: string }>((resolve, reject) => {
        let settled = false;
        const fail = (cause: unknown): void => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          reject(new TypeError("fetch failed", { cause }));
        };
        const req = (secure ? httpsRequest : httpRequest)(url, { method: (init.method ?? "GET").toUpperCase(), headers, agent });
        const onAbort = (): void => {
          const reason: unknown = signal?.reason ?? new Error("aborted");
          fail(reason);
          req.destroy(reason instanceof Error ? reason : new Error("aborted"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        req.on("error", fail);
        req.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", fail);
          res.on("aborted", () => fail(new Error("the response was cut short")));
          res.on("end", () => {
            if (settled) return;
            if (!res.complete) return fail(new Error("the response was cut short"));
            settled = true;
            signal?.removeEventListener("abort", onAbort);
            resolve({ status: res.statusCode ?? 0, raw: res.headers, text: Buffer.concat(chunks).toString("utf8") });
          });
        });
        req.end(body ?? undefined);
      });
      return cliResponse(status, raw, text, url.href);
    } finally {
      inFlight--;
      if (inFlight === 0) for (const done of idle.splice(0)) done();
    }
  };

  const close = async (): Promise<void> => {
    closed = true;
    if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
    http?.destroy();
    https?.destroy();
  };
  return { fetch: f as typeof fetch, close };
}

/**
 * Request headers (a plain object, pairs, or anything with `forEach` such as `Headers`) into
 * Node's header object, names lower-cased. The global `Headers` is not touched: in Node 20 its
 * first use loads the bundled fetch implementation, tens of milliseconds of a short run.
 */
function copyRequestHeaders(from: NonNullable<RequestInit["headers"]>, to: OutgoingHttpHeaders): void {
  const put = (v: string, k: string): void => {
    const name = k.toLowerCase();
    const prior = to[name];
    to[name] = prior === undefined ? String(v) : `${String(prior)}, ${v}`;
  };
  if (Array.isArray(from)) for (const [k, v] of from as [string, string][]) put(v, k);
  else if (typeof (from as { forEach?: unknown }).forEach === "function") (from as { forEach(cb: (v: string, k: string) => void): void }).forEach(put);
  else for (const [k, v] of Object.entries(from as Record<string, string>)) if (v !== undefined) put(v, k);
}

/**
 * The response's headers: the read-only part of the WHATWG `Headers` interface (names are
 * case-insensitive, repeated headers are joined with ", ", `set-cookie` is kept apart).
 */
export class ResponseHeaders {
  readonly #map = new Map<string, string>();
  readonly #cookies: string[] = [];
  constructor(raw: IncomingMessage["headers"]) {
    for (const [k, v] of Object.entries(raw)) {
      if (v === undefined) continue;
      if (k === "set-cookie") this.#cookies.push(...(Array.isArray(v) ? v : [v]));
      this.#map.set(k, Array.isArray(v) ? v.join(", ") : v);
    }
  }
  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }
  getSetCookie(): string[] {
    return [...this.#cookies];
  }
  forEach(cb: (value: string, name: string, parent: ResponseHeaders) => void): void {
    for (const [k, v] of this.entries()) cb(v, k, this);
  }
  *entries(): IterableIterator<[string, string]> {
    yield* [...this.#map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

function cliResponse(status: number, raw: IncomingMessage["headers"], text: string, url: string): Response {
  const headers = new ResponseHeaders(raw);
  let used = false;
  const consume = (): string => {
    if (used) throw new TypeError("body used already");
    used = true;
    return text;
  };
  const r = {
    status,
    statusText: "",
    ok: status >= 200 && status < 300,
    redirected: false,
    type: "basic",
    url,
    headers,
    get bodyUsed() {
      return used;
    },
    async text() {
      return consume();
    },
    async json() {
      return JSON.parse(consume()) as unknown;
    },
    async arrayBuffer() {
      const b = Buffer.from(consume(), "utf8");
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    },
  };
  return r as unknown as Response;
}
