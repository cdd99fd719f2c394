import { describe, expect, it } from "vitest";
import { compileActionConfig } from "../../src/config/action-config.js";
import { loadProvisioningConfig, loadProvisioningConfigText } from "../../src/config/load.js";

const TEXT = `catalog:
  url: https://catalog.example.com/scim/v2
groups:
  b-group: [z-readers, a-readers]
  a-group: a-readers
  "id:42": catalog-admins
privileged: [catalog-admins]
connections:
  zeta: { lifecycle: login }
  alpha: { anchor: oid, groupsCap: 150 }
sync:
  source: { type: file, path: ./directory.json }
`;

describe("compileActionConfig", () => {
  it("is deterministic: the same config gives the same bytes whatever the key order in the file", () => {
    const a = compileActionConfig(loadProvisioningConfigText(TEXT, "/a/provisioning.yaml", { env: {} }));
    const reordered = TEXT.replace("connections:\n  zeta: { lifecycle: login }\n  alpha: { anchor: oid, groupsCap: 150 }\n", "connections:\n  alpha: { groupsCap: 150, anchor: oid }\n  zeta: { lifecycle: login }\n");
    const b = compileActionConfig(loadProvisioningConfigText(reordered, "/elsewhere/provisioning.yaml", { env: {} }));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(Object.keys(a.connections)).toEqual(["alpha", "zeta"]);
  });

  it("carries the mapping, connections, attributes and login policy, and no sync section, paths, URLs or secrets", () => {
    const c = compileActionConfig(loadProvisioningConfigText(TEXT, "/a/provisioning.yaml", { env: { CATALOG_API_KEY: "key-value-123" } }));
    expect(Object.keys(c)).toEqual(["version", "targets", "connections", "attributes", "login"]);
    expect(c.targets[0]!.groups.rules.map((r) => r.idp)).toEqual([
      { kind: "any", value: "b-group" },
      { kind: "any", value: "a-group" },
      { kind: "id", value: "42" },
    ]);
    expect(c.targets[0]!.groups.privileged).toEqual(["catalog-admins"]);
    expect(c.targets[0]!.secrets).toEqual({ url: "CATALOG_SCIM_URL", apiKey: "CATALOG_API_KEY", apiKeyNext: "CATALOG_API_KEY_NEXT" });
    expect(c.connections.alpha).toEqual({ lifecycle: "sync", anchor: "oid", mode: "on", groupsCap: 150 });
    const json = JSON.stringify(c);
    expect(json).not.toContain("directory.json");
    expect(json).not.toContain("/a/");
    expect(json).not.toContain("catalog.example.com/scim");
    expect(json).not.toContain("key-value-123");
    expect(json).not.toContain('"line"');
  });

  it("compiles the shipped provisioning.yaml", () => {
    const c = compileActionConfig(loadProvisioningConfig({ file: "provisioning.yaml", env: {} }));
    expect(c.targets[0]!.groups.rules).toHaveLength(5);
    expect(c.login.budgetMs).toBe(2000);
  });
});
