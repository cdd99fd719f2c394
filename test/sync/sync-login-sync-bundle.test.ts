/**
 * Issue: "Sync, then a login through the built Action, then sync again: zero writes in the
 * third step" — the login runs the bundle `npm run build` produces (compiled with this test's
 * mapping), in the node:vm Post-Login harness, against the same Catalog the sync writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionHarness, type HarnessEvent } from "../../src/action-harness/index.js";
import { buildActionBundle } from "../../src/deploy/bundle.js";
import { createWorld, directory, loginEvent, person, type World } from "../invariants/world.js";

const T0 = Date.parse("2025-03-01T08:00:00Z");
const ada = person("ada");
const bob = person("bob");

describe.each(["full", "minimal"] as const)("sync, then a login through the built Action, then the sync again (%s profile)", (profile) => {
  let w: World;
  let code: string;
  beforeAll(async () => {
    w = await createWorld(profile, { sourceConnection: true });
    code = (await buildActionBundle({ config: w.actionConfig() })).code;
  });
  afterAll(async () => {
    await w?.close();
  });

  it("the third step writes nothing, and the built Action neither creates nor duplicates anyone", async () => {
    w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance", "finance-leads"] }, { p: bob, groups: ["analysts-marketing"] }]));
    const first = await w.sync({ now: () => new Date(T0) });
    expect(first.summary).toMatchObject({ created: 2, failed: 0 });

    const harness = new ActionHarness({ code, secrets: w.secrets, baseUrl: w.sandbox.baseUrl });
    for (const [p, groups] of [[ada, ["analysts-finance", "finance-leads"]], [bob, ["analysts-marketing"]]] as const) {
      const r = await harness.run(loginEvent(p, [...groups], w.secrets, {}) as unknown as HarnessEvent);
      expect(r.outcome).toBe("success");
      // the bundle looked the user up and found the one the sync created: it made requests, none of them a create
      expect(r.requests.length).toBeGreaterThan(0);
      expect(r.requests.filter((q) => q.method === "POST" && /^\/(Users|Bulk)(\?|$)/.test(q.path))).toEqual([]);
    }
    const users = await w.users();
    expect(users.map((u) => u.externalId).sort()).toEqual([ada.id, bob.id]);

    const seq = await w.seq();
    const third = await w.sync({ now: () => new Date(T0 + 60_000) });
    expect(third.summary).toMatchObject({ created: 0, updated: 0, membershipsAdded: 0, membershipsRemoved: 0, deactivated: 0, failed: 0 });
    expect(await w.writesSince(seq)).toEqual([]);
  });
});
