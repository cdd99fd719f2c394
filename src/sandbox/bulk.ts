/**
 * `/Bulk` (RFC 7644 §3.7): limits (413), `failOnErrors`, `bulkId:` references resolved in
 * any order (an operation waits until the one it references has run).
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.7
 */
import { ScimResponseError } from "../errors.js";
import { SCHEMA_BULK_REQUEST, SCHEMA_BULK_RESPONSE, SCHEMA_ERROR } from "../scim/types.js";

export interface BulkLimits {
  maxOperations: number;
  maxPayloadSize: number;
}

export interface BulkExecResult {
  status: number;
  body?: unknown;
  location?: string;
  version?: string;
  id?: string;
}

export type BulkExec = (method: string, path: string, data: unknown) => BulkExecResult;

const REF = /^bulkId:(.+)$/;

function collectRefs(v: unknown, out: Set<string>): void {
  if (typeof v === "string") {
    const m = REF.exec(v);
    if (m) out.add(m[1]!);
  } else if (Array.isArray(v)) for (const x of v) collectRefs(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) collectRefs(x, out);
}

function substitute(v: unknown, ids: Map<string, string>): unknown {
  if (typeof v === "string") {
    const m = REF.exec(v);
    return m && ids.has(m[1]!) ? ids.get(m[1]!) : v;
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ids));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ids)]));
  return v;
}

function pathSubstitute(path: string, ids: Map<string, string>): string {
  return path.replace(/bulkId:([^/?]+)/g, (all, b: string) => ids.get(b) ?? all);
}

const errorBody = (status: number, scimType: string | undefined, detail: string): Record<string, unknown> => ({
  schemas: [SCHEMA_ERROR],
  status: String(status),
  ...(scimType ? { scimType } : {}),
  detail,
});

/** @throws ScimResponseError 400 invalidSyntax, 413 */
export function processBulk(body: unknown, payloadSize: number, limits: BulkLimits, exec: BulkExec): Record<string, unknown> {
  if (payloadSize > limits.maxPayloadSize) {
    throw new ScimResponseError(413, { detail: `the bulk request exceeds "maxPayloadSize" (${limits.maxPayloadSize})` });
  }
  if (!body || typeof body !== "object") throw new ScimResponseError(400, { scimType: "invalidSyntax", detail: "the request body must be a JSON object" });
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.schemas) || !b.schemas.includes(SCHEMA_BULK_REQUEST)) {
    throw new ScimResponseError(400, { scimType: "invalidSyntax", detail: `"schemas" must contain "${SCHEMA_BULK_REQUEST}"` });
  }
  if (!Array.isArray(b.Operations)) throw new ScimResponseError(400, { scimType: "invalidSyntax", detail: `"Operations" must be an array` });
  if (b.Operations.length > limits.maxOperations) {
    throw new ScimResponseError(413, { detail: `the bulk request exceeds "maxOperations" (${limits.maxOperations})` });
  }
  const failOnErrors = b.failOnErrors === undefined ? Infinity : Number(b.failOnErrors);
  if (!(failOnErrors >= 1)) throw new ScimResponseError(400, { scimType: "invalidValue", detail: `"failOnErrors" must be a positive integer` });

  interface Pending {
    index: number;
    method: string;
    path: string;
    bulkId?: string;
    data: unknown;
    refs: Set<string>;
  }
  const declared = new Set<string>();
  const pending: Pending[] = b.Operations.map((raw, index) => {
    const o = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
    const refs = new Set<string>();
    collectRefs(o.data, refs);
    if (typeof o.path === "string") for (const m of o.path.matchAll(/bulkId:([^/?]+)/g)) refs.add(m[1]!);
    if (typeof o.bulkId === "string") declared.add(o.bulkId);
    return {
      index,
      method: typeof o.method === "string" ? o.method.toUpperCase() : "",
      path: typeof o.path === "string" ? o.path : "",
      ...(typeof o.bulkId === "string" ? { bulkId: o.bulkId } : {}),
      data: o.data,
      refs,
    };
  });

  const results: Record<string, unknown>[] = [];
  const ids = new Map<string, string>();
  const failed = new Set<string>();
  let errors = 0;
  let queue = pending;
  const record = (p: Pending, r: Record<string, unknown>): void => {
    results.push({ method: p.method, ...(p.bulkId ? { bulkId: p.bulkId } : {}), ...r });
  };
  const fail = (p: Pending, status: number, scimType: string | undefined, detail: string): void => {
    errors++;
    if (p.bulkId) failed.add(p.bulkId);
    record(p, { status: String(status), response: errorBody(status, scimType, detail) });
  };

  while (queue.length > 0 && errors < failOnErrors) {
    const next: Pending[] = [];
    let progressed = false;
    for (const p of queue) {
      if (errors >= failOnErrors) break;
      const unresolved = [...p.refs].filter((r) => !ids.has(r));
      const missing = unresolved.find((r) => !declared.has(r) || failed.has(r));
      if (missing !== undefined) {
        fail(p, 409, "invalidValue", `"bulkId:${missing}" does not refer to a resource created in this request`);
        progressed = true;
        continue;
      }
      if (unresolved.length > 0) {
        next.push(p);
        continue;
      }
      progressed = true;
      if (!["POST", "PUT", "PATCH", "DELETE"].includes(p.method)) {
        fail(p, 400, "invalidSyntax", `"method" must be POST, PUT, PATCH or DELETE`);
        continue;
      }
      if (p.method === "POST" && !p.bulkId) {
        fail(p, 400, "invalidSyntax", `"bulkId" is required for POST`);
        continue;
      }
      const r = exec(p.method, pathSubstitute(p.path, ids), substitute(p.data, ids));
      if (r.status >= 400) {
        errors++;
        if (p.bulkId) failed.add(p.bulkId);
        record(p, { status: String(r.status), response: r.body });
        continue;
      }
      if (p.bulkId && r.id) ids.set(p.bulkId, r.id);
      record(p, {
        status: String(r.status),
        ...(r.location ? { location: r.location } : {}),
        ...(r.version ? { version: r.version } : {}),
      });
    }
    if (!progressed) {
      for (const p of next) fail(p, 409, "invalidValue", "circular \"bulkId\" references");
      break;
    }
    queue = next;
  }
  return { schemas: [SCHEMA_BULK_RESPONSE], Operations: results };
}
