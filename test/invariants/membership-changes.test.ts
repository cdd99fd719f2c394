import { describe, expect, it } from "vitest";
import { directory, MANAGED, person, recordingFetch, UNMANAGED, type RecordedRequest, useWorld } from "./world.js";

interface PatchOp {
  op: string;
  path?: string;
  value?: unknown;
}

/** Every member change in the recorded requests (PATCH /Groups/… and PATCHes inside /Bulk). */
function groupPatches(recorded: RecordedRequest[]): { groupId: string; ops: PatchOp[] }[] {
  const out: { groupId: string; ops: PatchOp[] }[] = [];
  for (const r of recorded) {
    const path = new URL(r.url).pathname.replace(/^.*\/scim\/v2/, "");
    if (r.method === "PATCH" && path.startsWith("/Groups/")) {
      out.push({ groupId: decodeURIComponent(path.slice("/Groups/".length)), ops: ((r.body as { Operations?: PatchOp[] })?.Operations ?? []) });
    }
    if (r.method === "POST" && path === "/Bulk") {
      for (const o of (r.body as { Operations?: { method: string; path: string; data?: { Operations?: PatchOp[] } }[] }).Operations ?? []) {
        if (o.method === "PATCH" && o.path.startsWith("/Groups/")) out.push({ groupId: o.path.slice("/Groups/".length), ops: o.data?.Operations ?? [] });
      }
    }
  }
  return out;
}

function groupWrites(recorded: RecordedRequest[]): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const r of recorded) {
    const path = new URL(r.url).pathname.replace(/^.*\/scim\/v2/, "");
    if (r.method !== "GET" && path.startsWith("/Groups")) out.push({ method: r.method, path });
    if (r.method === "POST" && path === "/Bulk") {
      for (const o of (r.body as { Operations?: { method: string; path: string }[] }).Operations ?? []) {
        if (o.method !== "GET" && o.path.startsWith("/Groups")) out.push({ method: o.method, path: o.path });
      }
    }
  }
  return out;
}

