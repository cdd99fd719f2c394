/**
 * The Action's use of `api.cache`, which every post-login Action of the tenant shares
 * (20 entries, 8 KB in all): exactly two small entries, each a JSON map keyed by target.
 * - GROUPS_KEY: per target, Catalog group ids by displayName, Bulk support, the key that worked;
 * - BREAKER_KEY: per target, consecutive failures and the time the circuit stays open until.
 */
import type { Capabilities } from "../scim/types.js";
import type { PostLoginApi } from "./auth0-types.js";

export const GROUPS_KEY = "catalog-provisioning:groups";
export const BREAKER_KEY = "catalog-provisioning:breaker";
/** stay well inside the 4 KB value limit and the 8 KB tenant total */
export const MAX_VALUE_BYTES = 2048;
export const GROUPS_TTL_MS = 6 * 3600_000;
export const BREAKER_TTL_MS = 3600_000;

export interface TargetGroupsEntry {
  /** displayName → id */
  i: Record<string, string>;
  /** the Catalog's capabilities, packed (see packCapabilities); absent = unknown */
  c?: number[];
  /** key that worked: "n" next, "c" current */
  k?: "n" | "c";
}

export interface BreakerEntry {
  /** consecutive failures */
  f: number;
  /** open until, ms since epoch */
  o: number;
}

/** every target's entry under `key` ({} when absent or unreadable) */
function readAll<T>(api: PostLoginApi, key: string): Record<string, T> {
  try {
    const value = api.cache.get(key)?.value;
    const all = typeof value === "string" ? (JSON.parse(value) as unknown) : undefined;
    if (all && typeof all === "object") return all as Record<string, T>;
  } catch {
    // an unreadable entry counts as none
  }
  return {};
}

export function readEntry<T>(api: PostLoginApi, key: string, target: string): T | undefined {
  return readAll<T>(api, key)[target];
}

/** Write one target's entry, dropping the other targets' entries when the value grows too large. */
export function writeEntry<T>(api: PostLoginApi, key: string, target: string, value: T | undefined, ttlMs: number): void {
  try {
    const all = readAll<T>(api, key);
    if (value === undefined) delete all[target];
    else all[target] = value;
    let text = JSON.stringify(all);
    if (text.length > MAX_VALUE_BYTES) {
      text = value === undefined ? "{}" : JSON.stringify({ [target]: value });
      if (text.length > MAX_VALUE_BYTES) return;
    }
    api.cache.set(key, text, { ttl: ttlMs });
  } catch {
    // the cache is an optimisation: never let it break a login
  }
}

/** the boolean capabilities, at positions 3 to 7 of the packed array */
const FLAGS = ["etag", "userGroups", "memberFilter", "userNameCaseInsensitive", "orFilter"] as const;

/**
 * Capabilities as a short array for the cache entry:
 * [bulk supported, bulk maxOperations, bulk maxPayloadSize, ...FLAGS as 0/1, pageCap].
 */
export function packCapabilities(c: Capabilities): number[] {
  return [+c.bulk.supported, c.bulk.maxOperations, c.bulk.maxPayloadSize, ...FLAGS.map((k) => +c[k]), c.pageCap];
}

export function unpackCapabilities(a: unknown): Capabilities | undefined {
  if (!Array.isArray(a) || a.length !== 9 || !a.every((x) => typeof x === "number")) return undefined;
  const caps = { bulk: { supported: a[0] === 1, maxOperations: a[1], maxPayloadSize: a[2] }, pageCap: a[8] } as Capabilities;
  FLAGS.forEach((k, i) => (caps[k] = a[3 + i] === 1));
  return caps;
}
