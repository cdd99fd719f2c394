/**
 * How `readCatalogState` reads group members, against a scripted client: when the users'
 * `groups` (RFC 7643 §4.1.2) may stand for the group reads, and when they may not.
 */
import { describe, expect, it } from "vitest";
import { readCatalogState, resolveManagedGroups, type MemberReadMode } from "../../src/sync/catalog-read.js";
import { ConfigError, ProvisioningError } from "../../src/errors.js";
import type { ScimClientApi, ScimGroup, ScimUser } from "../../src/scim/types.js";

interface Fake {
  client: ScimClientApi;
  memberReads: string[];
}

/** groups g1, g2 (managed) and g3; `members` is what a group read returns, `users` what the listing returns */
function fake(users: ScimUser[], members: Record<string, string[]>): Fake {
  const memberReads: string[] = [];
  const groups: ScimGroup[] = ["g1", "g2", "g3"].map((id) => ({ id, displayName: `name-${id}` }));
  const client = {
    async findGroupByDisplayName(name: string) {
      return groups.find((g) => g.displayName === name);
    },
    async *listGroups() {
      yield* groups;
    },
    async *listUsers() {
      yield* users;
    },
    async listGroupMembers(id: string) {
      memberReads.push(id);
      return members[id] ?? [];
    },
  } as unknown as ScimClientApi;
  return { client, memberReads };
}

const user = (id: string, groups?: unknown[]): ScimUser => ({ id, userName: `${id}@example.com`, ...(groups ? { groups: groups as ScimUser["groups"] } : {}) });

async function read(f: Fake): Promise<{ modes: MemberReadMode[]; members: Record<string, string[]> }> {
  const modes: MemberReadMode[] = [];
  const state = await readCatalogState(f.client, ["name-g1", "name-g2"], undefined, { memberReads: (m) => modes.push(m) });
  return { modes, members: Object.fromEntries(state.groups.map((g) => [g.id, g.members])) };
}

describe("members of the managed groups", () => {
  it("derived from the users' groups: direct or untyped entries count, indirect ones do not; one group read confirms", async () => {
    const f = fake(
      [
        user("u1", [{ value: "g1", type: "direct" }, { value: "g3" }]),
        user("u2", [{ value: "g1" }, { value: "g2", type: "indirect" }]),
        user("u3", [{ value: "g2", type: "Direct" }]),
        user("u4"),
      ],
      { g1: ["u1", "u2"], g2: ["u3"] },
    );
    const r = await read(f);
    expect(r.modes).toEqual(["user-groups"]);
    expect(r.members).toEqual({ g1: ["u1", "u2"], g2: ["u3"] });
    expect(f.memberReads).toEqual(["g1"]);
  });

  it("no user shows a group: every group is read (no groups cannot be told from not returned)", async () => {
    const f = fake([user("u1", []), user("u2")], { g1: ["u1"], g2: ["u2"] });
    const r = await read(f);
    expect(r.modes).toEqual(["per-group"]);
    expect(r.members).toEqual({ g1: ["u1"], g2: ["u2"] });
    expect(f.memberReads).toEqual(["g1", "g2"]);
  });

  it("the confirming read differs (a member that is no listed user, a group not shown on a user): every group is read", async () => {
    const nested = fake([user("u1", [{ value: "g1" }]), user("u2", [{ value: "g2" }])], { g1: ["u1", "nested-group"], g2: ["u2"] });
    const r1 = await read(nested);
    expect(r1.modes).toEqual(["per-group"]);
    expect(r1.members).toEqual({ g1: ["nested-group", "u1"], g2: ["u2"] });
    expect(nested.memberReads).toEqual(["g1", "g2"]);

    // u2's `groups` misses g2, the group confirmed (the one with the most derived members)
    const stale = fake([user("u1", [{ value: "g1" }, { value: "g2" }]), user("u2", [{ value: "g3" }]), user("u3", [{ value: "g2" }])], {
      g1: ["u1"],
      g2: ["u1", "u2", "u3"],
    });
    const r2 = await read(stale);
    expect(r2.modes).toEqual(["per-group"]);
    expect(r2.members).toEqual({ g1: ["u1"], g2: ["u1", "u2", "u3"] });
    expect(stale.memberReads).toEqual(["g2", "g1"]);
  });

  it("the confirming read is the group with the most derived members", async () => {
    const f = fake([user("u1", [{ value: "g2" }]), user("u2", [{ value: "g2" }, { value: "g1" }])], { g1: ["u2"], g2: ["u1", "u2"] });
    await read(f);
    expect(f.memberReads).toEqual(["g2"]);
  });

  it("no Catalog user: no group is read and every managed group is empty", async () => {
    const f = fake([], { g1: ["ghost"] });
    const r = await read(f);
    expect(r.modes).toEqual(["no-users"]);
    expect(r.members).toEqual({ g1: [], g2: [] });
    expect(f.memberReads).toEqual([]);
  });

  it("malformed group entries are ignored, not trusted", async () => {
    const f = fake([user("u1", [null, 7, { display: "no value" }, { value: 3 }])], { g1: ["u1"], g2: [] });
    const r = await read(f);
    expect(r.modes).toEqual(["per-group"]);
    expect(r.members).toEqual({ g1: ["u1"], g2: [] });
  });
});

