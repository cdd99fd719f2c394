/** A temporary tenant.yaml + code file, and a deploy wired to the Management API double. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ActionBundler } from "../../src/deploy/tenant.js";
import { runDeploy, type DeployOptions } from "../../src/deploy/run.js";
import type { MgmtDouble } from "./mgmt-double.js";

export const ACTION = "catalog-provisioning";

/** The Action's Catalog secrets and its post-login trigger, indented for an entry under `actions:`. */
export const ACTION_SECRETS_AND_TRIGGER_YAML = `    secrets:
      - name: CATALOG_SCIM_URL
        value: "##CATALOG_SCIM_URL##"
      - name: CATALOG_API_KEY
        value: "##CATALOG_API_KEY##"
      - name: CATALOG_API_KEY_NEXT
        value: "##CATALOG_API_KEY_NEXT##"
        optional: true
    supported_triggers:
      - id: post-login
        version: v3
`;

export const TENANT_YAML = `actions:
  - name: ${ACTION}
    code: ./code.js
    runtime: node22
    dependencies: []
${ACTION_SECRETS_AND_TRIGGER_YAML}    deployed: true
triggers:
  post-login:
    - action_name: ${ACTION}
      display_name: Catalog provisioning
`;

export const CODE = `"use strict";\nexports.onExecutePostLogin = async (event, api) => {};\n`;

/** checks what `checkBundle` checks that matters here: no require outside Node built-ins */
export const testBundler: ActionBundler = {
  async build() {
    return { code: CODE };
  },
  check(code) {
    const problems = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!).filter((m) => !m.startsWith("node:")).map((m) => `requires "${m}"`);
    return { ok: problems.length === 0, problems };
  },
};

export interface Fixture {
  dir: string;
  file: string;
  env: Record<string, string | undefined>;
  writeCode(code: string): void;
  writeTenant(text: string): void;
  options(extra?: Partial<DeployOptions>): DeployOptions;
  deploy(extra?: Partial<DeployOptions>): ReturnType<typeof runDeploy>;
  sleeps: number[];
  cleanup(): void;
}

export function makeFixture(double: MgmtDouble, tenantYaml = TENANT_YAML): Fixture {
  const dir = mkdtempSync(join(tmpdir(), "deploy-test-"));
  const file = join(dir, "tenant.yaml");
  writeFileSync(file, tenantYaml);
  writeFileSync(join(dir, "code.js"), CODE);
  const sleeps: number[] = [];
  const env: Record<string, string | undefined> = {
    AUTH0_DOMAIN: double.domain,
    AUTH0_CLIENT_ID: double.clientId,
    AUTH0_CLIENT_SECRET: double.clientSecret,
    CATALOG_SCIM_URL: "https://catalog.example.com/scim/v2",
    CATALOG_API_KEY: "key-one",
  };
  const fx: Fixture = {
    dir,
    file,
    env,
    sleeps,
    writeCode: (code) => writeFileSync(join(dir, "code.js"), code),
    writeTenant: (text) => writeFileSync(file, text),
    options: (extra = {}) => ({
      env,
      tenantFile: file,
      fetch: double.fetch,
      maxRetries: 0,
      timeoutInSeconds: 5,
      bundler: testBundler,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      pollIntervalMs: 10,
      ...extra,
    }),
    deploy: (extra = {}) => runDeploy(fx.options(extra)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return fx;
}
