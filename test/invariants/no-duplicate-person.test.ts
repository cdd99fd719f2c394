import { describe, expect, it } from "vitest";
import { byExternalId, directory, person, useWorld } from "./world.js";

for (const profile of ["full", "minimal"] as const) {
  describe(`the Action and the sync never create the same person twice, in either order, and never adopt across a conflicting externalId (${profile} profile)`, () => {
    const w = useWorld(profile, { reset: {} });

    const ada = person("ada");
    const bob = person("bob");

    it("login → sync: the sync adopts the user the login created", async () => {
      const login = await w.login(ada, ["analysts-finance"]);
      expect(login.summary.path).toBe("created");
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: bob, groups: ["analysts-marketing"] }]));

      const sync = await w.sync();
      expect(sync.summary.failed).toBe(0);
      expect(sync.summary.created).toBe(1); // bob only
      const users = await w.users();
      expect(users).toHaveLength(2);
      const ext = byExternalId(users);
      const createdByLogin = (login.api.appMetadata["catalog_provisioning"] as { u: string }).u;
      expect(ext.get(ada.id)?.id).toBe(createdByLogin);
      expect(sync.summary.adopted).toBe(1);
      expect(users.filter((u) => u.userName.toLowerCase() === ada.email).length).toBe(1);

      // and a second login of the same person still finds that one user
      const again = await w.login(ada, ["analysts-finance"]);
      expect(again.summary.error).toBeUndefined();
      expect(await w.users()).toHaveLength(2);
    });

    it("sync → login: the login finds the user the sync created", async () => {
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }]));
      const sync = await w.sync();
      expect(sync.summary.created).toBe(1);
      const seq = await w.seq();

      const login = await w.login(ada, ["analysts-finance"]);
      expect(["adopted", "returning"]).toContain(login.summary.path);
      expect(login.summary.error).toBeUndefined();
      const writes = await w.writesSince(seq);
      expect(writes.filter((e) => e.method === "POST")).toEqual([]);
      const users = await w.users();
      expect(users).toHaveLength(1);
      expect(users[0]!.externalId).toBe(ada.id);
    });

    it("a Catalog user with the same userName and another externalId stays untouched by both, and is reported", async () => {
      const seeded = await w.sandbox.seedUser({
        userName: ada.email,
        externalId: "someone-else",
        name: { givenName: "Other", familyName: "Person" },
        displayName: "Other Person",
        active: true,
      });
      const seq = await w.seq();

      const login = await w.login(ada, ["analysts-finance", "analysts-marketing"]);
      expect(login.summary.path).toBe("conflict");
      expect(login.summary.error).toBe("ACTION_CONFLICT");
      expect(login.api.denied).toEqual([]);

      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance", "analysts-marketing"] }]));
      const sync = await w.sync();
      expect(sync.summary.conflicts).toBe(1);
      expect(sync.targets[0]!.plan.report.conflicts).toEqual([expect.objectContaining({ externalId: ada.id, scimId: seeded.id })]);
      expect(sync.summary.created + sync.summary.adopted + sync.summary.updated).toBe(0);

      // nothing the Catalog accepted since the seed: a Bulk answer is 200 even when its POST was refused
      const accepted = (await w.writesSince(seq)).filter((e) => e.status < 300 && !(e.path === "/Bulk" && !/\b20[01]\b/.test(e.summary)));
      expect(accepted).toEqual([]);
      const users = await w.users();
      expect(users).toEqual([{ id: seeded.id, userName: ada.email, externalId: "someone-else", active: true }]);
      const groups = await w.groups();
      for (const g of Object.values(groups)) expect(g.members).not.toContain(seeded.id);
    });
  });
}
