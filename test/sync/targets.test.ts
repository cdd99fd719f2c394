import { describe, expect, it } from "vitest";
import { loadProvisioningConfigText } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { catalogEndpoint, syncTargets } from "../../src/sync/run.js";

const multi = (connection?: string) => `targets:
  - name: acme
    match:
      connections: [acme-entra]
    catalog:
      urlSecret: ACME_SCIM_URL
      apiKeySecret: ACME_API_KEY
    groups:
      analysts-finance: finance-readers
  - name: globex
    match:
      connections: [globex-okta]
    catalog:
      urlSecret: GLOBEX_SCIM_URL
      apiKeySecret: GLOBEX_API_KEY
    groups:
      analysts: finance-readers
sync:
  source:
    type: file
    path: directory.json
${connection ? `    connection: ${connection}\n` : ""}`;

describe("sync targets", () => {
  it("runs the targets whose connections include the source's connection", () => {
    const config = loadProvisioningConfigText(multi("globex-okta"), "/tmp/provisioning.yaml", { env: {} });
    expect(syncTargets(config, config.sync!).map((t) => t.name)).toEqual(["globex"]);
  });

  it("uses the shorthand target for a source tied to no connection", () => {
    const config = loadProvisioningConfigText(
      "catalog:\n  url: https://catalog.example.com/scim/v2\ngroups:\n  it-admins: catalog-admins\nsync:\n  source:\n    type: file\n    path: d.json\n",
      "/tmp/provisioning.yaml",
      { env: {} },
    );
    expect(syncTargets(config, config.sync!)).toHaveLength(1);
  });

  it("refuses a source that feeds no target (exit 2)", () => {
    const config = loadProvisioningConfigText(multi(), "/tmp/provisioning.yaml", { env: {} });
    let error: unknown;
    try {
      syncTargets(config, config.sync!);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
  });

  it("takes each target's URL and key from its own variables and never puts the key in an error", () => {
    const config = loadProvisioningConfigText(multi("acme-entra"), "/tmp/provisioning.yaml", { env: {} });
    const acme = config.targets.find((t) => t.name === "acme")!;
    const e = catalogEndpoint(acme, { ACME_SCIM_URL: "https://acme.example/scim/v2/", ACME_API_KEY: "k-acme" }, config);
    expect(e).toEqual({ target: "acme", baseUrl: "https://acme.example/scim/v2", apiKey: "k-acme" });
    let error: unknown;
    try {
      catalogEndpoint(acme, { ACME_SCIM_URL: "https://acme.example/scim/v2", GLOBEX_API_KEY: "k-globex" }, config);
    } catch (x) {
      error = x;
    }
    expect((error as ConfigError).code).toBe("CONFIG_MISSING_SECRET");
    expect((error as ConfigError).hint).toContain('"ACME_API_KEY"');
    expect((error as ConfigError).format()).not.toContain("k-globex");
  });
});