function expectOnlyTargetedMemberChanges(recorded: RecordedRequest[], managedIds: Set<string>): void {
  const writes = groupWrites(recorded);
  // no POST/PUT/DELETE of a group: groups are the Catalog admin's
  expect(writes.filter((w) => w.method !== "PATCH")).toEqual([]);
  for (const { groupId, ops } of groupPatches(recorded)) {
    expect(managedIds.has(groupId), `PATCH of the unmanaged group "${groupId}"`).toBe(true);
    expect(ops.length).toBeGreaterThan(0);
    for (const op of ops) {
      const kind = op.op.toLowerCase();
      expect(kind, JSON.stringify(op)).not.toBe("replace");
      if (kind === "remove") {
        expect(op.path, JSON.stringify(op)).toMatch(/^members\[value eq "[^"]+"\]$/);
        expect(op.value).toBeUndefined();
      } else {
        expect(kind).toBe("add");
        expect(op.path).toBe("members");
        expect(Array.isArray(op.value)).toBe(true);
        const values = op.value as { value?: unknown }[];
        expect(values.length).toBeGreaterThan(0);
        for (const v of values) expect(typeof v.value === "string" && v.value.length > 0, JSON.stringify(op)).toBe(true);
      }
    }
  }
}

for (const profile of ["full", "minimal"] as const) {
  describe(`membership changes touch only managed Catalog groups, only through members[value eq] removes and adds of explicit values (${profile} profile)`, () => {
    const w = useWorld(profile, { reset: {} });

    const ada = person("ada");
    const bob = person("bob");
    const cyd = person("cyd");

    /** a member of every Catalog group added by someone else, and the user ids */
    async function seedOutsider(): Promise<string> {
      const outsider = await w.sandbox.seedUser({ userName: "outsider@acme.example", active: true });
      const groups = await w.groups();
      for (const name of [...MANAGED, ...UNMANAGED]) {
        const res = await fetch(`${w.sandbox.baseUrl}/Groups/${groups[name]!.id}`, {
          method: "PATCH",
          headers: { authorization: `Bearer ${w.sandbox.apiKey}`, "content-type": "application/scim+json" },
          body: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: outsider.id }] }] }),
        });
        expect(res.status).toBeLessThan(300);
      }
      return outsider.id;
    }

    async function addToUnmanaged(userId: string): Promise<void> {
      const groups = await w.groups();
      for (const name of UNMANAGED) {
        await fetch(`${w.sandbox.baseUrl}/Groups/${groups[name]!.id}`, {
          method: "PATCH",
          headers: { authorization: `Bearer ${w.sandbox.apiKey}`, "content-type": "application/scim+json" },
          body: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: userId }] }] }),
        });
      }
    }

    it("a login with a group lost", async () => {
      const outsider = await seedOutsider();
      const recorded: RecordedRequest[] = [];
      const f = recordingFetch(recorded);
      const first = await w.login(ada, ["analysts-finance", "analysts-marketing", "data-governance-leads"], { fetch: f });
      expect(first.summary.error).toBeUndefined();
      const adaId = (first.api.appMetadata["catalog_provisioning"] as { u: string }).u;
      await addToUnmanaged(adaId);

      const lost = await w.login(ada, ["analysts-finance"], { fetch: f });
      expect(lost.summary.error).toBeUndefined();
      expect(lost.summary.removes).toBe(2);

      const groups = await w.groups();
      const managedIds = new Set(MANAGED.map((n) => groups[n]!.id));
      expectOnlyTargetedMemberChanges(recorded, managedIds);
      expect(groupPatches(recorded).some((p) => p.ops.some((o) => o.op === "remove"))).toBe(true);
      // what others granted stays
      for (const name of [...MANAGED, ...UNMANAGED]) expect(groups[name]!.members, name).toContain(outsider);
      for (const name of UNMANAGED) expect(groups[name]!.members, name).toContain(adaId);
      expect(groups["finance-readers"]!.members).toContain(adaId);
      expect(groups["mkt-readers"]!.members).not.toContain(adaId);
      expect(groups["data-stewards"]!.members).not.toContain(adaId);
    });

    it("a sync with removals (a group left, a user gone)", async () => {
      const outsider = await seedOutsider();
      w.writeDirectory(
        directory([
          { p: ada, groups: ["analysts-finance", "analysts-marketing"] },
          { p: bob, groups: ["analysts-marketing", "data-governance-leads"] },
          { p: cyd, groups: ["analysts-finance"] },
        ]),
      );
      const recorded: RecordedRequest[] = [];
      const first = await w.sync({ fetch: recordingFetch(recorded) });
      expect(first.summary.failed).toBe(0);
      const users = await w.users();
      for (const u of users) if (u.userName !== "outsider@acme.example") await addToUnmanaged(u.id);

      // ada leaves marketing, bob leaves the directory
      w.writeDirectory(directory([{ p: ada, groups: ["analysts-finance"] }, { p: cyd, groups: ["analysts-finance"] }]));
      const second = await w.sync({ fetch: recordingFetch(recorded) });
      expect(second.summary.failed).toBe(0);
      expect(second.summary.membershipsRemoved).toBe(3);
      expect(second.summary.deactivated).toBe(1);

      const groups = await w.groups();
      const managedIds = new Set(MANAGED.map((n) => groups[n]!.id));
      expectOnlyTargetedMemberChanges(recorded, managedIds);
      expect(groupPatches(recorded).some((p) => p.ops.some((o) => o.op === "remove"))).toBe(true);
      for (const name of [...MANAGED, ...UNMANAGED]) expect(groups[name]!.members, name).toContain(outsider);
      for (const name of UNMANAGED) expect(groups[name]!.members.length, name).toBe(4);
      expect(second.targets[0]!.plan.report.unmanagedMembers).toEqual(expect.arrayContaining([expect.objectContaining({ scimId: outsider })]));
    });
  });
}
