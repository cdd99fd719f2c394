import { describe, expect, it } from "vitest";
import { directory, person, useWorld } from "./world.js";

// analysts-finance and finance-leads both map to the Catalog group finance-readers
for (const profile of ["full", "minimal"] as const) {
  describe(`many-to-one: losing one of two IdP groups that map to the same Catalog group keeps the membership (${profile} profile)`, () => {
    const w = useWorld(profile, { reset: {} });

    const ada = person("ada");
    const bob = person("bob");

    it("in the Action", async () => {
      const first = await w.login(ada, ["analysts-finance", "finance-leads"]);
      expect(first.summary.error).toBeUndefined();
      const adaId = (first.api.appMetadata["catalog_provisioning"] as { u: string }).u;
      const seq = await w.seq();

      const lost = await w.login(ada, ["finance-leads"]);
      expect(lost.summary.error).toBeUndefined();
      expect(lost.summary.removes).toBe(0);
      expect((await w.writesSince(seq)).filter((e) => e.path.startsWith("/Groups"))).toEqual([]);
      expect((await w.groups())["finance-readers"]!.members).toEqual([adaId]);

      // losing the second one too removes it
      const gone = await w.login(ada, []);
      expect(gone.summary.removes).toBe(1);
      expect((await w.groups())["finance-readers"]!.members).toEqual([]);
    });

    it("in the sync", async () => {
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance", "finance-leads"] }, { p: bob, groups: ["finance-leads"] }]));
      await w.sync();
      const adaId = (await w.users()).find((u) => u.externalId === ada.id)!.id;
      const seq = await w.seq();

      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: bob, groups: ["finance-leads"] }]));
      const lost = await w.sync();
      expect(lost.summary).toMatchObject({ membershipsRemoved: 0, failed: 0 });
      expect(await w.writesSince(seq)).toEqual([]);
      expect((await w.groups())["finance-readers"]!.members).toContain(adaId);

      // ada in a mapped group of another Catalog group only: finance-readers goes
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-marketing"] }, { p: bob, groups: ["finance-leads"] }]));
      const moved = await w.sync();
      expect(moved.summary.membershipsRemoved).toBe(1);
      expect((await w.groups())["finance-readers"]!.members).not.toContain(adaId);
    });
  });
}
