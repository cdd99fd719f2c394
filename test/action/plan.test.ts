import { describe, expect, it } from "vitest";
import { desiredHash, planLogin, type AppliedState, type JitStep, type LoginFacts, type PlanInput } from "../../src/action/plan.js";
import type { ScimUser } from "../../src/scim/types.js";

const NOW = 1_800_000_000_000;
const GROUP_IDS = { Analysts: "g-an", Stewards: "g-st", Admins: "g-ad" };
const MANAGED = ["Admins", "Analysts", "Stewards"];

function facts(over: Partial<LoginFacts> = {}): LoginFacts {
  return {
    anchor: "ext-ada",
    attributes: { userName: "ada@acme.com", email: "ada@acme.com", givenName: "Ada", familyName: "Lovelace", displayName: "Ada Lovelace" },
    desiredGroups: ["Analysts"],
    groupsUnknown: false,
    ...over,
  };
}

function catalogUser(over: Partial<ScimUser> = {}): ScimUser {
  return {
    id: "u-1",
    userName: "ada@acme.com",
    externalId: "ext-ada",
    name: { givenName: "Ada", familyName: "Lovelace" },
    displayName: "Ada Lovelace",
    emails: [{ value: "ada@acme.com", type: "work", primary: true }],
    active: true,
    ...over,
  };
}

function state(over: Partial<AppliedState> = {}): AppliedState {
  return { v: 1, t: "acme", u: "u-1", g: ["g-an"], h: "stale", x: NOW - 1, ...over };
}

function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    target: "acme",
    facts: facts(),
    groupIds: { ...GROUP_IDS },
    managedGroups: MANAGED,
    capabilities: { bulk: false },
    lifecycle: "sync",
    domains: [],
    now: NOW,
    ttlMs: 3_600_000,
    ttlJitter: 0.2,
    jitterSample: 0,
    lookups: {},
    ...over,
  };
}

function apply(step: JitStep) {
  if (step.kind !== "apply") throw new Error(`expected apply, got ${JSON.stringify(step)}`);
  return step;
}

describe("JIT planner: new user", () => {
  it("looks the user up by externalId and resolves missing group ids in the same round", () => {
    const step = planLogin(input({ groupIds: { Admins: "g-ad" } }));
    expect(step).toEqual({
      kind: "read",
      reads: [
        { kind: "groupId", name: "Analysts" },
        { kind: "userByExternalId", value: "ext-ada" },
      ],
    });
  });

  it("creates with userName = email, externalId, name, displayName, work email and active", () => {
    const step = planLogin(input({ lookups: { byExternalId: null } }));
    expect(step).toEqual({
      kind: "create",
      bulkGroups: [],
      user: {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: "ada@acme.com",
        externalId: "ext-ada",
        active: true,
        name: { givenName: "Ada", familyName: "Lovelace" },
        displayName: "Ada Lovelace",
        emails: [{ value: "ada@acme.com", type: "work", primary: true }],
      },
    });
  });

  it("puts the memberships into the create when Bulk is advertised", () => {
    const step = planLogin(input({ capabilities: { bulk: true }, lookups: { byExternalId: null } }));
    expect(step.kind === "create" && step.bulkGroups).toEqual(["g-an"]);
  });

  it("adds the mapped groups after the create and records them as granted", () => {
    const step = apply(planLogin(input({ lookups: { byExternalId: null, created: { user: catalogUser(), groupsAdded: [] } } })));
    expect(step.path).toBe("created");
    expect(step.userOps).toEqual([]);
    expect(step.adds).toEqual(["g-an"]);
    expect(step.removes).toEqual([]);
    expect(step.record).toEqual({ v: 1, t: "acme", u: "u-1", g: ["g-an"], h: desiredHash("acme", facts(), "sync"), x: NOW + 3_600_000 });
  });

  it("does not create a user none of whose groups is mapped", () => {
    expect(planLogin(input({ facts: facts({ desiredGroups: [] }), lookups: { byExternalId: null } }))).toEqual({
      kind: "done",
      path: "not-created",
      record: undefined,
    });
  });

  it("applies TTL jitter from the sample passed in", () => {
    const step = apply(planLogin(input({ jitterSample: -1, lookups: { byExternalId: null, created: { user: catalogUser(), groupsAdded: [] } } })));
    expect(step.record.x).toBe(NOW + 3_600_000 * 0.8);
  });
});

