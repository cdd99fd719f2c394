/** tenant.yaml: validation with file and line, placeholders, and the publish guards. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, ProvisioningError } from "../../src/errors.js";
import { loadTenantFile } from "../../src/deploy/tenant.js";
import { CODE, TENANT_YAML, testBundler } from "./fixture.js";

let dir: string;
const env = { CATALOG_SCIM_URL: "https://c.example.com/scim/v2", CATALOG_API_KEY: "k" };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tenant-"));
  writeFileSync(join(dir, "code.js"), CODE);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const write = (text: string) => {
  writeFileSync(join(dir, "tenant.yaml"), text);
  return join(dir, "tenant.yaml");
};

describe("tenant.yaml validation", () => {
  it("an unknown key names the file and line", async () => {
    const file = write(TENANT_YAML.replace("    deployed: true", "    deployd: true"));
    const e = await loadTenantFile({ file, env, bundler: testBundler }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).line).toBe(17);
    expect((e as ConfigError).format()).toContain(`${file}:17`);
  });

  it("a binding to an action the file does not list is an error with its line", async () => {
    const file = write(TENANT_YAML.replace("    - action_name: catalog-provisioning", "    - action_name: other"));
    const e = await loadTenantFile({ file, env, bundler: testBundler }).catch((x: unknown) => x);
    expect((e as ConfigError).message).toContain('action "other"');
    expect((e as ConfigError).line).toBe(20);
  });

  it("@@NAME@@ takes JSON from the environment; ##NAME## a literal", async () => {
    const file = write(TENANT_YAML.replace(/    secrets:\n(?:      .*\n)+/, '    secrets: "@@SECRETS@@"\n'));
    const t = await loadTenantFile({ file, env: { SECRETS: JSON.stringify([{ name: "A", value: "1" }]) }, bundler: testBundler });
    expect(t.actions[0]!.secrets).toEqual([{ name: "A", value: "1" }]);
  });

  it("an empty optional placeholder leaves the secret out; code is read verbatim", async () => {
    const t = await loadTenantFile({ file: write(TENANT_YAML), env: { ...env, CATALOG_API_KEY_NEXT: "" }, bundler: testBundler });
    expect(t.actions[0]!.secrets.map((s) => s.name)).toEqual(["CATALOG_SCIM_URL", "CATALOG_API_KEY"]);
    expect(t.actions[0]!.omittedOptionalSecrets).toEqual(["CATALOG_API_KEY_NEXT"]);
    expect(t.actions[0]!.code).toBe(CODE);
    expect(t.actions[0]!.deployed).toBe(true);
  });
});

describe("publish guards", () => {
  const built = TENANT_YAML.replace("    code: ./code.js", "    build:\n      entry: ./entry.ts\n      outfile: ./dist/out.js");

  it("a mapping that fails validation refuses the publish with exit 2", async () => {
    const e = await loadTenantFile({
      file: write(built),
      env,
      bundler: testBundler,
      validateMapping: () => {
        throw new ConfigError('"groups" must be a mapping', { file: "provisioning.yaml", line: 3 });
      },
    }).catch((x: unknown) => x);
    expect((e as ConfigError).exitCode).toBe(2);
  });

  it("a bundle that requires a non-built-in module is refused with exit 3", async () => {
    const e = await loadTenantFile({
      file: write(built),
      env,
      validateMapping: () => undefined,
      bundler: { ...testBundler, build: async () => ({ code: `require("lodash");\n${CODE}` }) },
    }).catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_BUNDLE_INVALID");
    expect((e as ProvisioningError).exitCode).toBe(3);
    expect((e as Error).message).toContain('"lodash"');
  });

  it("a built Action writes its outfile when missing, so dist/ holds what is published", async () => {
    const t = await loadTenantFile({ file: write(built), env, validateMapping: () => undefined, bundler: testBundler });
    expect(readFileSync(join(dir, "dist/out.js"), "utf8")).toBe(t.actions[0]!.code);
  });

  it("the real checkBundle accepts the test Action code", async () => {
    const { checkBundle } = await import("../../src/deploy/bundle.js");
    expect(checkBundle(CODE).ok).toBe(true);
  });
});
