import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createWorkspace, MAPPING, type Workspace } from "../sync/harness.js";
import { startOktaDouble, type OktaDouble } from "./doubles/okta.js";

// spawns the sandbox process
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

describe("sync end to end, okta source → sandbox", () => {
  let ws: Workspace;
  let okta: OktaDouble;
  beforeAll(async () => {
    const users = Array.from({ length: 5 }, (_, i) => ({
      id: `00uE2E${i}`,
      status: i === 4 ? "SUSPENDED" : "ACTIVE",
      profile: { login: `okta${i}@acme.example`, email: `okta${i}@acme.example`, firstName: `F${i}`, lastName: `L${i}` },
    }));
    okta = await startOktaDouble({
      users,
      groups: [
        { id: "00gFin", name: "analysts-finance", members: ["00uE2E0", "00uE2E1"] },
        { id: "00gAdm", name: "it-admins", members: ["00uE2E2"] },
        { id: "00gMkt", name: "analysts-marketing", members: ["00uE2E3"] },
        { id: "00gEng", name: "data-platform-engineers", members: [] },
        { id: "00gGov", name: "data-governance-leads", members: ["00uE2E0"] },
      ],
    });
    ws = await createWorkspace({ profile: "full" });
    ws.env.OKTA_API_TOKEN = okta.apiToken;
    writeFileSync(ws.configFile, `catalog:\n  url: ${ws.sandbox.baseUrl}\n${MAPPING}sync:\n  source:\n    type: okta\n    orgUrl: ${okta.url}\n    pageSize: 2\n    maxRetries: 1\n  concurrency: 4\n`);
  });
  afterAll(async () => {
    await ws?.close();
    await okta?.close();
  });

  it("creates the Okta users with the Okta id as externalId, then a second run writes nothing", async () => {
    const first = await ws.run();
    expect(first.summary.failed).toBe(0);
    expect(first.summary.created).toBe(4);
    const res = await fetch(`${ws.sandbox.baseUrl}/Users?count=100`, { headers: { authorization: `Bearer ${ws.sandbox.apiKey}` } });
    const list = ((await res.json()) as { Resources: { externalId: string; userName: string }[] }).Resources;
    expect(list.map((u) => u.externalId).sort()).toEqual(["00uE2E0", "00uE2E1", "00uE2E2", "00uE2E3"]);
    const second = await ws.run();
    expect(second.summary).toMatchObject({ created: 0, updated: 0, membershipsAdded: 0, membershipsRemoved: 0, deactivated: 0, failed: 0 });
  });

  it("a 503 while paging Okta stops the run with exit code 5 and writes nothing", async () => {
    okta.faults.push({ path: /^\/api\/v1\/users\?.*after=2/, times: 100, status: 503, body: { errorCode: "E0000009", errorSummary: "Internal Server Error" } });
    const audit = (await ws.sandbox.audit()).length;
    const err = await ws.run().then(
      () => undefined,
      (e: unknown) => e as { code?: string; exitCode?: number },
    );
    expect(err?.code).toBe("SYNC_SOURCE_INCOMPLETE");
    expect(err?.exitCode).toBe(5);
    expect((await ws.sandbox.audit()).length).toBe(audit);
    okta.faults.length = 0;
  });
});
