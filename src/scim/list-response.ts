/**
 * Query requests and `ListResponse` processing with pagination (RFC 7644 §3.4.2, §3.4.2.4).
 *
 * The loop advances `startIndex` (1-based) by the number of resources actually received,
 * because a server may return fewer than `count` (it may cap the page size). It stops on an
 * empty page, never on `totalResults` alone (some servers report it wrongly), and also when a
 * page brings no resource it has not already seen (some servers answer a `startIndex` past
 * the end with the first page again).
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.4.2.4
 */
import { ProvisioningError } from "../errors.js";
import type { Filter } from "./filter.js";
import type { ListResponse } from "./types.js";
import type { ScimRequest } from "./transport.js";

export interface QueryParams {
  filter?: Filter | string;
  attributes?: string[];
  excludedAttributes?: string[];
  /** 1-based */
  startIndex?: number;
  count?: number;
}

/** `GET {path}?filter=…&attributes=…&excludedAttributes=…&startIndex=…&count=…` */
export function queryRequest(path: string, params: QueryParams = {}): ScimRequest {
  const query: Record<string, string | number | undefined> = {};
  if (params.filter !== undefined) query.filter = String(params.filter);
  if (params.attributes?.length) query.attributes = params.attributes.join(",");
  if (params.excludedAttributes?.length) query.excludedAttributes = params.excludedAttributes.join(",");
  if (params.startIndex !== undefined) query.startIndex = Math.max(1, Math.floor(params.startIndex));
  if (params.count !== undefined) query.count = Math.max(0, Math.floor(params.count));
  return { method: "GET", path, query };
}

/** checks a `ListResponse` body and returns it with `Resources` always present */
export function processListResponse<T>(body: unknown, where = "list"): ListResponse<T> & { Resources: T[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${where} did not answer with a "ListResponse" object`);
  }
  const b = body as Record<string, unknown>;
  const resources = b.Resources ?? [];
  if (!Array.isArray(resources)) throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${where} "Resources" is not an array`);
  const num = (v: unknown): number | undefined => {
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    return typeof n === "number" && Number.isFinite(n) ? n : undefined;
  };
  const totalResults = num(b.totalResults) ?? resources.length;
  const out: ListResponse<T> & { Resources: T[] } = {
    schemas: Array.isArray(b.schemas) ? (b.schemas as string[]) : [],
    totalResults,
    Resources: resources as T[],
  };
  const startIndex = num(b.startIndex);
  const itemsPerPage = num(b.itemsPerPage);
  if (startIndex !== undefined) out.startIndex = startIndex;
  if (itemsPerPage !== undefined) out.itemsPerPage = itemsPerPage;
  return out;
}

export interface PaginateOptions {
  /** requested page size (default 100) */
  count?: number;
  /** a hard stop against runaway servers (default 100 000 pages) */
  maxPages?: number;
}

/**
 * Iterates all resources of a query. `fetchPage(startIndex, count)` sends one request.
 * Resources without an `id` are yielded but cannot be de-duplicated.
 */
export async function* paginate<T extends { id?: string }>(
  fetchPage: (startIndex: number, count: number) => Promise<ListResponse<T>>,
  options: PaginateOptions = {},
): AsyncGenerator<T> {
  const count = Math.max(1, options.count ?? 100);
  const maxPages = options.maxPages ?? 100_000;
  const seen = new Set<string>();
  let startIndex = 1;
  for (let page = 0; page < maxPages; page++) {
    const res = await fetchPage(startIndex, count);
    const resources = res.Resources ?? [];
    if (resources.length === 0) return;
    let fresh = 0;
    for (const r of resources) {
      if (typeof r.id === "string") {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
      }
      fresh++;
      yield r;
    }
    if (fresh === 0) return;
    startIndex += resources.length;
  }
}