describe("JIT planner: returning user", () => {
  it("makes no request for an unchanged repeat login within the TTL", () => {
    const h = desiredHash("acme", facts(), "sync");
    expect(planLogin(input({ state: state({ h, x: NOW + 1 }) }))).toEqual({ kind: "skip", path: "unchanged" });
  });

  it("reads the user by the stored Catalog id once the TTL expired", () => {
    const h = desiredHash("acme", facts(), "sync");
    expect(planLogin(input({ state: state({ h, x: NOW }) }))).toEqual({ kind: "read", reads: [{ kind: "userById", id: "u-1" }] });
  });

  it("writes nothing and refreshes the record when nothing differs", () => {
    const step = planLogin(input({ state: state(), lookups: { byId: catalogUser() } }));
    expect(step.kind).toBe("done");
    expect(step.kind === "done" && step.record?.g).toEqual(["g-an"]);
  });

  it("falls back to externalId when the stored id is gone", () => {
    expect(planLogin(input({ state: state(), lookups: { byId: null } }))).toEqual({
      kind: "read",
      reads: [{ kind: "userByExternalId", value: "ext-ada" }],
    });
  });
});

describe("JIT planner: adoption and conflicts", () => {
  it("adopts a user with an empty externalId found after a 409 and sets the anchor", () => {
    const existing = catalogUser({ id: "u-9", externalId: undefined, groups: [] });
    const step = apply(
      planLogin(input({ lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: existing } })),
    );
    expect(step.path).toBe("adopted");
    expect(step.userId).toBe("u-9");
    expect(step.userOps).toEqual([{ op: "replace", path: "externalId", value: "ext-ada" }]);
    expect(step.adds).toEqual(["g-an"]);
  });

  it("looks again by externalId and userName after a 409", () => {
    expect(planLogin(input({ lookups: { byExternalId: null, created: "conflict" } }))).toEqual({ kind: "read", reads: [{ kind: "retry" }] });
  });

  it("refuses a conflicting externalId and overwrites nothing", () => {
    const other = catalogUser({ id: "u-7", externalId: "ext-someone-else" });
    expect(
      planLogin(input({ lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: other } })),
    ).toEqual({ kind: "conflict", reason: "externalId-differs", userId: "u-7" });
  });

  it("refuses a recycled email: a new person with a different externalId never takes over the old account", () => {
    const previousOwner = catalogUser({ id: "u-old", externalId: "ext-former-employee", userName: "sales@acme.com" });
    const newcomer = facts({ anchor: "ext-newcomer", attributes: { userName: "sales@acme.com", email: "sales@acme.com" } });
    const step = planLogin(
      input({ facts: newcomer, lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: previousOwner } }),
    );
    expect(step).toEqual({ kind: "conflict", reason: "externalId-differs", userId: "u-old" });
  });

  it("refuses adoption outside the allowed domains", () => {
    const existing = catalogUser({ externalId: undefined });
    const step = planLogin(
      input({ domains: ["corp.example"], lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: existing } }),
    );
    expect(step.kind === "conflict" && step.reason).toBe("domain-not-allowed");
  });

  it("reports a 409 for a user that stays invisible as an error, not a loop", () => {
    const step = planLogin(input({ lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: null } }));
    expect(step.kind === "fail" && step.code).toBe("SCIM_USER_INVISIBLE");
  });

  it("asks for the memberships of a user found without stored state when the lookup did not carry them", () => {
    expect(planLogin(input({ lookups: { byExternalId: catalogUser() } }))).toEqual({ kind: "read", reads: [{ kind: "userGroups", userId: "u-1" }] });
  });

  it("learns memberships from the lookup response itself (User groups) with no extra read", () => {
    const found = catalogUser({ groups: [{ value: "g-st" }, { value: "g-other" }] });
    const step = apply(planLogin(input({ lookups: { byExternalId: found } })));
    expect(step.adds).toEqual(["g-an"]);
    expect(step.removes).toEqual(["g-st"]);
    expect(step.record.g).toEqual(["g-an"]);
  });

  it("uses a bounded number of targeted removes when memberships cannot be learned", () => {
    const step = apply(planLogin(input({ lookups: { byExternalId: catalogUser(), userGroups: null } })));
    expect(step.removes.sort()).toEqual(["g-ad", "g-st"]);
  });

  it("never removes memberships of an adopted user that someone else added", () => {
    const existing = catalogUser({ id: "u-9", externalId: undefined, groups: [{ value: "g-st" }] });
    const step = apply(planLogin(input({ lookups: { byExternalId: null, created: "conflict", retryByExternalId: null, retryByUserName: existing } })));
    expect(step.removes).toEqual([]);
  });
});

