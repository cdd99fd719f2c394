/**
 * Groups out of an Auth0 `event.user`, per connection strategy. Pure.
 * Where Auth0 puts them: reference §2 (`groups`, `federated_groups`, `group_ids`, ADFS `Group`,
 * raw SAML attribute URIs at the profile root).
 */

/** One IdP group as the mapping resolver takes it: a key may match any of these. */
export interface ClaimGroup {
  id?: string;
  name?: string;
  dn?: string;
  email?: string;
}

export interface GroupsClaimOptions {
  /** profile key holding groups; replaces the default search order */
  groupsClaim?: string;
  /** split comma-separated strings; default true for "okta" only */
  splitGroups?: boolean;
  /** the IdP's maximum list length; a list of this length may have been cut */
  groupsCap?: number;
}

export interface GroupsClaim {
  groups: ClaimGroup[];
  /**
   * the list may be incomplete (Entra overage, a list at the IdP's cap): add, never remove
   */
  unknown: boolean;
  /** why the list is unknown, for the log line */
  unknownReason?: "overage" | "cap";
  /** the profile key the groups came from */
  source?: string;
}

export const SAML_GROUPS_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
export const SAML_GROUP_CLAIM = "http://schemas.xmlsoap.org/claims/Group";
const ENTRA_SAML_OVERAGE = "http://schemas.microsoft.com/claims/groups.link";

/** The keys tried, in order, when the connection does not name one. */
export const DEFAULT_GROUP_KEYS = ["groups", "federated_groups", "group_ids", "Group", SAML_GROUPS_CLAIM, SAML_GROUP_CLAIM] as const;

/** Per-strategy caps: Entra SAML 150, Entra/OIDC JWT 200, Google Workspace 200. */
const STRATEGY_CAPS: Record<string, number> = { samlp: 150, oidc: 200, "google-apps": 200 };

const GUID_RE = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;
const DN_RE = /^\s*(cn|ou|dc|uid|o)\s*=/i;
const MAX_VALUE_LENGTH = 1024;

/**
 * Read the groups of a user for a connection strategy.
 * Junk values (numbers, null, empty strings, objects without id/name/email) are ignored.
 */
export function extractGroups(
  user: Record<string, unknown>,
  strategy: string,
  options: GroupsClaimOptions = {},
): GroupsClaim {
  const keys: readonly string[] = options.groupsClaim ? [options.groupsClaim] : DEFAULT_GROUP_KEYS;
  const split = options.splitGroups ?? strategy === "okta";
  let source: string | undefined;
  let raw: unknown;
  for (const key of keys) {
    const v = user[key];
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    source = key;
    raw = v;
    break;
  }

  const groups: ClaimGroup[] = [];
  const seen = new Set<string>();
  const push = (g: ClaimGroup) => {
    const k = `${g.id ?? ""}\u0000${g.name ?? ""}\u0000${g.email ?? ""}\u0000${g.dn ?? ""}`;
    if (seen.has(k)) return;
    seen.add(k);
    groups.push(g);
  };
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  let count = 0;
  for (const v of values) {
    if (typeof v === "string") {
      const parts = split ? v.split(",") : [v];
      for (const p of parts) {
        const g = fromString(p);
        if (g) {
          push(g);
          count++;
        }
      }
    } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const g = fromObject(v as Record<string, unknown>);
      if (g) {
        push(g);
        count++;
      }
    }
  }

  if (isOverage(user)) {
    return { groups, unknown: true, unknownReason: "overage", ...(source ? { source } : {}) };
  }
  const cap = options.groupsCap ?? STRATEGY_CAPS[strategy];
  if (cap !== undefined && cap > 0 && count >= cap) {
    return { groups, unknown: true, unknownReason: "cap", ...(source ? { source } : {}) };
  }
  return { groups, unknown: false, ...(source ? { source } : {}) };
}

function fromString(s: string): ClaimGroup | undefined {
  const v = s.trim();
  if (v === "" || v.length > MAX_VALUE_LENGTH) return undefined;
  if (GUID_RE.test(v)) return { id: canonicalGuid(v), name: v };
  if (DN_RE.test(v) && v.includes("=")) return { dn: v, name: v };
  return { name: v };
}

function fromObject(o: Record<string, unknown>): ClaimGroup | undefined {
  const g: ClaimGroup = {};
  const id = str(o["id"]);
  const name = str(o["name"]) ?? str(o["displayName"]);
  const email = str(o["email"]);
  if (id) g.id = GUID_RE.test(id) ? canonicalGuid(id) : id;
  if (name) g.name = name;
  if (email) g.email = email;
  return g.id || g.name || g.email ? g : undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t === "" || t.length > MAX_VALUE_LENGTH ? undefined : t;
}

function canonicalGuid(v: string): string {
  const hex = v.replace(/[{}-]/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Entra overage: claim sources instead of groups, `hasgroups`, or the SAML groups link. */
function isOverage(user: Record<string, unknown>): boolean {
  const names = user["_claim_names"];
  if (names && typeof names === "object" && "groups" in (names as object)) return true;
  const sources = user["_claim_sources"];
  if (sources && typeof sources === "object" && Object.keys(sources as object).length > 0) return true;
  const has = user["hasgroups"];
  if (has === true || has === "true") return true;
  return user[ENTRA_SAML_OVERAGE] !== undefined && user[ENTRA_SAML_OVERAGE] !== null;
}
