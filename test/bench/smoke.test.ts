/**
 * The benchmark's code path at 1,000 users, so that `npm run bench` never rots:
 * generator → `file` source → sync (child process) → sandbox (its own process).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeDirectory, generateDirectory, minimumInitialWrites } from "../../bench/generate.js";
import { createSyncWorkspace, firstTouchCost, measureSync, type SyncWorkspace } from "../../bench/sync-bench.js";

const generated = generateDirectory({ users: 1000, groups: 10, memberships: 5000, seed: 1 });

describe("synthetic directory generator", () => {
  it("is deterministic for a seed and has the requested sizes", () => {
    const again = generateDirectory({ users: 1000, groups: 10, memberships: 5000, seed: 1 });
    expect(JSON.stringify(again.directory)).toBe(JSON.stringify(generated.directory));
    expect(generated.directory.users).toHaveLength(1000);
    expect(generated.directory.groups).toHaveLength(10);
    expect(generated.directory.groups.reduce((n, g) => n + g.members.length, 0)).toBe(5000);
    const other = generateDirectory({ users: 1000, groups: 10, memberships: 5000, seed: 2 });
    expect(JSON.stringify(other.directory)).not.toBe(JSON.stringify(generated.directory));
  });

  it("puts every user in at least one mapped group", () => {
    const members = new Set(generated.directory.groups.flatMap((g) => g.members));
    expect(members.size).toBe(1000);
  });

  it("a 1 % change touches about 1 % of the users", () => {
    const { changes } = changeDirectory(generated.directory, 0.01);
    const touched = changes.renamed + [...changes.added.values(), ...changes.removed.values()].reduce((a, b) => a + b, 0);
    expect(touched).toBe(10);
  });
});

for (const profile of ["full", "minimal"] as const) {
  describe(`bench smoke: 1,000 users through the file source, sandbox ${profile}`, () => {
    let ws: SyncWorkspace;
    beforeAll(async () => {
      ws = await createSyncWorkspace({ mapping: generated.mapping, catalogGroups: generated.catalogGroups, profile, mode: "snapshot" });
      ws.writeDirectory(generated.directory);
    });
    afterAll(async () => {
      await ws?.close();
    });

    it("the initial sync writes at most 1.05 × the minimum, and a second run writes nothing", async () => {
      const initial = await measureSync(ws);
      expect(initial.error).toBeUndefined();
      expect(initial.ok).toBe(true);
      expect(initial.summary).toMatchObject({ created: 1000, membershipsAdded: 5000, failed: 0 });
      const minimum = minimumInitialWrites(generated, 100, profile === "full" ? 1000 : undefined);
      expect(initial.writes).toBeLessThanOrEqual(1.05 * minimum);
      expect(initial.maxRss).toBeGreaterThan(0);
      // the memory the run touched first: far more than a page for 1,000 users and their requests
      expect(initial.minorPageFaults).toBeGreaterThan(100);
      const second = await measureSync(ws);
      expect(second.ok).toBe(true);
      expect(second.writes).toBe(0);
    }, 240_000);
  });
}

describe("first touch of fresh memory", () => {
  it("reports the cost per MiB of writing fresh pages and of writing them again", () => {
    const cost = firstTouchCost(8);
    expect(cost.firstMsPerMib).toBeGreaterThan(0);
    expect(cost.againMsPerMib).toBeGreaterThan(0);
    expect(Number.isFinite(cost.firstMsPerMib) && Number.isFinite(cost.againMsPerMib)).toBe(true);
  });
});