describe("JIT planner: attributes", () => {
  it("patches userName and the work email on an email change, never a second user", () => {
    const f = facts({ attributes: { userName: "ada.king@acme.com", email: "ada.king@acme.com", givenName: "Ada", familyName: "Lovelace", displayName: "Ada Lovelace" } });
    const step = apply(planLogin(input({ facts: f, state: state(), lookups: { byId: catalogUser() } })));
    expect(step.userOps).toEqual([
      { op: "replace", path: "userName", value: "ada.king@acme.com" },
      { op: "replace", path: 'emails[type eq "work"].value', value: "ada.king@acme.com" },
    ]);
    expect(step.adds).toEqual([]);
  });

  it("patches only the attributes that differ", () => {
    const f = facts({ attributes: { userName: "ADA@acme.com", email: "ada@acme.com", givenName: "Ada", familyName: "King", displayName: "Ada King" } });
    const step = apply(planLogin(input({ facts: f, state: state(), lookups: { byId: catalogUser() } })));
    expect(step.userOps).toEqual([
      { op: "replace", path: "name.familyName", value: "King" },
      { op: "replace", path: "displayName", value: "Ada King" },
    ]);
  });
});

describe("JIT planner: memberships", () => {
  const cases: { name: string; desired: string[]; granted: string[]; unknown?: boolean; adds: string[]; removes: string[]; g: string[] }[] = [
    { name: "a group gained", desired: ["Analysts", "Stewards"], granted: ["g-an"], adds: ["g-st"], removes: [], g: ["g-an", "g-st"] },
    { name: "a group lost", desired: ["Analysts"], granted: ["g-an", "g-st"], adds: [], removes: ["g-st"], g: ["g-an"] },
    { name: "groups unknown: add, never remove", desired: ["Stewards"], granted: ["g-an"], unknown: true, adds: ["g-st"], removes: [], g: ["g-an", "g-st"] },
    { name: "no mapped group left: lose what we granted", desired: [], granted: ["g-an", "g-st"], adds: [], removes: ["g-an", "g-st"], g: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const step = apply(
        planLogin(input({ facts: facts({ desiredGroups: c.desired, groupsUnknown: c.unknown ?? false }), state: state({ g: c.granted }), lookups: { byId: catalogUser() } })),
      );
      expect(step.adds).toEqual(c.adds);
      expect(step.removes).toEqual(c.removes);
      expect(step.record.g).toEqual(c.g);
      expect(step.userOps).toEqual([]);
    });
  }

  it("many-to-one: losing one of two IdP groups that map to the same Catalog group keeps the membership", () => {
    // the mapping resolver yields the Catalog group once for either IdP group
    const step = planLogin(input({ facts: facts({ desiredGroups: ["Analysts"] }), state: state({ g: ["g-an"] }), lookups: { byId: catalogUser() } }));
    expect(step.kind).toBe("done");
  });

  it("leaves unmanaged groups untouched", () => {
    const user = catalogUser({ groups: [{ value: "g-an" }, { value: "g-unmanaged" }] });
    const step = planLogin(input({ facts: facts({ desiredGroups: [] }), state: state({ g: ["g-an"] }), lookups: { byId: user } }));
    const s = apply(step);
    expect(s.removes).toEqual(["g-an"]);
    expect(s.adds).toEqual([]);
  });

  it("resolves every managed group when a granted id is not known, to know it is managed", () => {
    const step = planLogin(input({ groupIds: { Analysts: "g-an" }, state: state({ g: ["g-st"] }) }));
    expect(step.kind === "read" && step.reads.map((r) => r.kind === "groupId" && r.name).filter(Boolean)).toEqual(["Admins", "Stewards"]);
  });

  it("keeps a user with no mapped group but never deactivates them", () => {
    const s = apply(planLogin(input({ facts: facts({ desiredGroups: [] }), state: state(), lookups: { byId: catalogUser() } })));
    expect(s.userOps.some((o) => o.path === "active")).toBe(false);
  });
});

describe("JIT planner: an inactive user under each lifecycle", () => {
  it("lifecycle sync: never reactivates and writes nothing", () => {
    expect(planLogin(input({ lifecycle: "sync", state: state(), lookups: { byId: catalogUser({ active: false }) } }))).toEqual({
      kind: "done",
      path: "inactive",
      record: undefined,
    });
  });

  it("lifecycle login: reactivates", () => {
    const s = apply(planLogin(input({ lifecycle: "login", state: state(), lookups: { byId: catalogUser({ active: false }) } })));
    expect(s.userOps).toEqual([{ op: "replace", path: "active", value: true }]);
  });
});
