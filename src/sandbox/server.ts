/**
 * The sandbox's HTTP layer on `node:http`: Bearer key auth, fault injection, request log,
 * SCIM routing under `/scim/v2`, and the admin API under `/_sandbox/` (same key, never
 * faulted, never logged or audited).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ScimResponseError } from "../errors.js";
import { FaultInjector, validateFaults } from "./faults.js";
import { DEFAULT_MAX_PAGE_SIZE, PROFILES } from "./profiles.js";
import { errorBody, ScimService } from "./resources.js";
import { SandboxStore } from "./store.js";
import type { RequestEntry, SandboxProfile } from "./types.js";

export const SCIM_BASE_PATH = "/scim/v2";
const MAX_BODY = 16 * 1024 * 1024;

export interface SandboxServerOptions {
  apiKey: string;
  groups?: string[];
  /** ":memory:" (default) or a file */
  db?: string;
  profile?: SandboxProfile;
  maxPageSize?: number;
  host?: string;
  port?: number;
  bulkMaxOperations?: number;
  bulkMaxPayloadSize?: number;
}

export interface SandboxServer {
  baseUrl: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`http ${status}`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, contentType = "application/scim+json"): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { "Content-Type": `${contentType}; charset=utf-8`, "Content-Length": Buffer.byteLength(text) } : { "Content-Length": 0 }),
    ...headers,
  });
  res.end(text);
}

