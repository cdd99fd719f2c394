/**
 * The live read of the Catalog state against the sandbox (its own process, 127.0.0.1), both
 * profiles: members derived from the users' `groups` equal the members read group by group
 * (members the sync granted, pre-existing ones and members of unmanaged groups alike), and the
 * requests drop to one confirming group read; a profile without `groups` reads per group; an
 * empty Catalog reads no group.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliFetch, type CliFetch } from "../../src/scim/cli-fetch.js";
import { ScimClient } from "../../src/scim/client.js";
import { readCatalogState, resolveManagedGroups, toCatalogUser, type MemberReadMode } from "../../src/sync/catalog-read.js";
import { ConfigError } from "../../src/errors.js";
import type { CatalogState } from "../../src/sync/plan-types.js";
import { startSandbox } from "../helpers/sandbox.js";
import { useSandbox } from "../helpers/use-sandbox.js";

const MANY = Array.from({ length: 24 }, (_, i) => `managed-${String(i).padStart(2, "0")}`);
const GROUPS = [...MANY, "unmanaged-a", "unmanaged-b"];

/** the reference: every user listed, then every managed group read on its own */
async function perGroupState(client: ScimClient, names: readonly string[]): Promise<CatalogState> {
  const users: CatalogState["users"] = [];
  for await (const u of client.listUsers({ count: 1000 })) users.push(toCatalogUser(u));
  users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const groups: CatalogState["groups"] = [];
  for (const name of names) {
    const g = (await client.findGroupByDisplayName(name))!;
    groups.push({ id: g.id, displayName: g.displayName, members: [...new Set(await client.listGroupMembers(g.id))].sort() });
  }
  return { users, groups };
}

const groupMemberReads = (entries: { method: string; path: string }[]): number =>
  entries.filter((e) => e.method === "GET" && /^\/Groups\/[^/?]+/.test(e.path)).length;

for (const profile of ["full", "minimal"] as const) {
  describe(`readCatalogState against the sandbox (profile ${profile})`, () => {
    const sb = useSandbox({ profile, groups: GROUPS });
    let http: CliFetch;
    const client = (): ScimClient =>
      new ScimClient({ baseUrl: sb.baseUrl, apiKey: sb.apiKey, fetch: http.fetch, timeoutMs: 10_000, retries: 2, discovery: "serviceProviderConfig" });

    beforeAll(() => {
      http = createCliFetch({ maxConnections: 4 });
    });
    afterAll(async () => {
      await http?.close();
    });

    it("an empty Catalog: no group is read and every managed group is empty", async () => {
      const modes: MemberReadMode[] = [];
      await sb.clearRequests();
      const state = await readCatalogState(client(), MANY, undefined, { memberReads: (m) => modes.push(m) });
      expect(modes).toEqual(["no-users"]);
      expect(state.users).toEqual([]);
      expect(state.groups.map((g) => g.displayName)).toEqual(MANY);
      expect(state.groups.every((g) => g.members.length === 0)).toBe(true);
      expect(groupMemberReads(await sb.requests())).toBe(0);
      // the reference agrees
      expect(state).toEqual(await perGroupState(client(), MANY));
    });

    it("a few managed groups: one `or` look-up where the Catalog takes it, else one per name; a missing group is a configuration error", async () => {
      const few = [MANY[3]!, "UNMANAGED-A", MANY[0]!];
      const reference = [];
      for (const name of few) reference.push((await client().findGroupByDisplayName(name))!);
      await sb.clearRequests();
      const resolved = await resolveManagedGroups(client(), few);
      expect(resolved).toEqual(reference.map((g) => ({ id: g.id, displayName: g.displayName })));
      expect(resolved[1]!.displayName).toBe("unmanaged-a");
      const lookups = (await sb.requests()).filter((e) => e.method === "GET" && e.path === "/Groups");
      // the minimal profile refuses "or" (400 invalidFilter): then each name is looked up alone
      expect(lookups.map((e) => e.status)).toEqual(profile === "full" ? [200] : [400, 200, 200, 200]);

      await sb.clearRequests();
      const e = await resolveManagedGroups(client(), [MANY[1]!, "no-such-group", MANY[2]!], { file: "provisioning.yaml" }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toContain('"no-such-group" does not exist in the Catalog');
      // the name the "or" look-up answered nothing for is asked alone before it is called missing
      const asked = (await sb.requests()).filter((x) => x.method === "GET" && x.path === "/Groups").length;
      expect(asked).toBe(profile === "full" ? 2 : 4);
    });

    it("users with pre-existing, granted and unmanaged memberships: the same state as reading each group", async () => {
      const setup = client();
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) {
        const u = await setup.createUser({ userName: `user${i}@example.com`, externalId: `ext-${i}`, active: i % 7 !== 0 });
        ids.push(u.id);
      }
      const byName = new Map<string, string>();
      for (const name of GROUPS) byName.set(name, (await setup.findGroupByDisplayName(name))!.id);
      // managed groups: a spread of members, one group left empty; unmanaged groups share users with them
      for (const [k, name] of MANY.entries()) {
        if (k === 5) continue;
        const members = ids.filter((_, i) => (i + k) % (k + 2) === 0);
        await setup.patchGroupMembers(byName.get(name)!, { add: members });
      }
      await setup.patchGroupMembers(byName.get("unmanaged-a")!, { add: ids.slice(0, 30) });
      await setup.patchGroupMembers(byName.get("unmanaged-b")!, { add: ids.slice(50) });
      // a removal, so the state is not only what was added
      await setup.patchGroupMembers(byName.get(MANY[0]!)!, { remove: [ids[0]!] });

      const modes: MemberReadMode[] = [];
      await sb.clearRequests();
      const state = await readCatalogState(client(), MANY, undefined, { memberReads: (m) => modes.push(m) });
      const reads = groupMemberReads(await sb.requests());
      const reference = await perGroupState(client(), MANY);
      expect(state).toEqual(reference);
      expect(state.groups.reduce((n, g) => n + g.members.length, 0)).toBeGreaterThan(100);
      expect(state.groups.find((g) => g.displayName === MANY[5])!.members).toEqual([]);
      if (profile === "full") {
        // the full profile's users carry `groups`: one confirming read instead of one per group
        expect(modes).toEqual(["user-groups"]);
        expect(reads).toBe(1);
      } else {
        // no `groups` on users: "no groups" cannot be told from "not returned", so each group is read
        expect(modes).toEqual(["per-group"]);
        expect(reads).toBe(MANY.length);
      }
    });
  });
}

describe("the full profile's listing carries groups", () => {
  it("a user listed by the full profile has `groups` with type direct; the minimal profile has none", async () => {
    const full = await startSandbox({ profile: "full", groups: ["g"] });
    const minimal = await startSandbox({ profile: "minimal", groups: ["g"] });
    const http = createCliFetch();
    try {
      for (const [sb, expected] of [
        [full, [{ type: "direct", display: "g" }]],
        [minimal, undefined],
      ] as const) {
        const c = new ScimClient({ baseUrl: sb.baseUrl, apiKey: sb.apiKey, fetch: http.fetch, discovery: "serviceProviderConfig" });
        const u = await c.createUser({ userName: "ann@example.com" });
        await c.patchGroupMembers((await c.findGroupByDisplayName("g"))!.id, { add: [u.id] });
        const listed = [];
        for await (const x of c.listUsers()) listed.push(x);
        expect(listed[0]!.groups?.map((g) => ({ type: (g as { type?: string }).type, display: g.display }))).toEqual(expected);
      }
    } finally {
      await http.close();
      await full.stop();
      await minimal.stop();
    }
  });
});
