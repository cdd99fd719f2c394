/**
 * Discovery (RFC 7643 §5, RFC 7644 §4): `/ServiceProviderConfig`, plus a few cheap probes
 * that learn what the server really does, because many Catalogs advertise little or wrongly.
 * The result ({@link Capabilities}) is plain JSON: callers may cache it.
 * @see https://datatracker.ietf.org/doc/html/rfc7643#section-5
 */
import { ProvisioningError, ScimResponseError } from "../errors.js";
import { eq, or, valuePath } from "./filter.js";
import { processListResponse, queryRequest } from "./list-response.js";
import type { ScimRequest, ScimResponse } from "./transport.js";
import type { Capabilities, ScimUser, ServiceProviderConfig } from "./types.js";

export const DEFAULT_PAGE_CAP = 100;

export function serviceProviderConfigRequest(): ScimRequest {
  return { method: "GET", path: "/ServiceProviderConfig" };
}

/** normalises a ServiceProviderConfig body; anything not advertised is unsupported */
export function processServiceProviderConfig(body: unknown): ServiceProviderConfig {
  if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim "/ServiceProviderConfig" is not an object`);
  }
  const b = (body ?? {}) as Record<string, unknown>;
  const obj = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {});
  const bool = (v: unknown): boolean => v === true || v === "true";
  const int = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
  const bulk = obj(b.bulk);
  const filter = obj(b.filter);
  const out: ServiceProviderConfig = {
    patch: { supported: bool(obj(b.patch).supported) },
    bulk: { supported: bool(bulk.supported), maxOperations: int(bulk.maxOperations), maxPayloadSize: int(bulk.maxPayloadSize) },
    filter: { supported: bool(filter.supported), maxResults: int(filter.maxResults) },
    etag: { supported: bool(obj(b.etag).supported) },
    changePassword: { supported: bool(obj(b.changePassword).supported) },
    sort: { supported: bool(obj(b.sort).supported) },
  };
  if (Array.isArray(b.schemas)) out.schemas = b.schemas as string[];
  if (Array.isArray(b.authenticationSchemes)) out.authenticationSchemes = b.authenticationSchemes;
  // bulk without usable limits cannot be used safely
  if (out.bulk.supported && (out.bulk.maxOperations < 1 || out.bulk.maxPayloadSize < 1)) out.bulk.supported = false;
  return out;
}

/** a value no real resource has: used by probes that must match nothing */
export const PROBE_ABSENT_VALUE = "scim-capability-probe-absent-00000000";

/** swaps the case of letters so that a case-insensitive server still matches */
export function swapCase(s: string): string {
  let out = "";
  for (const ch of s) out += ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
  return out;
}

type Send = (req: ScimRequest, allow?: number[]) => Promise<ScimResponse>;

/**
 * What `/ServiceProviderConfig` alone tells (Bulk and its limits, ETags, the page cap), without
 * a probe: everything only a probe can learn is taken as unsupported, the safe side for every
 * caller (`findUserByUserName` tries the other case forms itself, `findGroupsOfUser` answers
 * undefined). For callers that use nothing a probe learns, such as the sync.
 */
export function capabilitiesFromServiceProviderConfig(spc: ServiceProviderConfig): Capabilities {
  return {
    bulk: { ...spc.bulk },
    etag: spc.etag.supported,
    userGroups: false,
    memberFilter: false,
    userNameCaseInsensitive: false,
    orFilter: false,
    pageCap: spc.filter.maxResults > 0 ? spc.filter.maxResults : DEFAULT_PAGE_CAP,
  };
}

/** a 400/403/404/501 means "not supported"; anything else (auth, 5xx, timeouts) is a real failure */
async function probe(send: Send, req: ScimRequest): Promise<ScimResponse | undefined> {
  try {
    const res = await send(req, [400, 403, 404, 501]);
    return res.status >= 200 && res.status < 300 ? res : undefined;
  } catch (e) {
    if (e instanceof ScimResponseError && e.httpStatus === 400) return undefined;
    throw e;
  }
}

/**
 * Learns capabilities with at most five requests: `/ServiceProviderConfig` is passed in;
 * one user (`groups`, and a `userName` to test case folding), `members[value eq]` on `/Groups`,
 * and `userName eq <swapped case> or userName eq <absent>` (one more request if `or` fails).
 */
export async function probeCapabilities(send: Send, spc: ServiceProviderConfig): Promise<Capabilities> {
  const caps = capabilitiesFromServiceProviderConfig(spc);

  // 1. one user: does it carry "groups"?
  const first = await probe(send, queryRequest("/Users", { startIndex: 1, count: 1 }));
  const sample = first ? processListResponse<ScimUser>(first.body, "/Users").Resources[0] : undefined;
  if (sample && Array.isArray(sample.groups)) caps.userGroups = true;

  // 2. members[value eq "…"] on /Groups: must answer 200 and match nothing
  const members = await probe(
    send,
    queryRequest("/Groups", { filter: valuePath("members", eq("value", PROBE_ABSENT_VALUE)), excludedAttributes: ["members"], count: 1 }),
  );
  if (members && processListResponse(members.body, "/Groups").Resources.length === 0) caps.memberFilter = true;

  // 3. or + case folding in one request, when there is a user to look for
  const userName = typeof sample?.userName === "string" ? sample.userName : undefined;
  const target = userName && swapCase(userName) !== userName ? swapCase(userName) : undefined;
  const orRes = await probe(
    send,
    queryRequest("/Users", {
      filter: or(eq("userName", target ?? PROBE_ABSENT_VALUE), eq("userName", `${PROBE_ABSENT_VALUE}-2`)),
      attributes: ["userName"],
      count: 2,
    }),
  );
  const matches = (res: ScimResponse | undefined): ScimUser[] | undefined =>
    res ? processListResponse<ScimUser>(res.body, "/Users").Resources : undefined;
  const orFound = matches(orRes);
  // a server that ignores the filter returns unrelated users: that is not working `or`
  const plausible = (found: ScimUser[]): boolean =>
    found.every((u) => typeof u.userName === "string" && target !== undefined && u.userName.toLowerCase() === target.toLowerCase());
  if (orFound && plausible(orFound)) {
    caps.orFilter = true;
    if (target && orFound.length > 0) caps.userNameCaseInsensitive = true;
  } else if (target) {
    const single = matches(await probe(send, queryRequest("/Users", { filter: eq("userName", target), attributes: ["userName"], count: 2 })));
    if (single && single.length > 0 && plausible(single)) caps.userNameCaseInsensitive = true;
  }
  return caps;
}
