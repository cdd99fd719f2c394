/**
 * Bulk requests (RFC 7644 §3.7): split operations into `BulkRequest`s that stay within the
 * advertised `maxOperations` and `maxPayloadSize`, and resolve `bulkId:` references across
 * requests from earlier responses.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.7
 */
import { ProvisioningError } from "../errors.js";
import { SCHEMA_BULK_REQUEST, type BulkOperation, type BulkOperationResponse } from "./types.js";

export interface BulkRequest {
  schemas: [typeof SCHEMA_BULK_REQUEST];
  failOnErrors?: number;
  Operations: BulkOperation[];
}

export interface BulkLimits {
  maxOperations: number;
  /** bytes of the serialised request */
  maxPayloadSize: number;
}

/** UTF-8 length of a string, without encoding it */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // a surrogate pair: 4 bytes for 2 UTF-16 units
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

const byteLength = (v: unknown): number => utf8Length(JSON.stringify(v));

/** bytes one operation adds to a serialised `BulkRequest` (plus one comma after the first) */
export function bulkOperationSize(op: BulkOperation): number {
  return byteLength(op);
}

/** bytes of a serialised `BulkRequest` with no operation */
export function bulkRequestOverhead(failOnErrors?: number): number {
  return byteLength(bulkRequest([], failOnErrors));
}

export function bulkRequest(operations: BulkOperation[], failOnErrors?: number): BulkRequest {
  return { schemas: [SCHEMA_BULK_REQUEST], ...(failOnErrors !== undefined ? { failOnErrors } : {}), Operations: operations };
}

/** Splits operations, in order, into requests within both limits. */
export function splitBulkOperations(operations: BulkOperation[], limits: BulkLimits, failOnErrors?: number): BulkOperation[][] {
  if (!(limits.maxOperations >= 1)) throw new TypeError(`"maxOperations" must be at least 1`);
  // the serialised request is the empty one plus each operation and a comma between them:
  // sizes add up, so each operation is serialised once (linear, not quadratic, in the count)
  const empty = byteLength(bulkRequest([], failOnErrors));
  const chunks: BulkOperation[][] = [];
  let chunk: BulkOperation[] = [];
  let size = empty;
  for (const op of operations) {
    const opSize = byteLength(op);
    if (empty + opSize > limits.maxPayloadSize) {
      throw new ProvisioningError(
        "SCIM_BULK_FAILED",
        `bulk operation "${op.method} ${op.path}" alone exceeds "maxPayloadSize" (${limits.maxPayloadSize} bytes)`,
      );
    }
    const next = size + opSize + (chunk.length > 0 ? 1 : 0);
    if (chunk.length > 0 && (chunk.length + 1 > limits.maxOperations || next > limits.maxPayloadSize)) {
      chunks.push(chunk);
      chunk = [op];
      size = empty + opSize;
    } else {
      chunk.push(op);
      size = next;
    }
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Replaces `bulkId:<id>` references whose resource id is already known. */
export function resolveBulkIds(op: BulkOperation, known: ReadonlyMap<string, string>): BulkOperation {
  if (known.size === 0) return op;
  const replace = (s: string): string => s.replace(/bulkId:([^"\s/]+)/g, (m, id: string) => known.get(id) ?? m);
  const path = replace(op.path);
  const data = op.data === undefined ? undefined : JSON.parse(replace(JSON.stringify(op.data)));
  return { ...op, path, ...(data !== undefined ? { data } : {}) };
}

/** checks a `BulkResponse` body */
export function processBulkResponse(body: unknown): BulkOperationResponse[] {
  const ops = (body as { Operations?: unknown } | undefined)?.Operations;
  if (!Array.isArray(ops)) throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim bulk did not answer with "Operations"`);
  return ops as BulkOperationResponse[];
}

/** the resource id a bulk operation response points at (from `location`, else the response body) */
export function bulkResourceId(r: BulkOperationResponse): string | undefined {
  const body = r.response as { id?: unknown } | undefined;
  if (body && typeof body.id === "string") return body.id;
  if (typeof r.location === "string") {
    const last = r.location.replace(/\/+$/, "").split("/").pop();
    if (last) return decodeURIComponent(last);
  }
  return undefined;
}

export function isBulkSuccess(r: BulkOperationResponse): boolean {
  const s = Number(r.status);
  return s >= 200 && s < 300;
}
