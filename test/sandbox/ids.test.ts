/**
 * The sandbox's resource ids: RFC 9562 UUID version 7, unique and in creation order.
 */
import { describe, expect, it } from "vitest";
import { createUuidV7Generator } from "../../src/sandbox/ids.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("createUuidV7Generator", () => {
  it("makes version-7, variant-10 UUIDs carrying the Unix time in milliseconds", () => {
    const ms = Date.UTC(2026, 10, 29, 5, 0, 0, 123);
    const next = createUuidV7Generator({ now: () => ms });
    const id = next();
    expect(id).toMatch(UUID);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(ms);
  });

  it("sorts in creation order within one millisecond, across the counter's end and when the clock steps back", () => {
    const ms = 1_700_000_000_000;
    const clock = [0, 0, 0, -5, 0, 1];
    let tick = 0;
    const next = createUuidV7Generator({ now: () => ms + clock[Math.floor(tick++ / 2_000) % clock.length]! });
    const ids = Array.from({ length: 12_000 }, () => next());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID);
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    // 6,000 ids in one millisecond overflow the 12-bit counter: the timestamp moves on by itself
    const stamps = new Set(ids.map((id) => id.replace(/-/g, "").slice(0, 12)));
    expect(stamps.size).toBeGreaterThan(2);
  });

  it("takes its random bits from the given source", () => {
    const zero = createUuidV7Generator({ now: () => 0, random: (b) => b.fill(0) });
    expect(zero()).toBe("00000000-0000-7000-8000-000000000000");
    expect(zero()).toBe("00000000-0000-7001-8000-000000000000");
    const ones = createUuidV7Generator({ now: () => 0, random: (b) => b.fill(0xff) });
    expect(ones()).toBe("00000000-0000-77ff-bfff-ffffffffffff");
  });
});
