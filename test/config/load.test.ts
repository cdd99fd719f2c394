import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, ExitCode } from "../../src/errors.js";
import { loadProvisioningConfig, loadProvisioningConfigText } from "../../src/config/load.js";
import type { LdapSourceConfig } from "../../src/config/types.js";

const FILE = "/srv/cfg/provisioning.yaml";

function load(text: string, env: Record<string, string | undefined> = {}) {
  return loadProvisioningConfigText(text, FILE, { env });
}

/** every error of a failed load */
function errorsOf(text: string, env: Record<string, string | undefined> = {}): ConfigError[] {
  try {
    load(text, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const err = e as ConfigError;
    expect(err.exitCode).toBe(ExitCode.CONFIG);
    return (err.details?.errors as ConfigError[] | undefined) ?? [err];
  }
  throw new Error("expected the config to be rejected");
}

function onlyError(text: string, env: Record<string, string | undefined> = {}): ConfigError {
  const errors = errorsOf(text, env);
  expect(errors, errors.map((e) => e.format()).join("\n")).toHaveLength(1);
  const e = errors[0]!;
  expect(e.file).toBe(FILE);
  expect(e.line).toBeGreaterThan(0);
  expect(e.hint).toBeTruthy();
  return e;
}

const MINIMAL = `catalog:
  url: https://catalog.example.com/scim/v2
groups:
  analysts: readers
`;

describe("defaults", () => {
  it("a config with only catalog.url and groups loads with every default filled in", () => {
    const c = load(MINIMAL);
    expect(c.file).toBe(FILE);
    expect(c.dir).toBe("/srv/cfg");
    expect(c.targets).toHaveLength(1);
    const t = c.targets[0]!;
    expect(t.name).toBe("default");
    expect(t.match).toEqual({ connections: [], organizations: [] });
    expect(t.catalog).toEqual({
      url: "https://catalog.example.com/scim/v2",
      urlSecret: "CATALOG_SCIM_URL",
      apiKeySecret: "CATALOG_API_KEY",
      apiKeyNextSecret: "CATALOG_API_KEY_NEXT",
    });
    expect(t.groups).toEqual({ rules: [{ idp: { kind: "any", value: "analysts" }, catalogGroups: ["readers"], line: 4 }], caseInsensitive: true, privileged: [] });
    expect(t.exclude).toEqual({ users: [], groups: [] });
    expect(t.domains).toEqual([]);
    expect(c.connections).toEqual({});
    expect(c.attributes.userName).toBe("email");
    expect(c.login.fail).toBe("open");
    expect(c.login.budgetMs).toBe(2000);
    expect(c.login.requestTimeoutMs).toBe(1000);
    expect(c.login.ttlSeconds).toBe(3600);
    expect(c.login.metadataKey).toBe("catalog_provisioning");
    expect(c.scim).toEqual({ timeoutMs: 30000, retries: 4, maxConnections: 16 });
    expect(c.sync).toBeUndefined();
  });

  it("sync defaults: live, deactivate only, guards, paths beside the config file", () => {
    const c = load(`${MINIMAL}sync:\n  source: { type: file, path: ./dir/directory.json }\n`);
    expect(c.sync).toEqual({
      source: { type: "file", path: "/srv/cfg/dir/directory.json" },
      mode: "live",
      scope: "mapped",
      deprovision: { removeMemberships: true, deleteAfterDays: null },
      guards: {
        deletions: { min: 5, ratio: 0.1 },
        groupRemovals: { min: 5, ratio: 0.2 },
        totalRemovals: { min: 20, ratio: 0.1 },
        allowMissingGroups: [],
      },
      batchSize: 100,
      concurrency: 8,
      auditEveryHours: 24,
      statePath: "/srv/cfg/.provisioning-state.sqlite",
      ledgerPath: "/srv/cfg/.provisioning-ledger.json",
      lockPath: "/srv/cfg/.provisioning.lock",
      auditLogPath: "/srv/cfg/provisioning-audit.jsonl",
    });
  });

  it("LDAP defaults for OpenLDAP and for Active Directory", () => {
    const ldap = (extra: string) =>
      load(`${MINIMAL}sync:\n  source:\n    type: ldap\n    url: ldaps://ldap.example.com\n    baseDn: dc=example,dc=com\n${extra}`).sync!.source as LdapSourceConfig;
    const o = ldap("");
    expect(o.attributes).toEqual({ id: "entryUUID", email: "mail", givenName: "givenName", familyName: "sn", displayName: "cn", groupName: "cn", member: "member" });
    expect(o.users).toEqual({ baseDn: "dc=example,dc=com", filter: "(objectClass=inetOrgPerson)", scope: "sub" });
    expect(o.groups.filter).toBe("(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))");
    expect(o.pageSize).toBe(500);
    expect(o.timeoutMs).toBe(10000);
    expect(o.bindPasswordEnv).toBe("LDAP_BIND_PASSWORD");
    const ad = ldap("    activeDirectory: true\n    caFile: ca.pem\n");
    expect(ad.attributes.id).toBe("objectGUID");
    expect(ad.attributes.displayName).toBe("displayName");
    expect(ad.users.filter).toBe("(&(objectCategory=person)(objectClass=user))");
    expect(ad.groups.filter).toBe("(objectClass=group)");
    expect(ad.caFile).toBe("/srv/cfg/ca.pem");
  });

  it("a one-to-many list, a connection and explicit settings are kept", () => {
    const c = load(`${MINIMAL}  finance: [finance-readers, reporting]\nconnections:\n  acme-entra: { lifecycle: login, anchor: oid, mode: shadow }\nlogin: { fail: closed, budgetMs: 3000 }\n`);
    expect(c.targets[0]!.groups.rules[1]!.catalogGroups).toEqual(["finance-readers", "reporting"]);
    expect(c.connections["acme-entra"]).toEqual({ lifecycle: "login", anchor: "oid", mode: "shadow" });
    expect(c.login.fail).toBe("closed");
    expect(c.login.budgetMs).toBe(3000);
  });
});

describe("file resolution", () => {
  it("reads options.file, then PROVISIONING_CONFIG; a missing file is CONFIG_NOT_FOUND", () => {
    const dir = mkdtempSync(join(tmpdir(), "provisioning-"));
    const file = join(dir, "p.yaml");
    writeFileSync(file, MINIMAL);
    expect(loadProvisioningConfig({ file, env: {} }).dir).toBe(dir);
    expect(loadProvisioningConfig({ env: { PROVISIONING_CONFIG: file } }).file).toBe(file);
    try {
      loadProvisioningConfig({ file: join(dir, "missing.yaml"), env: {} });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).code).toBe("CONFIG_NOT_FOUND");
      expect((e as ConfigError).exitCode).toBe(2);
    }
  });
});

