import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadProvisioningConfig } from "../../src/config/load.js";
import { runMappingImpact } from "../../src/verify/impact-run.js";
import { createWorkspace, type Workspace } from "../sync/harness.js";

// the CLI runs as a child process through tsx: slow to start on a busy machine
vi.setConfig({ testTimeout: 90_000 });

// analysts-marketing moves from "mkt-readers" to "finance-readers"; it-admins also get "mkt-readers"
const NEW_MAPPING = `catalog:
  url: http://127.0.0.1:1/scim/v2
groups:
  data-platform-engineers: catalog-admins
  it-admins: [catalog-admins, mkt-readers]
  analysts-finance: finance-readers
  analysts-marketing: finance-readers
  data-governance-leads: data-stewards
`;

describe("mapping:impact: a mapping change shown as gain and loss per Catalog group", () => {
  let ws: Workspace;
  let nextFile: string;
  beforeAll(async () => {
    ws = await createWorkspace({ profile: "full" });
    expect((await ws.run()).summary.failed).toBe(0);
    nextFile = join(ws.dir, "next.yaml");
    writeFileSync(nextFile, NEW_MAPPING);
  });
  afterAll(async () => {
    await ws?.close();
  });

  it("moving a user between groups is a loss in one and a gain in the other, and nothing is written", async () => {
    const before = (await ws.sandbox.audit()).length;
    const [r] = await runMappingImpact({
      config: loadProvisioningConfig({ file: ws.configFile, env: ws.env }),
      next: loadProvisioningConfig({ file: nextFile, env: {} }),
      env: ws.env,
    });
    const g = (name: string) => r!.groups.find((x) => x.group === name)!;
    // makeDirectory: analysts-marketing = user3, user8; it-admins = user1, user6, user11; user3 is already in analysts-finance
    expect(g("mkt-readers").lose).toEqual(["user3@example.com", "user8@example.com"]);
    expect(g("mkt-readers").gain).toEqual(["user11@example.com", "user1@example.com", "user6@example.com"]);
    expect(g("finance-readers").gain).toEqual(["user8@example.com"]);
    expect(g("finance-readers").lose).toEqual([]);
    expect(g("catalog-admins")).toMatchObject({ gain: [], lose: [], keep: [], status: "managed" });
    expect(r!.missingCatalogGroups).toEqual([]);
    expect((await ws.sandbox.audit()).length).toBe(before);
  });

  it("the CLI prints the gains and losses and exits 0; a group that does not exist exits 1", async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(process.execPath, ["--import", "tsx", "scripts/mapping-impact.ts", ...args], { env: { ...process.env, ...ws.env }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("exit", (code) => done({ code, stdout, stderr }));
      });
    const run = await cli(["--config", nextFile]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"mkt-readers"\n  + gain (3): user11@example.com, user1@example.com, user6@example.com\n  - lose (2): user3@example.com, user8@example.com');

    const typo = join(ws.dir, "typo.yaml");
    writeFileSync(typo, NEW_MAPPING.replace("data-stewards", "data-stewardz"));
    const bad = await cli(["--config", typo, "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).targets[0].missingCatalogGroups).toEqual(["data-stewardz"]);
  });
});
