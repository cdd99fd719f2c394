/**
 * A `fetch` wrapper that records every request an Action makes: method, path, status, time.
 * The path is relative to `baseUrl` when the URL starts with it (e.g. `/Users?filter=…`).
 */

export interface RecordedRequest {
  method: string;
  /** path and query, relative to the base URL when it matches */
  path: string;
  /** HTTP status; 0 when no response arrived (network error, abort, timeout) */
  status: number;
  ms: number;
  /** the error name when no response arrived */
  error?: string;
}

export interface RecordingFetch {
  fetch: typeof fetch;
  requests: RecordedRequest[];
  clear(): void;
}

export function recordingFetch(base: typeof fetch = globalThis.fetch, options: { baseUrl?: string; now?: () => number } = {}): RecordingFetch {
  const requests: RecordedRequest[] = [];
  const now = options.now ?? (() => performance.now());
  const prefix = options.baseUrl?.replace(/\/+$/, "");
  const relative = (url: string): string => {
    if (prefix && url.startsWith(prefix)) return url.slice(prefix.length) || "/";
    try {
      const u = new URL(url);
      return `${u.pathname}${u.search}`;
    } catch {
      return url;
    }
  };
  const wrapped: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : (input as Request).url;
    const method = (init?.method ?? (typeof input === "object" && "method" in input ? (input as Request).method : "GET")).toUpperCase();
    const entry: RecordedRequest = { method, path: relative(url), status: 0, ms: 0 };
    requests.push(entry);
    const started = now();
    try {
      const res = await base(input, init);
      entry.status = res.status;
      return res;
    } catch (e) {
      entry.error = e instanceof Error ? e.name : "Error";
      throw e;
    } finally {
      entry.ms = Math.round(now() - started);
    }
  };
  return {
    fetch: wrapped,
    requests,
    clear() {
      requests.length = 0;
    },
  };
}
