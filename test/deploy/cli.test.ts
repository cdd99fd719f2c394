/**
 * `npm run deploy` as a child process: exit codes 0/2/3, --json, no prompt, and an AUTH0_DOMAIN
 * with a port pointing at the HTTPS Management API double.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MgmtDouble } from "./mgmt-double.js";

const root = resolve(import.meta.dirname, "../..");
let dir: string;
let double: MgmtDouble;

// a credentials-exchange action keeps these runs independent of the Post-Login bundle budget check
const TENANT = `actions:
  - name: m2m-claims
    code: ./code.js
    runtime: node22
    secrets:
      - name: CATALOG_API_KEY
        value: "##CATALOG_API_KEY##"
    supported_triggers:
      - id: credentials-exchange
        version: v2
    deployed: true
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "deploy-cli-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
  writeFileSync(join(dir, "tenant.yaml"), TENANT);
  writeFileSync(join(dir, "code.js"), `exports.onExecuteCredentialsExchange = async () => {};\n`);
  double = await new MgmtDouble().start({ tls: { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") } });
});
afterAll(async () => {
  await double.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** async: the double answers from this process, so the test must not block its event loop */
function deploy(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts/deploy.ts"), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      NODE_EXTRA_CA_CERTS: join(dir, "cert.pem"),
      AUTH0_DOMAIN: double.hostWithPort,
      AUTH0_CLIENT_ID: double.clientId,
      AUTH0_CLIENT_SECRET: double.clientSecret,
      AUTH0_TENANT_FILE: join(dir, "tenant.yaml"),
      CATALOG_API_KEY: "cli-key",
      DEPLOY_MAX_RETRIES: "0",
      DEPLOY_TIMEOUT_SECONDS: "5",
      ...env,
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolveRun, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

// each run starts a fresh Node + tsx: generous per-test timeouts
describe("deploy CLI exit codes", { timeout: 180_000 }, () => {
  it("exits 2 on a missing placeholder, naming file:line, before any request", async () => {
    double.resetLog();
    const r = await deploy([], { CATALOG_API_KEY: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, "tenant.yaml")}:7`);
    expect(r.stderr).toContain('placeholder "CATALOG_API_KEY"');
    expect(double.requests).toHaveLength(0);
  });

  it("exits 2 when the Management API credentials are missing", async () => {
    const r = await deploy(["--json"], { AUTH0_CLIENT_SECRET: undefined });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ ok: false, exitCode: 2, code: "CONFIG_MISSING_SECRET" });
  });

  it("exits 0 over HTTPS with a domain carrying a port; a second run writes nothing", async () => {
    const first = await deploy(["--json"]);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout.trim()) as { ok: boolean; applied: { created: string[] } };
    expect(summary.applied.created).toEqual(["m2m-claims"]);
    expect(first.stdout + first.stderr).not.toContain("cli-key");
    expect(first.stdout + first.stderr).not.toContain(double.clientSecret);
    double.resetLog();
    const second = await deploy(["--json"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout.trim())).toMatchObject({ ok: true, noop: true });
    expect(double.writes).toHaveLength(0);
  });

  it("exits 3 on an unlisted remote secret, and 0 with --prune-secrets", async () => {
    double.editSecretInDashboard("m2m-claims", "STRAY", "x");
    const refused = await deploy([]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('"STRAY"');
    expect(refused.stderr).toContain("--prune-secrets");
    expect((await deploy(["--prune-secrets"])).code).toBe(0);
  });

  it("exits 3 after a rollback pin, and 0 with --unpin; --list-versions shows the pin", async () => {
    writeFileSync(join(dir, "code.js"), `exports.onExecuteCredentialsExchange = async () => { /* v2 */ };\n`);
    expect((await deploy([])).code).toBe(0);
    expect((await deploy(["--rollback"])).code).toBe(0);
    const listed = await deploy(["--list-versions", "--json"]);
    expect(listed.code).toBe(0);
    const rows = (JSON.parse(listed.stdout.trim()) as { versions: { pinned: boolean; deployed: boolean }[] }).versions;
    expect(rows[0]).toMatchObject({ pinned: true, deployed: true });
    const pinned = await deploy([]);
    expect(pinned.code).toBe(3);
    expect(pinned.stderr).toContain("pinned");
    expect((await deploy(["--unpin"])).code).toBe(0);
  });

  it("exits 2 on an unknown flag", async () => {
    expect((await deploy(["--force"])).code).toBe(2);
  });
});
