import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { CATALOG_GROUPS, createWorkspace, lastSeq, writesSince, type Workspace } from "./harness.js";

// these tests spawn processes (sandbox, CLI): allow for a loaded CI machine
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

let sandbox: SandboxHandle;
let ws: Workspace;

beforeAll(async () => {
  sandbox = await startSandbox({ profile: "minimal", groups: CATALOG_GROUPS });
});
afterAll(async () => {
  await ws?.close();
  await sandbox?.stop();
});
beforeEach(async () => {
  await ws?.close();
  await sandbox.reset(CATALOG_GROUPS);
  ws = await createWorkspace({ sandbox, mode: "snapshot" });
});

const auth = () => ({ authorization: `Bearer ${sandbox.apiKey}` });

describe("snapshot diff mode", () => {
  it("a missing state means diff live then record; the next run reads no user list from the Catalog", async () => {
    const t0 = new Date("2026-03-01T00:00:00Z");
    const first = await ws.run({ now: () => t0 });
    expect(first.summary.created).toBe(12);
    await sandbox.clearRequests();
    const second = await ws.run({ now: () => new Date(t0.getTime() + 3_600_000) });
    expect(second.summary).toMatchObject({ created: 0, membershipsAdded: 0, failed: 0 });
    const requests = await sandbox.requests();
    expect(requests.filter((r) => r.method === "GET" && r.path === "/Users")).toEqual([]);
    expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("a first run asks the Catalog's capabilities with its read; a dry run and a run with the snapshot filled do not", async () => {
    const t0 = new Date("2026-03-01T00:00:00Z");
    const spc = (rs: { method: string; path: string }[]) => rs.filter((r) => r.method === "GET" && r.path === "/ServiceProviderConfig").length;
    await sandbox.clearRequests();
    await ws.run({ now: () => t0, dryRun: true });
    const dry = await sandbox.requests();
    expect(spc(dry)).toBe(0);
    expect(dry.filter((r) => r.method !== "GET")).toEqual([]);

    await ws.close();
    ws = await createWorkspace({ sandbox, mode: "snapshot" });
    await sandbox.clearRequests();
    expect((await ws.run({ now: () => t0 })).summary.created).toBe(12);
    const first = await sandbox.requests();
    // asked with the Catalog's users and groups (the three go out together), not after the plan
    expect(first.slice(0, 3).map((r) => r.path).sort()).toEqual(["/Groups", "/ServiceProviderConfig", "/Users"]);
    expect(spc(first)).toBe(1);
    expect(first.findIndex((r) => r.path === "/Users" && r.method === "GET")).toBeGreaterThan(0);

    await sandbox.clearRequests();
    await ws.run({ now: () => new Date(t0.getTime() + 3_600_000) });
    expect(spc(await sandbox.requests())).toBe(0);
  });

  it("a first run's read does not wait for the capabilities: it goes out while /ServiceProviderConfig is still unanswered", async () => {
    await sandbox.setFaults([{ route: "^GET /ServiceProviderConfig", kind: "latency", latencyMs: 1500 }]);
    await sandbox.clearRequests();
    const running = ws.run({ now: () => new Date("2026-03-01T00:00:00Z") });
    try {
      const asked = (rs: { method: string; path: string }[], path: string) => rs.some((r) => r.method === "GET" && r.path === path);
      let seen: { method: string; path: string; status: number }[] = [];
      // the users and the managed groups, both asked for (the run has not settled yet: it waits for the capabilities)
      while (!(asked(seen, "/Users") && asked(seen, "/Groups"))) {
        await new Promise((r) => setTimeout(r, 10));
        seen = await sandbox.requests();
      }
      // still held by the injected latency when the users and groups are asked for
      expect(seen.find((r) => r.path === "/ServiceProviderConfig")?.status).toBe(0);
    } finally {
      const result = await running;
      await sandbox.setFaults([]);
      expect(result.summary.created).toBe(12);
    }
  });

  it("the periodic live audit repairs drift made by others", async () => {
    const t0 = new Date("2026-03-01T00:00:00Z");
    await ws.run({ now: () => t0 });
    // someone removes every member of "catalog-admins" by hand
    const groups = (await (await fetch(`${sandbox.baseUrl}/Groups?filter=${encodeURIComponent('displayName eq "catalog-admins"')}`, { headers: auth() })).json()) as {
      Resources: { id: string }[];
    };
    const id = groups.Resources[0]!.id;
    const group = (await (await fetch(`${sandbox.baseUrl}/Groups/${id}`, { headers: auth() })).json()) as { members?: { value: string }[] };
    const removed = (group.members ?? []).map((m) => m.value);
    expect(removed.length).toBeGreaterThan(0);
    const res = await fetch(`${sandbox.baseUrl}/Groups/${id}`, {
      method: "PATCH",
      headers: { ...auth(), "content-type": "application/scim+json" },
      body: JSON.stringify({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: removed.map((v) => ({ op: "remove", path: `members[value eq "${v}"]` })),
      }),
    });
    expect(res.ok).toBe(true);

    // within the audit period the snapshot does not see it
    const within = await ws.run({ now: () => new Date(t0.getTime() + 2 * 3_600_000) });
    expect(within.summary.membershipsAdded).toBe(0);
    // past it, the live audit finds the drift and the run repairs it
    const after = await ws.run({ now: () => new Date(t0.getTime() + 25 * 3_600_000) });
    expect(after.summary.membershipsAdded).toBe(removed.length);
    const seq = await lastSeq(sandbox);
    const again = await ws.run({ now: () => new Date(t0.getTime() + 26 * 3_600_000) });
    expect(again.summary.membershipsAdded).toBe(0);
    expect(await writesSince(sandbox, seq)).toEqual([]);
  });

  it("a failed operation is reported (exit 1) without stopping the others, and the next run retries it after a live audit", async () => {
    ws.writeConfig("scim:\n  retries: 0\n");
    const t0 = new Date("2026-03-01T00:00:00Z");
    await sandbox.setFaults([{ route: "^PATCH /Groups", kind: "5xx", status: 503, count: 1 }]);
    const first = await ws.run({ now: () => t0 });
    expect(first.summary.failed).toBe(1);
    expect(first.summary.created).toBe(12);
    expect(first.summary.membershipsAdded).toBeGreaterThan(0);
    await sandbox.setFaults([]);
    await sandbox.clearRequests();
    const second = await ws.run({ now: () => new Date(t0.getTime() + 60_000) });
    expect(second.summary.failed).toBe(0);
    expect(second.summary.membershipsAdded).toBeGreaterThan(0);
    expect(second.summary.created).toBe(0);
    // the failed run forced a live audit
    expect((await sandbox.requests()).some((r) => r.method === "GET" && r.path === "/Users")).toBe(true);
  });
});