describe("a paced read (started while the source is being read)", () => {
  it("asks for the first page of users only, and for the others once the pace settles; the state is the same", async () => {
    const all = Array.from({ length: 2_500 }, (_, i) => user(`u${String(i).padStart(4, "0")}`));
    const pagesAsked: number[] = [];
    const f = fake([], {});
    // pages of 1,000, asked for lazily, as the client's listing does
    (f.client as unknown as { listUsers: () => AsyncIterable<ScimUser> }).listUsers = async function* () {
      for (let start = 0; start < all.length; start += 1_000) {
        pagesAsked.push(start / 1_000 + 1);
        yield* all.slice(start, start + 1_000);
      }
    };
    let release!: () => void;
    const after = new Promise<void>((r) => (release = r));
    const reading = readCatalogState(f.client, ["name-g1", "name-g2"], undefined, undefined, { after });
    for (let turn = 0; turn < 50; turn++) await new Promise<void>((r) => setImmediate(r));
    expect(pagesAsked).toEqual([1]);
    release();
    const state = await reading;
    expect(pagesAsked).toEqual([1, 2, 3]);
    expect(state.users.map((u) => u.id)).toEqual(all.map((u) => u.id));
    // a Catalog of one page is read whole ahead
    const small = fake(all.slice(0, 999), {});
    const never = new Promise<void>(() => undefined);
    expect((await readCatalogState(small.client, ["name-g1"], undefined, undefined, { after: never })).users).toHaveLength(999);
  });
});

describe("resolving a few managed groups", () => {
  /** a client whose `or` look-up answers `answer` (undefined: refused); single look-ups read `catalog` */
  function resolver(catalog: ScimGroup[], answer: (names: readonly string[]) => ScimGroup[] | undefined) {
    const alone: string[] = [];
    const client = {
      async findGroupsByDisplayNames(names: readonly string[]) {
        return answer(names);
      },
      async findGroupByDisplayName(name: string) {
        alone.push(name);
        const exact = catalog.filter((g) => g.displayName === name);
        const found = exact.length > 0 ? exact : catalog.filter((g) => g.displayName.toLowerCase() === name.toLowerCase());
        if (found.length > 1) throw new ProvisioningError("SCIM_AMBIGUOUS_GROUP", `${found.length} catalog groups are named "${name}"`);
        return found[0];
      },
    } as unknown as ScimClientApi;
    return { client, alone };
  }
  const catalog: ScimGroup[] = [
    { id: "g1", displayName: "Finance" },
    { id: "g2", displayName: "finance" },
    { id: "g3", displayName: "ops" },
    { id: "g4", displayName: "Sales" },
    { id: "g5", displayName: "sales" },
  ];
  const byOr = (names: readonly string[]) => catalog.filter((g) => names.some((n) => n.toLowerCase() === g.displayName.toLowerCase()));

  it("the exact name wins over a case variant; names the answer lacks are asked alone; errors in the order of the names", async () => {
    const all = resolver(catalog, byOr);
    expect(await resolveManagedGroups(all.client, ["finance", "OPS"])).toEqual([
      { id: "g2", displayName: "finance" },
      { id: "g3", displayName: "ops" },
    ]);
    expect(all.alone).toEqual([]);

    // a server that applied the filter in part: the name left out is asked alone and found
    const partial = resolver(catalog, (names) => byOr(names.slice(0, 1)));
    expect((await resolveManagedGroups(partial.client, ["ops", "Finance"])).map((g) => g.id)).toEqual(["g3", "g1"]);
    expect(partial.alone).toEqual(["Finance"]);

    // refused: every name alone
    const refused = resolver(catalog, () => undefined);
    expect((await resolveManagedGroups(refused.client, ["ops", "Sales"])).map((g) => g.id)).toEqual(["g3", "g4"]);
    expect(refused.alone).toEqual(["ops", "Sales"]);

    // "SALES" matches two case variants and neither exactly: ambiguous; a missing name before it is reported first
    const e1 = await resolveManagedGroups(resolver(catalog, byOr).client, ["ops", "SALES"]).catch((x: unknown) => x);
    expect((e1 as ProvisioningError).code).toBe("SCIM_AMBIGUOUS_GROUP");
    const e2 = await resolveManagedGroups(resolver(catalog, byOr).client, ["nope", "SALES"]).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(ConfigError);
    expect((e2 as ConfigError).message).toContain('"nope" does not exist');
  });
});
