/**
 * A `fetch` for the CLIs, backed by an undici `Agent` (keep-alive, bounded connections).
 * The Action must not import this module: its bundle uses the global `fetch`.
 *
 * It sends through the Agent's `request` API and answers with a small `Response` (status,
 * headers, `text`/`json`/`arrayBuffer`): the WHATWG `fetch` machinery (Request, Response and
 * web streams per call) cost more CPU than the request itself, and a sync sends up to a
 * hundred thousand of them. Redirects are never followed (the SCIM transport asks for
 * `redirect: "manual"` and treats a 3xx as an answer).
 */
import { Agent } from "undici";

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

type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

export function createCliFetch(options: CliFetchOptions = {}): CliFetch {
  const maxConnections = options.maxConnections ?? 16;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new TypeError(`"maxConnections" must be a positive integer`);
  const agent = new Agent({
    connections: maxConnections,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 30_000, 60_000),
  });
  const f = async (input: Parameters<typeof fetch>[0], init: Parameters<typeof fetch>[1] = {}): Promise<Response> => {
    const url = typeof input === "string" ? new URL(input) : input instanceof URL ? input : new URL(input.url);
    const headers: Record<string, string> = {};
    if (init.headers) new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== "string") throw new TypeError("cli fetch sends string bodies only");
    let res;
    try {
      res = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: (init.method ?? "GET").toUpperCase() as Method,
        headers,
        ...(body !== undefined && body !== null ? { body } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (cause) {
      throw new TypeError("fetch failed", { cause });
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (cause) {
      throw new TypeError("fetch failed", { cause });
    }
    return cliResponse(res.statusCode, res.headers, text, url.href);
  };
  return { fetch: f as typeof fetch, close: () => agent.close() };
}

function cliResponse(status: number, raw: Record<string, string | string[] | undefined>, text: string, url: string): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else headers.set(k, v);
  }
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
