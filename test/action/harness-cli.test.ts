/**
 * `npm run action:run`: the built bundle in the harness against a sandbox it starts itself,
 * and exit 2 on usage errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildActionBundle } from "../../src/deploy/bundle.js";
import { runTsx, type CliRun } from "../helpers/cli.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const demoConfig = join(root, "examples/demo-provisioning.yaml");
const dir = mkdtempSync(join(tmpdir(), "action-run-"));
const bundle = join(dir, "catalog-provisioning.js");
const SLOW = 120_000;

function actionRun(args: string[]): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PROVISIONING_CONFIG: demoConfig };
  delete env.CATALOG_SCIM_URL;
  delete env.CATALOG_API_KEY;
  return runTsx("scripts/action-run.ts", args, { cwd: root, env, killAfterMs: 90_000 });
}

beforeAll(async () => {
  writeFileSync(bundle, (await buildActionBundle({ configFile: demoConfig })).code);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run action:run", () => {
  it("runs the built bundle against a sandbox it starts, twice: the repeat login makes zero requests", async () => {
    const { code, stdout, stderr } = await actionRun(["--event", "examples/events/okta.json", "--bundle", bundle, "--times", "2", "--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { runs: { outcome: string; requests: { method: string; path: string; status: number }[]; calls: { name: string }[]; log: string }[] };
    expect(out.runs).toHaveLength(2);
    expect(out.runs[0]!.outcome).toBe("success");
    expect(out.runs[0]!.log).toMatch(/path=created .*adds=2/);
    expect(out.runs[0]!.requests.some((q) => q.path.startsWith("/Users?filter=externalId"))).toBe(true);
    expect(out.runs[0]!.calls.map((c) => c.name)).toContain("user.setAppMetadata");
    expect(out.runs[1]!.requests).toEqual([]);
    expect(out.runs[1]!.log).toMatch(/path=unchanged/);
  }, SLOW);

  it("prints the requests, the api calls, the claims and the log line", async () => {
    const { code, stdout } = await actionRun(["--event", "examples/events/generic-saml.json", "--bundle", bundle, "--sandbox", "--profile", "minimal"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sandbox \(minimal\) at http:\/\/127\.0\.0\.1:\d+\/scim\/v2/m);
    expect(stdout).toMatch(/^login 1\/1: success in \d+ ms, \d+ catalog requests$/m);
    expect(stdout).toMatch(/^\s+POST\s+\/Users\s+201\s+\d+ ms$/m);
    expect(stdout).toMatch(/api\.user\.setAppMetadata\("catalog_provisioning"/);
    expect(stdout).toMatch(/^\s+claims: none$/m);
    expect(stdout).toMatch(/^\s+log: catalog-provisioning path=created/m);
  }, SLOW);

  it("exits 2 on usage errors", async () => {
    const missing = await actionRun([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/"--event" is required/);
    const noFile = await actionRun(["--event", "examples/events/absent.json", "--bundle", bundle]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/cannot read event file/);
    const badTimes = await actionRun(["--event", "examples/events/okta.json", "--bundle", bundle, "--times", "x"]);
    expect(badTimes.code).toBe(2);
  }, SLOW);
});
