import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createWorkspace, lastSeq, makeDirectory, writesSince, type Workspace } from "./harness.js";

// these tests spawn processes (sandbox, CLI): allow for a loaded CI machine
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

describe("sync end to end, file source → sandbox (live)", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace({ profile: "full" });
  });
  afterAll(async () => {
    await ws?.close();
  });

  it("first run creates users and memberships, a second run writes nothing", async () => {
    const first = await ws.run();
    expect(first.summary.failed).toBe(0);
    expect(first.summary.created).toBe(12);
    expect(first.summary.membershipsAdded).toBeGreaterThan(12);
    const seq = await lastSeq(ws.sandbox);
    expect(seq).toBeGreaterThan(0);
    const second = await ws.run();
    expect(second.summary).toMatchObject({ created: 0, updated: 0, membershipsAdded: 0, membershipsRemoved: 0, failed: 0 });
    expect(await writesSince(ws.sandbox, seq)).toEqual([]);
  });

  it("a rename is a PATCH, not a delete and re-create", async () => {
    const d = makeDirectory();
    d.users[0]!.email = "renamed0@example.com";
    ws.writeDirectory(d);
    const seq = await lastSeq(ws.sandbox);
    const r = await ws.run();
    expect(r.summary).toMatchObject({ created: 0, updated: 1, deleted: 0, failed: 0 });
    const writes = await writesSince(ws.sandbox, seq);
    expect(writes.map((w) => `${w.method} ${w.path.split("/")[1]}`)).toEqual(["PATCH Users"]);
    ws.writeDirectory(makeDirectory());
    await ws.run();
  });
});
