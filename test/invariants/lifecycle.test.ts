import { describe, expect, it } from "vitest";
import { directory, person, useWorld } from "./world.js";

const ada = person("ada");
const bob = person("bob");
const T0 = Date.parse("2025-03-01T08:00:00Z");

describe.each([
  ["sync", "full"],
  ["login", "full"],
  ["sync", "minimal"],
  ["login", "minimal"],
] as const)("lifecycle: sync, then a login, then the sync again makes zero writes in the third step (lifecycle: %s, %s profile)", (lifecycle, profile) => {
  const w = useWorld(profile, { create: { lifecycle, sourceConnection: true } });

  it("sync → login → sync: the third step writes nothing", async () => {
    await w.reset({ lifecycle, sourceConnection: true });
    w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance", "finance-leads"] }, { p: bob, groups: ["analysts-marketing"] }]));
    const first = await w.sync({ now: () => new Date(T0) });
    expect(first.summary).toMatchObject({ created: 2, failed: 0 });

    const a = await w.login(ada, ["analysts-finance", "finance-leads"]);
    const b = await w.login(bob, ["analysts-marketing"]);
    expect(a.summary.error).toBeUndefined();
    expect(b.summary.error).toBeUndefined();

    const seq = await w.seq();
    const third = await w.sync({ now: () => new Date(T0 + 60_000) });
    expect(third.summary).toMatchObject({ created: 0, adopted: 0, updated: 0, reactivated: 0, membershipsAdded: 0, membershipsRemoved: 0, deactivated: 0, failed: 0 });
    expect(await w.writesSince(seq)).toEqual([]);
  });

  it("login → sync → login → sync: the last step writes nothing either", async () => {
    await w.reset({ lifecycle, sourceConnection: true });
    await w.login(ada, ["analysts-finance"]);
    w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }]));
    await w.sync({ now: () => new Date(T0) });
    await w.login(ada, ["analysts-finance"]);
    const seq = await w.seq();
    await w.sync({ now: () => new Date(T0 + 60_000) });
    expect(await w.writesSince(seq)).toEqual([]);
  });

  if (lifecycle === "sync") {
    it("the Action never reactivates a user the sync deactivated", async () => {
      await w.reset({ lifecycle, sourceConnection: true });
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: bob, groups: ["analysts-marketing"] }]));
      await w.sync({ now: () => new Date(T0) });
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }]));
      const gone = await w.sync({ now: () => new Date(T0 + 60_000) });
      expect(gone.summary.deactivated).toBe(1);
      const seq = await w.seq();

      const login = await w.login(bob, ["analysts-marketing", "data-governance-leads"]);
      expect(login.summary.path).toBe("inactive");
      expect(login.api.denied).toEqual([]);
      expect(await w.writesSince(seq)).toEqual([]);
      expect((await w.users()).find((u) => u.externalId === bob.id)).toMatchObject({ active: false });
    });
  } else {
    it("the sync never deprovisions the connection's users", async () => {
      await w.reset({ lifecycle, sourceConnection: true });
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: bob, groups: ["analysts-marketing"] }]));
      await w.sync({ now: () => new Date(T0) });
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }]));
      const gone = await w.sync({ now: () => new Date(T0 + 60_000) });
      expect(gone.summary).toMatchObject({ deactivated: 0, deleted: 0 });
      expect(gone.targets[0]!.plan.report.leftToLogin).toEqual([expect.objectContaining({ externalId: bob.id })]);
      expect((await w.users()).find((u) => u.externalId === bob.id)).toMatchObject({ active: true });
    });
  }
});
