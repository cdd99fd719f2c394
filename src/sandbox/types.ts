/**
 * Shapes of the local Catalog SCIM sandbox's admin API (`/_sandbox/…`).
 * Tests, the demo and the benchmarks read these through `test/helpers/sandbox.ts`.
 */

export type SandboxProfile = "full" | "minimal";

/** One write the sandbox processed (RFC 7644 resource writes, including Bulk operations). */
export interface AuditEntry {
  seq: number;
  /** ISO 8601 */
  time: string;
  method: string;
  /** path without the `/scim/v2` base, e.g. `/Groups/1b2…` */
  path: string;
  /** HTTP status the sandbox answered */
  status: number;
  resourceType: "User" | "Group" | "Bulk" | null;
  resourceId: string | null;
  /** short human-readable description, e.g. `add members (2)` */
  summary: string;
}

/** One SCIM request the sandbox saw (reads too); admin calls are never recorded. */
export interface RequestEntry {
  seq: number;
  method: string;
  /** path without the `/scim/v2` base */
  path: string;
  /** raw query string without the leading `?` ("" when none) */
  query: string;
  /** HTTP status sent; 0 when the connection was dropped */
  status: number;
}

/** A fault to inject on SCIM routes (never on `/_sandbox/`). */
export interface FaultSpec {
  /** regular expression tested against `"METHOD /path-without-base"`, e.g. `"PATCH /Groups"`; every route when absent */
  route?: string;
  kind: "latency" | "429" | "5xx" | "drop";
  /** share of matching requests to fault, 0..1, deterministic (counter-based); every matching request when absent */
  share?: number;
  /** fault only the first `count` matching requests */
  count?: number;
  /** for `latency` (default 100) */
  latencyMs?: number;
  /** for `429`: the `Retry-After` header value in seconds (default "1") */
  retryAfter?: string;
  /** for `5xx` (default 503) */
  status?: number;
}

export interface SandboxStats {
  requests: number;
  cpu: { user: number; system: number };
  rss: number;
}
