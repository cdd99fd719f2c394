/**
 * `npm run doctor` against the sandbox, with each failure caused on purpose; exit codes from
 * the CLI as a child process, the rest in-process.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, vi, beforeEach, describe, expect, it } from "vitest";
import { grantedScopes } from "../../src/doctor/auth0.js";
import { runDoctor, type CheckResult } from "../../src/doctor/run.js";
import { runTsx, type CliRun } from "../helpers/cli.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { ACTION_SECRETS_AND_TRIGGER_YAML } from "../deploy/fixture.js";
import { MgmtDouble } from "../deploy/mgmt-double.js";

// the CLIs run as child processes through tsx: slow to start on a busy machine
vi.setConfig({ testTimeout: 90_000 });

const root = resolve(import.meta.dirname, "../..");
const GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];
const MAPPING = `groups:
  data-platform-engineers: catalog-admins
  analysts-finance: finance-readers
  analysts-marketing: mkt-readers
  data-governance-leads: data-stewards
`;
const TENANT = `actions:
  - name: catalog-provisioning
    code: ./code.js
    runtime: node22
${ACTION_SECRETS_AND_TRIGGER_YAML}`;

let dir: string;
let sandbox: SandboxHandle;
let other: SandboxHandle;

function files(yaml: string, name = "provisioning.yaml"): string {
  const f = join(dir, name);
  writeFileSync(f, yaml);
  return f;
}
const goodConfig = () => files(`catalog:\n  url: ${sandbox.baseUrl}\n${MAPPING}`);

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { CATALOG_SCIM_URL: sandbox.baseUrl, CATALOG_API_KEY: sandbox.apiKey, AUTH0_TENANT_FILE: join(dir, "tenant.yaml"), ...extra };
}

function doctorCli(args: string[], e: Record<string, string | undefined>): Promise<CliRun> {
  return runTsx(join(root, "scripts/doctor.ts"), args, { cwd: root, env: { PATH: process.env.PATH, NO_COLOR: "1", ...e } as NodeJS.ProcessEnv });
}

const failing = (checks: CheckResult[]) => checks.filter((c) => c.status === "fail");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "doctor-"));
  writeFileSync(join(dir, "tenant.yaml"), TENANT);
  writeFileSync(join(dir, "code.js"), "exports.onExecutePostLogin = async () => {};\n");
  [sandbox, other] = await Promise.all([startSandbox({ groups: GROUPS }), startSandbox({ groups: GROUPS, profile: "minimal" })]);
});
afterAll(async () => {
  await Promise.all([sandbox?.stop(), other?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await sandbox.reset(GROUPS);
  await sandbox.setKeys([sandbox.apiKey]);
});

describe("doctor: the all-green case", () => {
  it("passes every check, reports capabilities as info, exits 0 and prints no secret", async () => {
    const run = await doctorCli([], env({ PROVISIONING_CONFIG: goodConfig() }));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("all checks passed");
    expect(run.stdout).toMatch(/INFO\s+default\s+catalog capabilities\s+bulk yes/);
    expect(run.stdout).toMatch(/SKIP\s+auth0 credentials/);
    expect(run.stdout).not.toContain(sandbox.apiKey);
  });

  it("--json prints the same checks as one JSON document", async () => {
    const json = await doctorCli(["--json"], env({ PROVISIONING_CONFIG: goodConfig() }));
    const result = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; checks: CheckResult[] };
    expect(json.code).toBe(0);
    expect(result.ok).toBe(true);
    expect(result.checks.filter((c) => c.check.startsWith("group ")).map((c) => c.status)).toEqual(["pass", "pass", "pass", "pass"]);
  });

  it("makes no write to the Catalog", async () => {
    await sandbox.clearAudit();
    const r = await runDoctor({ configFile: goodConfig(), env: env() });
    expect(r.exitCode).toBe(0);
    expect(await sandbox.audit()).toEqual([]);
  });
});

describe("doctor: mapped Catalog groups", () => {
  it("a missing mapped group fails with the fix \"create it in the Catalog first\"", async () => {
    await sandbox.reset(GROUPS.filter((g) => g !== "mkt-readers"));
    const run = await doctorCli([], env({ PROVISIONING_CONFIG: goodConfig() }));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL\s+default\s+group "mkt-readers"\s+does not exist in the Catalog/);
    expect(run.stdout).toContain("create it in the Catalog first");
  });

  it("a duplicated group name fails", async () => {
    await sandbox.createGroup("finance-readers");
    const r = await runDoctor({ configFile: goodConfig(), env: env() });
    expect(r.exitCode).toBe(1);
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: 'group "finance-readers"', detail: expect.stringContaining("2 Catalog groups have this name") })]);
  });
});

describe("doctor: API keys", () => {
  it("a wrong key (401) fails and the key is never printed", async () => {
    const run = await doctorCli([], env({ PROVISIONING_CONFIG: goodConfig(), CATALOG_API_KEY: "wrong-key-value-123" }));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL\s+default\s+api key\s+the Catalog rejects "CATALOG_API_KEY" \(401\)/);
    expect(run.stdout + run.stderr).not.toContain("wrong-key-value-123");
  });

  it("during a rotation both keys must work: a wrong next key fails", async () => {
    const r = await runDoctor({ configFile: goodConfig(), env: env({ CATALOG_API_KEY_NEXT: "not-issued-yet" }) });
    expect(r.exitCode).toBe(1);
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: "rotation: next key", detail: expect.stringContaining('rejects "CATALOG_API_KEY_NEXT" (401)') })]);
    expect(JSON.stringify(r)).not.toContain("not-issued-yet");
  });

  it("during a rotation both keys work and see the same Catalog: pass", async () => {
    await sandbox.setKeys([sandbox.apiKey, "next-key"]);
    const r = await runDoctor({ configFile: goodConfig(), env: env({ CATALOG_API_KEY_NEXT: "next-key" }) });
    expect(failing(r.checks)).toEqual([]);
    expect(r.checks).toContainEqual(expect.objectContaining({ check: "rotation: next key", status: "pass" }));
  });

  it("a next key that reaches another Catalog fails", async () => {
    await other.setKeys([other.apiKey]);
    // the next key is routed to another Catalog behind the same URL
    const routed: typeof fetch = (input, init) => {
      const auth = new Headers(init?.headers).get("authorization");
      const url = String(input);
      return fetch(auth === `Bearer ${other.apiKey}` ? url.replace(sandbox.baseUrl, other.baseUrl) : url, init);
    };
    const r = await runDoctor({ configFile: goodConfig(), env: env({ CATALOG_API_KEY_NEXT: other.apiKey }), fetch: routed });
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: "rotation: next key", detail: expect.stringContaining("sees another Catalog") })]);
  });
});

describe("doctor: configuration errors exit 2 with file and line", () => {
  it("an invalid provisioning.yaml", async () => {
    const file = files(`catalog:\n  url: ${sandbox.baseUrl}\n${MAPPING}sync:\n  mdoe: live\n`, "invalid.yaml");
    const run = await doctorCli(["--config", file], env());
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`${file}:8`);
  });

  it("a privileged group mapped by name", async () => {
    const file = files(`catalog:\n  url: ${sandbox.baseUrl}\n${MAPPING}privileged: [catalog-admins]\n`, "privileged.yaml");
    const run = await doctorCli(["--config", file], env());
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4:\\d+: privileged group "catalog-admins" may only be granted by an "id:" or "dn:" key`));
  });

  it("a privileged group mapped by id passes", async () => {
    const file = files(`catalog:\n  url: ${sandbox.baseUrl}\ngroups:\n  "id:3f2b8c9e": catalog-admins\n  analysts-finance: finance-readers\nprivileged: [catalog-admins]\n`, "privileged-id.yaml");
    const r = await runDoctor({ configFile: file, env: env() });
    expect(r.checks).toContainEqual(expect.objectContaining({ check: 'privileged "catalog-admins"', status: "pass" }));
    expect(r.exitCode).toBe(0);
  });

  it("an http URL that is not loopback", async () => {
    const run = await doctorCli([], env({ PROVISIONING_CONFIG: goodConfig(), CATALOG_SCIM_URL: "http://catalog.example.com/scim/v2" }));
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('environment variable "CATALOG_SCIM_URL" must use https');
  });

  it("a tenant.yaml placeholder that is not set", async () => {
    const tenant = files(TENANT.replace("##CATALOG_API_KEY##", "##CATALOG_KEY_TYPO##"), "tenant-typo.yaml");
    const r = await runDoctor({ configFile: goodConfig(), tenantFile: tenant, env: env() });
    expect(r.exitCode).toBe(2);
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: "tenant.yaml", detail: expect.stringMatching(/tenant-typo\.yaml:9:\d+: placeholder "CATALOG_KEY_TYPO"/) })]);
  });
});

describe("doctor: TLS", () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost"], { stdio: "ignore" });
    server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (_req, res) => res.end("{}"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("an untrusted certificate is reported as a TLS handshake failure", async () => {
    const r = await runDoctor({ configFile: goodConfig(), env: env({ CATALOG_SCIM_URL: url }) });
    expect(r.exitCode).toBe(1);
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: "tls", detail: expect.stringMatching(/^TLS handshake failed \(\w+/) })]);
  });
});

describe("doctor: Auth0 deploy credentials against the Management API double", () => {
  let double: MgmtDouble;
  beforeAll(async () => {
    double = await new MgmtDouble().start();
  });
  afterAll(async () => {
    await double.stop();
  });
  const auth0Env = () => env({ AUTH0_DOMAIN: double.domain, AUTH0_CLIENT_ID: double.clientId, AUTH0_CLIENT_SECRET: double.clientSecret });

  it("credentials with the deploy scopes pass", async () => {
    const r = await runDoctor({ configFile: goodConfig(), env: auth0Env(), auth0Fetch: double.fetch });
    expect(r.checks.filter((c) => c.check.startsWith("auth0")).map((c) => [c.check, c.status])).toEqual([
      ["auth0 credentials", "pass"],
      ["auth0 scopes", "pass"],
      ["auth0 actions api", "pass"],
    ]);
    expect(r.exitCode).toBe(0);
    expect(JSON.stringify(r)).not.toContain(double.clientSecret);
  });

  it("credentials without create:actions and update:actions fail with the fix", async () => {
    // the tenant grants only read:actions to this application
    const narrowed: typeof fetch = async (input, init) => {
      const res = await double.fetch(input, init);
      if (!String(input).endsWith("/oauth/token") || !res.ok) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify({ ...body, scope: "read:actions" }), { status: 200, headers: { "content-type": "application/json" } });
    };
    const r = await runDoctor({ configFile: goodConfig(), env: auth0Env(), auth0Fetch: narrowed });
    expect(r.exitCode).toBe(1);
    expect(failing(r.checks)).toEqual([
      expect.objectContaining({ check: "auth0 scopes", detail: 'missing scope(s) "create:actions", "update:actions"', fix: expect.stringContaining("Machine to Machine Applications") }),
    ]);
  });

  it("a wrong client secret fails without printing it", async () => {
    const r = await runDoctor({ configFile: goodConfig(), env: { ...auth0Env(), AUTH0_CLIENT_SECRET: "bad-secret-xyz" }, auth0Fetch: double.fetch });
    expect(failing(r.checks)).toEqual([expect.objectContaining({ check: "auth0 credentials", detail: expect.stringContaining("refused the client credentials (401") })]);
    expect(JSON.stringify(r)).not.toContain("bad-secret-xyz");
  });

  it("the scope claim of a JWT access token is read without verifying it", () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const jwt = `${b64({ alg: "RS256" })}.${b64({ scope: "read:actions update:actions" })}.sig`;
    expect(grantedScopes(jwt, "ignored")).toEqual(["read:actions", "update:actions"]);
    expect(grantedScopes("opaque", "read:actions create:actions")).toEqual(["read:actions", "create:actions"]);
    expect(grantedScopes("opaque", undefined)).toBeUndefined();
  });
});
