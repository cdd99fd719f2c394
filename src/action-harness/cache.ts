/**
 * A local stand-in for Auth0's `api.cache`, scoped to one trigger (it persists between runs):
 * at most 20 entries, keys ≤ 64 bytes, values ≤ 4 KB, keys plus values ≤ 8 KB in all,
 * a default TTL of 15 minutes and a maximum lifetime of 24 hours. Failures are returned as
 * `{type: "error", code}`, never thrown (reference §1.6).
 */

export const CACHE_MAX_ENTRIES = 20;
export const CACHE_MAX_KEY_BYTES = 64;
export const CACHE_MAX_VALUE_BYTES = 4 * 1024;
export const CACHE_MAX_TOTAL_BYTES = 8 * 1024;
export const CACHE_DEFAULT_TTL_MS = 15 * 60_000;
export const CACHE_MAX_TTL_MS = 24 * 3600_000;

export type CacheErrorCode =
  | "MaxSideEffectsExceeded"
  | "CacheKeySizeExceeded"
  | "CacheValueSizeExceeded"
  | "CacheSizeExceeded"
  | "ItemAlreadyExpired"
  | "InvalidExpiry"
  | "FailedToSetCacheRecord"
  | "FailedToDeleteCacheRecord"
  | "CacheKeyDoesNotExist";

export interface HarnessCacheRecord {
  value: string;
  expires_at: number;
}

export type HarnessCacheSetResult = { type: "success"; record: HarnessCacheRecord } | { type: "error"; code: CacheErrorCode };
export type HarnessCacheDeleteResult = { type: "success" } | { type: "error"; code: CacheErrorCode };

export interface Clock {
  now(): number;
}

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

export class TriggerCache {
  private readonly entries = new Map<string, HarnessCacheRecord>();

  constructor(private readonly clock: Clock = { now: () => Date.now() }) {}

  get(key: string): HarnessCacheRecord | undefined {
    this.evictExpired();
    const r = this.entries.get(String(key));
    return r ? { value: r.value, expires_at: r.expires_at } : undefined;
  }

  set(key: string, value: string, options: { ttl?: number; expires_at?: number } = {}): HarnessCacheSetResult {
    this.evictExpired();
    if (typeof key !== "string" || typeof value !== "string") return { type: "error", code: "FailedToSetCacheRecord" };
    if (bytes(key) > CACHE_MAX_KEY_BYTES) return { type: "error", code: "CacheKeySizeExceeded" };
    if (bytes(value) > CACHE_MAX_VALUE_BYTES) return { type: "error", code: "CacheValueSizeExceeded" };
    const now = this.clock.now();
    const { ttl, expires_at } = options ?? {};
    if (ttl !== undefined && !(typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0)) return { type: "error", code: "InvalidExpiry" };
    if (expires_at !== undefined && !(typeof expires_at === "number" && Number.isFinite(expires_at))) return { type: "error", code: "InvalidExpiry" };
    if (expires_at !== undefined && expires_at <= now) return { type: "error", code: "ItemAlreadyExpired" };
    // both given: the earlier one wins; capped at 24 h
    const candidates = [ttl !== undefined ? now + ttl : undefined, expires_at].filter((x): x is number => x !== undefined);
    const wanted = candidates.length > 0 ? Math.min(...candidates) : now + CACHE_DEFAULT_TTL_MS;
    const expiresAt = Math.min(wanted, now + CACHE_MAX_TTL_MS);

    const existing = this.entries.get(key);
    if (!existing && this.entries.size >= CACHE_MAX_ENTRIES) return { type: "error", code: "CacheSizeExceeded" };
    const total = this.totalBytes() - (existing ? bytes(key) + bytes(existing.value) : 0) + bytes(key) + bytes(value);
    if (total > CACHE_MAX_TOTAL_BYTES) return { type: "error", code: "CacheSizeExceeded" };
    const record = { value, expires_at: expiresAt };
    this.entries.set(key, record);
    return { type: "success", record: { ...record } };
  }

  delete(key: string): HarnessCacheDeleteResult {
    this.evictExpired();
    if (!this.entries.delete(String(key))) return { type: "error", code: "CacheKeyDoesNotExist" };
    return { type: "success" };
  }

  clear(): void {
    this.entries.clear();
  }

  keys(): string[] {
    this.evictExpired();
    return [...this.entries.keys()];
  }

  /** keys plus values, in bytes */
  totalBytes(): number {
    let n = 0;
    for (const [k, r] of this.entries) n += bytes(k) + bytes(r.value);
    return n;
  }

  private evictExpired(): void {
    const now = this.clock.now();
    for (const [k, r] of this.entries) if (r.expires_at <= now) this.entries.delete(k);
  }
}
