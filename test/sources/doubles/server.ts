/**
 * A tiny HTTP double on 127.0.0.1 for the REST directory sources: a route handler, a request
 * log and injectable faults (a status for the Nth matching request, `times` in a row).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface DoubleRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface DoubleResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Fault {
  method?: string;
  /** matched against the path (and `?query` when a RegExp) */
  path: string | RegExp;
  /** skip this many matching requests first; default 0 */
  after?: number;
  /** answer with the fault this many times; default 1 */
  times?: number;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Double {
  url: string;
  requests: DoubleRequest[];
  faults: Fault[];
  close(): Promise<void>;
}

export async function startDouble(handler: (req: DoubleRequest, base: string) => DoubleResponse | Promise<DoubleResponse>): Promise<Double> {
  const requests: DoubleRequest[] = [];
  const faults: (Fault & { seen?: number; used?: number })[] = [];
  let base = "";
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const u = new URL(req.url ?? "/", base);
        const r: DoubleRequest = { method: req.method ?? "GET", path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString() };
        requests.push(r);
        let out: DoubleResponse | undefined;
        for (const f of faults) {
          const target = typeof f.path === "string" ? u.pathname : `${u.pathname}${u.search}`;
          const hit = (f.method === undefined || f.method === r.method) && (typeof f.path === "string" ? f.path === target : f.path.test(target));
          if (!hit) continue;
          f.seen = (f.seen ?? 0) + 1;
          if (f.seen <= (f.after ?? 0) || (f.used ?? 0) >= (f.times ?? 1)) continue;
          f.used = (f.used ?? 0) + 1;
          out = { status: f.status, ...(f.headers ? { headers: f.headers } : {}), body: f.body ?? { error: { code: "fault", message: `injected ${f.status}` } } };
          break;
        }
        try {
          out ??= await handler(r, base);
        } catch (e) {
          out = { status: 500, body: { error: String(e) } };
        }
        const body = out.body === undefined ? "" : JSON.stringify(out.body);
        res.writeHead(out.status ?? 200, { "content-type": "application/json", ...out.headers });
        res.end(body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    faults,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function bearer(req: DoubleRequest): string | undefined {
  const h = req.headers.authorization;
  return typeof h === "string" && h.startsWith("Bearer ") ? h.slice(7) : undefined;
}

/** A slice of `items` for an offset cursor. */
export function slice<T>(items: T[], offset: number, size: number): { page: T[]; next?: number } {
  const page = items.slice(offset, offset + size);
  return offset + size < items.length ? { page, next: offset + size } : { page };
}
