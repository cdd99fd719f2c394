import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_HARD_LIMIT, buildActionBundle, bundleRequires, checkBundle } from "../../src/deploy/bundle.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { actionConfig, fakeApi, loginEvent } from "./fakes.js";

describe("the Action bundle", () => {
  it("builds byte-for-byte the same twice", async () => {
    const a = await buildActionBundle();
    const b = await buildActionBundle();
    expect(a.sha256).toBe(b.sha256);
    expect(a.code).toBe(b.code);
    expect(a.bytes).toBe(Buffer.byteLength(a.code));
  });

  it("requires nothing outside Node's built-ins and passes its checks", async () => {
    const { code } = await buildActionBundle();
    for (const r of bundleRequires(code)) expect(r).toMatch(/^(node:)?[a-z_/]+$/);
    expect(code).not.toMatch(/undici|ajv|better-sqlite3|node:fs/);
    const check = checkBundle(code);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });

  it("stays within Auth0's size limit", async () => {
    const { bytes } = await buildActionBundle();
    expect(bytes).toBeLessThanOrEqual(BUNDLE_HARD_LIMIT);
  });

  it("checkBundle refuses a foreign require and a missing export", () => {
    const bad = checkBundle('const x = require("undici"); module.exports = {};');
    expect(bad.ok).toBe(false);
    expect(bad.problems.join("\n")).toContain('"undici"');
    const empty = checkBundle("module.exports = {};");
    expect(empty.ok).toBe(false);
    expect(empty.problems.join("\n")).toContain("onExecutePostLogin");
  });

  it("compiles the config in: another mapping builds other bytes", async () => {
    const a = await buildActionBundle({ config: actionConfig() });
    const b = await buildActionBundle({ config: actionConfig((c) => (c.login.ttlSeconds = 7)) });
    expect(a.sha256).not.toBe(b.sha256);
  });
});

describe("the built file runs a login against the sandbox", () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ profile: "minimal", groups: ["finance-readers", "mkt-readers", "data-stewards", "catalog-admins"] });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it("require() the bundle and call onExecutePostLogin", async () => {
    const { code } = await buildActionBundle({ config: actionConfig() });
    const dir = mkdtempSync(join(tmpdir(), "action-bundle-"));
    const file = join(dir, "catalog-provisioning.js");
    writeFileSync(file, code);
    const mod = createRequire(import.meta.url)(file) as { onExecutePostLogin: (e: unknown, a: unknown) => Promise<void> };
    expect(typeof mod.onExecutePostLogin).toBe("function");
    const api = fakeApi();
    await mod.onExecutePostLogin(loginEvent({ secrets: { CATALOG_SCIM_URL: sb.baseUrl, CATALOG_API_KEY: sb.apiKey } }), api);
    const audit = await sb.audit();
    expect(audit.some((a) => a.method === "POST" && a.path === "/Users" && a.status === 201)).toBe(true);
    expect(audit.some((a) => a.method === "PATCH" && a.path.startsWith("/Groups/"))).toBe(true);
    const state = api.appMetadata["catalog_provisioning"] as { u: string; g: string[] };
    expect(state.g).toHaveLength(1);
    expect(JSON.stringify(state).length).toBeLessThanOrEqual(2048);
  });
});