describe("CATALOG_SCIM_URL", () => {
  it("overrides catalog.url", () => {
    const c = load(MINIMAL, { CATALOG_SCIM_URL: "https://other.example.com/scim/v2" });
    expect(c.targets[0]!.catalog.url).toBe("https://other.example.com/scim/v2");
  });

  it("is validated like the file's URL", () => {
    const e = onlyError(MINIMAL, { CATALOG_SCIM_URL: "http://catalog.example.com/scim/v2" });
    expect(e.message).toBe('environment variable "CATALOG_SCIM_URL" must use https');
  });
});

describe("every validation error carries file, line and hint", () => {
  it("unknown key, with a did-you-mean hint", () => {
    const e = onlyError(`${MINIMAL}sync:\n  source: { type: file, path: x.json }\n  batchSize: 10\n  concurency: 2\n`);
    expect(e.message).toBe('unknown key "concurency" in "sync"');
    expect(e.hint).toBe('did you mean "concurrency"?');
    expect(e.line).toBe(8);
  });

  it("wrong type", () => {
    const e = onlyError(`${MINIMAL}login:\n  budgetMs: fast\n`);
    expect(e.message).toBe('"login.budgetMs" must be a whole number');
    expect(e.line).toBe(6);
  });

  it("bad URL", () => {
    const e = onlyError(MINIMAL.replace("https://catalog.example.com/scim/v2", "not a url"));
    expect(e.message).toBe('"catalog.url" is not a valid URL');
    expect(e.line).toBe(2);
  });

  it("http to a non-loopback host", () => {
    const e = onlyError(MINIMAL.replace("https://", "http://"));
    expect(e.message).toBe('"catalog.url" must use https');
    expect(e.line).toBe(2);
  });

  it.each(["http://127.0.0.1:8089/scim/v2", "http://localhost/scim/v2", "http://[::1]:9000/scim/v2"])("http to loopback is allowed: %s", (url) => {
    expect(load(MINIMAL.replace("https://catalog.example.com/scim/v2", url)).targets[0]!.catalog.url).toBe(url);
  });

  it("a secret in the YAML", () => {
    const e = onlyError(MINIMAL.replace("catalog:\n", "catalog:\n  apiKey: abc123\n"));
    expect(e.message).toBe('secret "apiKey" must not be in the config file');
    expect(e.hint).toMatch(/environment/);
    expect(e.line).toBe(2);
    expect(e.format()).not.toContain("abc123");
  });

  it("a password in the LDAP source", () => {
    const e = onlyError(`${MINIMAL}sync:\n  source:\n    type: ldap\n    url: ldaps://ldap.example.com\n    baseDn: dc=x\n    password: hunter2\n`);
    expect(e.message).toBe('secret "password" must not be in the config file');
    expect(e.hint).toMatch(/bindPasswordEnv/);
    expect(e.line).toBe(10);
  });

  it("a privileged group granted by a bare key", () => {
    const e = onlyError(`${MINIMAL}  it-admins: catalog-admins\nprivileged: [catalog-admins]\n`);
    expect(e.message).toBe('privileged group "catalog-admins" may only be granted by an "id:" or "dn:" key, not "it-admins"');
    expect(e.hint).toMatch(/id:<group object id>/);
    expect(e.line).toBe(5);
  });

  it("a privileged group granted by an id or dn key loads", () => {
    const c = load(`${MINIMAL}  "id:1234": catalog-admins\n  "dn:CN=Admins,DC=x": catalog-admins\nprivileged: [catalog-admins]\n`);
    expect(c.targets[0]!.groups.privileged).toEqual(["catalog-admins"]);
  });

  it("shorthand and targets together", () => {
    const errors = errorsOf(`${MINIMAL}targets:\n  - name: acme\n    groups: { a: b }\n`);
    expect(errors.map((e) => e.message)).toEqual([
      '"catalog" at the top level cannot be combined with "targets"',
      '"groups" at the top level cannot be combined with "targets"',
    ]);
    expect(errors.map((e) => e.line)).toEqual([1, 3]);
  });

  it("unknown lifecycle", () => {
    const e = onlyError(`${MINIMAL}connections:\n  acme-entra:\n    lifecycle: logon\n`);
    expect(e.message).toBe('"connections.acme-entra.lifecycle" must be one of "sync", "login"');
    expect(e.hint).toBe('did you mean "login"?');
    expect(e.line).toBe(7);
  });

  it("plain ldap:// to a remote host without StartTLS", () => {
    const e = onlyError(`${MINIMAL}sync:\n  source:\n    type: ldap\n    url: ldap://ldap.example.com\n    baseDn: dc=x\n`);
    expect(e.message).toMatch(/clear text/);
    expect(e.line).toBe(8);
  });

  it("the pairwise OIDC sub as anchor", () => {
    expect(onlyError(`${MINIMAL}connections:\n  c1: { anchor: sub }\n`).message).toBe('"anchor" of connection "c1" must not be "sub"');
  });

  it("neither groups nor targets", () => {
    expect(onlyError("catalog:\n  url: https://c.example.com\n").message).toMatch(/needs "groups"/);
  });
});

