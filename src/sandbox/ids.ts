/**
 * Resource ids of the sandbox: UUID version 7 (RFC 9562 §5.7), time-ordered.
 *
 * SCIM ids are opaque to clients (RFC 7643 §3.1); the order matters to the store: ids that grow
 * with time are appended to the `id` indexes and the membership tables instead of landing on a
 * random page of them, so a Catalog of 100,000 users costs the same per write as one of 10,000.
 *
 * Layout: 48-bit Unix time in ms, version 7, 12-bit counter (`rand_a`, RFC 9562 §6.2 method 1,
 * started at a random value below 2048 each new millisecond), variant `10`, 62 random bits. Ids
 * from one generator sort in creation order, also within one millisecond and when the clock
 * steps back (the last timestamp is kept and the counter goes on).
 */
import { randomFillSync } from "node:crypto";

export type IdGenerator = () => string;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function createUuidV7Generator(options: { now?: () => number; random?: (b: Uint8Array) => void } = {}): IdGenerator {
  const now = options.now ?? Date.now;
  const random = options.random ?? ((b: Uint8Array): void => void randomFillSync(b));
  const pool = new Uint8Array(8 * 256);
  let poolAt = pool.length;
  let lastMs = -1;
  let counter = 0;
  const bytes = new Uint8Array(16);
  return () => {
    if (poolAt === pool.length) {
      random(pool);
      poolAt = 0;
    }
    let ms = Math.max(now(), lastMs);
    if (ms > lastMs) {
      // a fresh millisecond: the counter starts low, leaving room for at least 2,048 more ids
      counter = ((pool[poolAt]! << 8) | pool[poolAt + 1]!) & 0x7ff;
    } else if (++counter > 0xfff) {
      ms = lastMs + 1;
      counter = ((pool[poolAt]! << 8) | pool[poolAt + 1]!) & 0x7ff;
    }
    lastMs = ms;
    // 48-bit big-endian timestamp (beyond 32 bits: no bitwise operators)
    const high = Math.floor(ms / 2 ** 32);
    const low = ms >>> 0;
    bytes[0] = (high >>> 8) & 0xff;
    bytes[1] = high & 0xff;
    bytes[2] = (low >>> 24) & 0xff;
    bytes[3] = (low >>> 16) & 0xff;
    bytes[4] = (low >>> 8) & 0xff;
    bytes[5] = low & 0xff;
    bytes[6] = 0x70 | (counter >>> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (pool[poolAt + 2]! & 0x3f);
    for (let i = 9; i < 16; i++) bytes[i] = pool[poolAt + i - 6]!;
    poolAt += 10;
    if (poolAt + 10 > pool.length) poolAt = pool.length;
    let s = "";
    for (let i = 0; i < 16; i++) {
      s += HEX[bytes[i]!]!;
      if (i === 3 || i === 5 || i === 7 || i === 9) s += "-";
    }
    return s;
  };
}
