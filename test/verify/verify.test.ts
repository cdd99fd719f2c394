import { afterAll, beforeAll, vi, describe, expect, it } from "vitest";
import { loadProvisioningConfig } from "../../src/config/load.js";
import { ScimClient } from "../../src/scim/client.js";
import { runVerify } from "../../src/verify/run.js";
import { runTsx, type CliRun } from "../helpers/cli.js";
import { createWorkspace, makeDirectory, type Workspace } from "../sync/harness.js";

// the CLIs run as child processes through tsx: slow to start on a busy machine
vi.setConfig({ testTimeout: 90_000 });

function cli(ws: Workspace, args: string[]): Promise<CliRun> {
  return runTsx("scripts/verify.ts", args, { env: { ...process.env, ...ws.env, NO_COLOR: "1" } });
}

describe("verify against the sandbox: each finding caused on purpose, zero writes", () => {
  let ws: Workspace;
  let scim: ScimClient;
  const verify = () => runVerify({ config: loadProvisioningConfig({ file: ws.configFile, env: ws.env }), env: ws.env });
  const groupId = async (name: string) => (await scim.findGroupByDisplayName(name))!.id;
  const userId = async (email: string) => (await scim.findUserByUserName(email))!.id;

  beforeAll(async () => {
    ws = await createWorkspace({ profile: "full" });
    scim = new ScimClient({ baseUrl: ws.sandbox.baseUrl, apiKey: ws.sandbox.apiKey });
    const r = await ws.run();
    expect(r.summary.failed).toBe(0);
  });
  afterAll(async () => {
    await ws?.close();
  });

  it("a freshly synced Catalog is clean: exit 0, and verify writes nothing", async () => {
    const before = (await ws.sandbox.audit()).length;
    const r = await verify();
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.targets[0]!.reference).toBe("source");
    const run = await cli(ws, ["--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, findings: [] });
    expect((await ws.sandbox.audit()).length).toBe(before);
  });

  it("reports a missing user, a missing and an extra member, an externalId conflict and an owned user in no managed group", async () => {
    const d = makeDirectory();
    d.users.push({ id: "id-new", email: "newcomer@example.com", givenName: "New", familyName: "Comer", displayName: "New Comer", active: true });
    d.groups[2]!.members.push("id-new");
    ws.writeDirectory(d);

    // someone adds a hand-made user to a managed group
    const intruder = await ws.sandbox.seedUser({ userName: "intruder@example.com", active: true });
    const finance = await groupId("finance-readers");
    await scim.patchGroupMembers(finance, { add: [intruder.id] });
    // someone removes a provisioned member: user0 is in data-platform-engineers and analysts-finance
    const user0 = await userId("user0@example.com");
    const admins = await groupId("catalog-admins");
    await scim.patchGroupMembers(admins, { remove: [user0] });
    // someone rewrites a provisioned user's externalId
    const user1 = await userId("user1@example.com");
    await scim.patchUser(user1, [{ op: "replace", path: "externalId", value: "someone-else" }]);
    // user4 is only in data-governance-leads → data-stewards: take it out of every managed group
    const user4 = await userId("user4@example.com");
    await scim.patchGroupMembers(await groupId("data-stewards"), { remove: [user4] });

    const before = (await ws.sandbox.audit()).length;
    const r = await verify();
    const kinds = (k: string) => r.findings.filter((f) => f.kind === k);
    expect(r.ok).toBe(false);
    expect(kinds("missing-user").map((f) => f.userName)).toContain("newcomer@example.com");
    expect(kinds("extra-member")).toContainEqual(expect.objectContaining({ group: "finance-readers", userName: "intruder@example.com" }));
    expect(kinds("missing-member")).toContainEqual(expect.objectContaining({ group: "catalog-admins", userName: "user0@example.com" }));
    expect(kinds("externalId-conflict")).toContainEqual(expect.objectContaining({ userName: "user1@example.com", externalId: "someone-else" }));
    expect(kinds("owned-without-group")).toContainEqual(expect.objectContaining({ userName: "user4@example.com" }));

    const run = await cli(ws, []);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("owned-without-group");
    expect(run.stdout).not.toContain(ws.sandbox.apiKey);
    expect((await ws.sandbox.audit()).length).toBe(before);
  });

  it("a configuration error exits 2 with the file and line", async () => {
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const bad = join(ws.dir, "bad.yaml");
    writeFileSync(bad, "catalog:\n  url: https://catalog.example.com/scim/v2\ngroups:\n  a: b\nunknownKey: 1\n");
    const run = await cli(ws, ["--config", bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${bad}:5`);
  });
});