export async function startSandboxServer(options: SandboxServerOptions): Promise<SandboxServer> {
  const rules = PROFILES[options.profile ?? "full"];
  const store = new SandboxStore(options.db ?? ":memory:");
  const service = new ScimService(store, rules, {
    maxPageSize: options.maxPageSize ?? DEFAULT_MAX_PAGE_SIZE,
    bulkMaxOperations: options.bulkMaxOperations ?? 1000,
    bulkMaxPayloadSize: options.bulkMaxPayloadSize ?? 1024 * 1024,
  });
  const faults = new FaultInjector();
  const adminKey = options.apiKey;
  let keys = new Set([options.apiKey]);
  let requestLog: RequestEntry[] = [];
  let requestSeq = 0;
  let requestTotal = 0;

  const seed = (groups: string[]): void => {
    store.transaction(() => {
      for (const g of groups) if (store.groupsByDisplayName(g).length === 0) service.seedGroup(g);
    });
  };
  seed(options.groups ?? []);

  const bearer = (req: IncomingMessage): string | undefined => {
    const h = req.headers.authorization;
    const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
    return m ? m[1]!.trim() : undefined;
  };

  const parseJson = (raw: Buffer, req: IncomingMessage): unknown => {
    if (raw.length === 0) return undefined;
    const ct = (req.headers["content-type"] ?? "").toLowerCase();
    if (ct && !/^application\/(scim\+)?json\b/.test(ct)) {
      throw new ScimResponseError(400, { scimType: "invalidSyntax", detail: `unsupported content type "${ct.split(";")[0]}"` });
    }
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch {
      throw new ScimResponseError(400, { scimType: "invalidSyntax", detail: "the request body is not valid JSON" });
    }
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const token = bearer(req);
    if (token === undefined || (token !== adminKey && !keys.has(token))) {
      send(res, 401, { error: "unauthorized" }, { "WWW-Authenticate": "Bearer" }, "application/json");
      return;
    }
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw.length ? (JSON.parse(raw.toString("utf8")) as Record<string, unknown>) : {};
    } catch {
      send(res, 400, { error: "invalid json" }, {}, "application/json");
      return;
    }
    const ok = (b: unknown, status = 200): void => send(res, status, b, {}, "application/json");
    const route = `${method} ${path}`;
    try {
      switch (route) {
        case "GET /audit":
          return ok({ entries: store.audit() });
        case "DELETE /audit":
          store.clearAudit();
          return ok({});
        case "GET /requests":
          return ok({ entries: requestLog });
        case "DELETE /requests":
          requestLog = [];
          return ok({});
        case "GET /faults":
          return ok({ faults: faults.list() });
        case "PUT /faults":
          faults.set(validateFaults(body.faults ?? []));
          return ok({});
        case "PUT /keys": {
          const k = body.keys;
          if (!Array.isArray(k) || k.some((x) => typeof x !== "string" || x === "")) throw new TypeError(`"keys" must be an array of non-empty strings`);
          keys = new Set(k as string[]);
          return ok({});
        }
        case "POST /reset": {
          store.wipe();
          const g = body.groups;
          if (g !== undefined && (!Array.isArray(g) || g.some((x) => typeof x !== "string"))) throw new TypeError(`"groups" must be an array of strings`);
          seed((g as string[] | undefined) ?? options.groups ?? []);
          return ok({});
        }
        case "POST /groups": {
          if (typeof body.displayName !== "string" || body.displayName === "") throw new TypeError(`"displayName" must be a non-empty string`);
          const name = body.displayName;
          return ok({ id: store.transaction(() => service.seedGroup(name)) }, 201);
        }
        case "POST /users":
          return ok({ id: store.transaction(() => service.seedUser(body)) }, 201);
        case "GET /stats":
          return ok({ requests: requestTotal, cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
        default:
          send(res, 404, { error: `unknown admin route "${route}"` }, {}, "application/json");
      }
    } catch (e) {
      if (e instanceof ScimResponseError) send(res, e.httpStatus, errorBody(e), {}, "application/json");
      else if (e instanceof TypeError || e instanceof SyntaxError) send(res, 400, { error: e.message }, {}, "application/json");
      else throw e;
    }
  };

  const scim = async (req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase();
    requestTotal++;
    const entry: RequestEntry = { seq: ++requestSeq, method, path, query, status: 0 };
    requestLog.push(entry);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      send(res, status, body, headers);
    };

    const fault = faults.decide(`${method} ${path}`);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === "drop") {
      entry.status = 0;
      req.socket.destroy();
      return;
    }
    if (fault.kind === "429") {
      reply(429, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429", detail: "too many requests" }, { "Retry-After": fault.retryAfter });
      return;
    }
    if (fault.kind === "5xx") {
      reply(fault.status, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(fault.status), detail: "injected server error" });
      return;
    }

    const token = bearer(req);
    if (token === undefined || !keys.has(token)) {
      reply(401, errorBody(new ScimResponseError(401, { detail: "a valid Bearer API key is required" })), { "WWW-Authenticate": 'Bearer realm="scim"' });
      return;
    }
    try {
      const raw = await readBody(req);
      const body = parseJson(raw, req);
      const h = (n: string): string | undefined => {
        const v = req.headers[n];
        return Array.isArray(v) ? v.join(",") : v;
      };
      const ifMatch = h("if-match");
      const ifNoneMatch = h("if-none-match");
      const result = service.handle({
        method,
        path,
        query: new URLSearchParams(query),
        body,
        bodySize: raw.length,
        ...(ifMatch !== undefined ? { ifMatch } : {}),
        ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}),
      });
      reply(result.status, result.body, result.headers);
    } catch (e) {
      if (e instanceof ScimResponseError) reply(e.httpStatus, errorBody(e));
      else if (e instanceof HttpError) reply(e.status, errorBody(new ScimResponseError(e.status, { detail: "the request body is too large" })));
      else {
        process.stderr.write(`sandbox: internal error on ${method} ${path}: ${e instanceof Error ? e.stack : String(e)}\n`);
        reply(500, errorBody(new ScimResponseError(500, { detail: "internal error" })));
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? "" : url.slice(q + 1);
    let p: Promise<void>;
    if (pathname.startsWith("/_sandbox/")) p = admin(req, res, pathname.slice("/_sandbox".length));
    else if (pathname === SCIM_BASE_PATH || pathname.startsWith(`${SCIM_BASE_PATH}/`)) p = scim(req, res, pathname.slice(SCIM_BASE_PATH.length) || "/", query);
    else {
      send(res, 404, errorBody(new ScimResponseError(404, { detail: `no resource at "${pathname}"` })));
      return;
    }
    p.catch((e: unknown) => {
      process.stderr.write(`sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
      if (!res.headersSent) send(res, 500, errorBody(new ScimResponseError(500, { detail: "internal error" })));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const baseUrl = `http://${host}:${addr.port}${SCIM_BASE_PATH}`;
  service.baseUrl = baseUrl;

  return {
    baseUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
