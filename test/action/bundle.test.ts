import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUNDLE_BUDGET,
  BUNDLE_HARD_LIMIT,
  BUNDLE_INTERNAL_PROPS,
  buildActionBundle,
  bundleRequires,
  checkBundle,
  esmToCommonJs,
} from "../../src/deploy/bundle.js";
import { compileActionConfig } from "../../src/config/action-config.js";
import { loadProvisioningConfig } from "../../src/config/load.js";
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

  it("stays within its 30 kB budget (minified)", async () => {
    expect(BUNDLE_BUDGET).toBe(30 * 1024);
    const { bytes, configBytes } = await buildActionBundle();
    expect(bytes).toBeLessThanOrEqual(30 * 1024);
    expect(configBytes).toBeGreaterThan(100);
    const withTestConfig = await buildActionBundle({ config: actionConfig() });
    expect(withTestConfig.bytes).toBeLessThanOrEqual(30 * 1024);
  });

  it("checkBundle refuses a bundle over the 30 kB budget", () => {
    const code = `exports.onExecutePostLogin = async () => {};\n//${"x".repeat(30 * 1024)}`;
    const check = checkBundle(code);
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(/over the budget of 30720/);
    expect(checkBundle("exports.onExecutePostLogin = async () => {};").ok).toBe(true);
  });

  it("the code budget leaves out the compiled mapping, which grows with the customer's mapping", async () => {
    const code = `exports.onExecutePostLogin = async () => {};\n//${"x".repeat(30 * 1024)}`;
    expect(checkBundle(code, { configBytes: 2000 }).ok).toBe(true);
    expect(checkBundle(code, { configBytes: 10 }).ok).toBe(false);
    const big = `exports.onExecutePostLogin = async () => {};\n//${"x".repeat(100 * 1024)}`;
    expect(checkBundle(big, { configBytes: 90 * 1024 }).problems.join()).toMatch(/over Auth0's limit/);
    // a large mapping: the whole file passes 30 kB, the code alone stays within budget
    const rules = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`idp-group-number-${i}`, `catalog-group-${i % 7}`]));
    const cfg = actionConfig();
    const first = cfg.targets[0]!;
    const many = { ...cfg, targets: [{ ...first, groups: { ...first.groups, rules: Object.entries(rules).map(([k, v]) => ({ idp: { kind: "any" as const, value: k }, catalogGroups: [v] })) } }] };
    const built = await buildActionBundle({ config: many });
    expect(built.bytes).toBeGreaterThan(30 * 1024);
    expect(checkBundle(built.code, { configBytes: built.configBytes }).ok).toBe(true);
  });

  it("is CommonJS: the ESM output's final export statement becomes exports assignments", async () => {
    expect(esmToCommonJs("var a=1,c=2;export{a as onExecutePostLogin,c};", ["onExecutePostLogin", "c"])).toBe(
      '"use strict";var a=1,c=2;exports.onExecutePostLogin=a;exports.c=c;\n',
    );
    // anything else is left to esbuild's own CommonJS output
    expect(esmToCommonJs("var a=1;export{a as onExecutePostLogin};", ["onExecutePostLogin", "other"])).toBeUndefined();
    expect(esmToCommonJs("var a=1;export default a;", ["default"])).toBeUndefined();
    const { code } = await buildActionBundle();
    expect(code.startsWith('"use strict";')).toBe(true);
    expect(code).not.toMatch(/\bexport\s*\{/);
    expect(code).toMatch(/exports\.onExecutePostLogin=[\w$]+;\n$/);
  });

  it("shortens only property names that are not part of the config, the event or the api", () => {
    const keys = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          keys.add(k);
          walk(x);
        }
      }
    };
    walk(compileActionConfig(loadProvisioningConfig({})));
    walk(actionConfig((c) => (c.connections["acme-saml"] = { lifecycle: "sync", anchor: "oid", groupsClaim: "g", splitGroups: true, groupsCap: 5, mode: "shadow" })));
    walk(loginEvent({ secrets: { CATALOG_SCIM_URL: "https://x", CATALOG_API_KEY: "k" }, appMetadata: { a: 1 } }));
    // the Auth0 parts of the fake api (not its recording fields)
    const { access, idToken, accessToken, user, cache } = fakeApi();
    walk({ access, idToken, accessToken, user, cache });
    walk(cache.set("k", "v", { ttl: 1 }));
    expect(BUNDLE_INTERNAL_PROPS.filter((p) => keys.has(p))).toEqual([]);
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
