/**
 * Groups out of an Auth0 `event.user`, per connection strategy. Pure.
 * Where Auth0 puts them: reference §2 (`groups`, `federated_groups`, `group_ids`, ADFS `Group`,
 * raw SAML attribute URIs at the profile root).
 */
import { canonicalGuid } from "../identity.js";

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

  const cap = options.groupsCap ?? STRATEGY_CAPS[strategy];
  const reason = isOverage(user) ? "overage" : cap !== undefined && cap > 0 && count >= cap ? "cap" : undefined;
  const claim: GroupsClaim = { groups, unknown: reason !== undefined };
  if (reason) claim.unknownReason = reason;
  if (source) claim.source = source;
  return claim;
}

function fromString(s: string): ClaimGroup | undefined {
  const v = s.trim();
  if (v === "" || v.length > MAX_VALUE_LENGTH) return undefined;
  const id = canonicalGuid(v);
  if (id) return { id, name: v };
  if (DN_RE.test(v) && v.includes("=")) return { dn: v, name: v };
  return { name: v };
}

function fromObject(o: Record<string, unknown>): ClaimGroup | undefined {
  const g: ClaimGroup = {};
  const id = str(o["id"]);
  const name = str(o["name"]) ?? str(o["displayName"]);
  const email = str(o["email"]);
  if (id) g.id = canonicalGuid(id) ?? id;
  if (name) g.name = name;
  if (email) g.email = email;
  return g.id || g.name || g.email ? g : undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t === "" || t.length > MAX_VALUE_LENGTH ? undefined : t;
}

/** Entra overage: claim sources instead of groups, `hasgroups`, or the SAML groups link. */
function isOverage(user: Record<string, unknown>): boolean {
  const names = user["_claim_names"];
  const sources = user["_claim_sources"];
  return (
    (!!names && typeof names === "object" && "groups" in names) ||
    (!!sources && typeof sources === "object" && Object.keys(sources).length > 0) ||
    user["hasgroups"] === true ||
    user["hasgroups"] === "true" ||
    user[ENTRA_SAML_OVERAGE] != null
  );
}
