/**
 * Identity rules shared by the Action and the sync (ARCHITECTURE.md, "Identity, ownership
 * and lifecycle"): how a person is anchored and when an existing Catalog user may be adopted.
 * Pure.
 */

/** `userName` is the email, compared case-insensitively. */
export function normalizeUserName(userName: string): string {
  return userName.trim().toLowerCase();
}

export function sameUserName(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return normalizeUserName(a) === normalizeUserName(b);
}

export function emailDomain(email: string): string {
  const at = email.lastIndexOf("@");
  return at < 0 ? "" : email.slice(at + 1).trim().toLowerCase();
}

export type AdoptionDecision =
  | { kind: "adopt"; reason: "externalId-equal" | "externalId-empty" }
  | { kind: "conflict"; reason: "externalId-differs" | "domain-not-allowed" };

/**
 * An existing Catalog user is adopted only when its `externalId` is empty or equal and,
 * when the target lists `domains`, its `userName` domain is allowed.
 * A different non-empty `externalId` is a conflict: nothing is overwritten.
 */
export function decideAdoption(
  existing: { userName: string; externalId?: string | null },
  anchor: string,
  domains: readonly string[] = [],
): AdoptionDecision {
  const ext = existing.externalId ?? "";
  if (ext !== "" && ext !== anchor) return { kind: "conflict", reason: "externalId-differs" };
  if (domains.length > 0 && !domains.includes(emailDomain(existing.userName))) {
    return { kind: "conflict", reason: "domain-not-allowed" };
  }
  return ext === anchor ? { kind: "adopt", reason: "externalId-equal" } : { kind: "adopt", reason: "externalId-empty" };
}

/** Canonical lowercase GUID (8-4-4-4-12) from the 16 bytes of an AD objectGUID (little-endian fields). */
export function guidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new TypeError('"objectGUID" must be 16 bytes');
  return dashed([3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => bytes[i]!.toString(16).padStart(2, "0")).join(""));
}

/** 32 hex digits as 8-4-4-4-12, lowercase */
function dashed(hex: string): string {
  return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-").toLowerCase();
}

const GUID_RE = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;

/** A GUID string (any case, with or without braces and dashes) as the canonical lowercase GUID; undefined for anything else. */
export function canonicalGuid(value: string): string | undefined {
  return GUID_RE.test(value) ? dashed(value.replace(/[{}-]/g, "")) : undefined;
}

/**
 * Canonicalise an immutable id: GUID strings (any case, with or without braces) and base64
 * ImmutableIDs (Entra's sourceAnchor, the base64 of the objectGUID bytes) both become the
 * lowercase GUID. Anything else is returned unchanged.
 */
export function canonicalImmutableId(value: string): string {
  const v = value.trim();
  // 16 bytes in base64; the pattern guarantees that `atob` succeeds
  if (/^[A-Za-z0-9+/]{22}==$/.test(v)) return guidFromBytes(Uint8Array.from(atob(v), (c) => c.charCodeAt(0)));
  return canonicalGuid(v) ?? v;
}