describe("all mistakes are reported at once", () => {
  it("one ConfigError lists every mistake as file:line:column: message (hint)", () => {
    const text = `catalog:
  url: http://catalog.example.com/scim/v2
  apiKey: secret-value
groups:
  admins: catalog-admins
privileged: [catalog-admins]
connections:
  c1: { lifecycle: never }
login:
  budgetMs: "2s"
  failure: open
`;
    let err: ConfigError | undefined;
    try {
      load(text);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const errors = err!.details!.errors as ConfigError[];
    expect(errors.map((e) => e.line)).toEqual([2, 3, 5, 8, 10, 11]);
    for (const e of errors) expect(err!.message).toContain(e.format());
    expect(err!.message).toMatch(/^6 configuration errors:\n/);
    expect(err!.message).toContain(`${FILE}:11:3: unknown key "failure" in "login" (hint: did you mean "fail"?)`);
    expect(err!.message).not.toContain("secret-value");
    expect(err!.exitCode).toBe(2);
  });
});

describe("targets", () => {
  const MULTI = `exclude: { users: [breakglass@example.com] }
targets:
  - name: acme
    match: { connections: [acme-entra] }
    catalog: { urlSecret: ACME_SCIM_URL, apiKeySecret: ACME_API_KEY }
    groups: { a: reader }
  - name: globex
    match: { organizations: [org_globex] }
    catalog: { url: https://globex.example.com/scim/v2, urlSecret: GLOBEX_SCIM_URL, apiKeySecret: GLOBEX_API_KEY }
    exclude: { groups: [hand-made] }
    groups: { b: reader }
`;
  it("loads each target with its secrets; top-level exclude applies to all", () => {
    const c = load(MULTI, { ACME_SCIM_URL: "https://acme.example.com/scim/v2" });
    expect(c.targets.map((t) => t.name)).toEqual(["acme", "globex"]);
    expect(c.targets[0]!.catalog).toEqual({ url: "https://acme.example.com/scim/v2", urlSecret: "ACME_SCIM_URL", apiKeySecret: "ACME_API_KEY", apiKeyNextSecret: "ACME_API_KEY_NEXT" });
    expect(c.targets[1]!.exclude).toEqual({ users: ["breakglass@example.com"], groups: ["hand-made"] });
  });

  it("several targets must each name their own secrets", () => {
    const errors = errorsOf(MULTI.replace("apiKeySecret: GLOBEX_API_KEY", "apiKeySecret: ACME_API_KEY").replace("urlSecret: ACME_SCIM_URL, ", ""));
    expect(errors.map((e) => e.message)).toEqual([
      'target "acme" must name "catalog.urlSecret"',
      '"apiKeySecret" "ACME_API_KEY" is also used by another target',
    ]);
  });
});

describe("the shipped configs load", () => {
  it.each(["provisioning.yaml", "examples/multi-target.yaml", "examples/ldap.yaml"])("%s", (file) => {
    const c = loadProvisioningConfig({ file, env: {} });
    expect(c.targets.length).toBeGreaterThan(0);
  });

  it("provisioning.yaml carries the design's example mapping", () => {
    const c = loadProvisioningConfig({ file: "provisioning.yaml", env: {} });
    const rules = c.targets[0]!.groups.rules.map((r) => [r.idp.value, r.catalogGroups]);
    expect(rules).toEqual([
      ["data-platform-engineers", ["catalog-admins"]],
      ["it-admins", ["catalog-admins"]],
      ["analysts-finance", ["finance-readers"]],
      ["analysts-marketing", ["mkt-readers"]],
      ["data-governance-leads", ["data-stewards"]],
    ]);
    expect(c.targets[0]!.catalog.url).toBe("http://127.0.0.1:8089/scim/v2");
    expect(c.sync!.source).toEqual({ type: "file", path: join(process.cwd(), "examples/directory.json") });
  });
});
