import { describe, expect, inject, it } from "vitest";
import type { LdapSourceConfig } from "../../src/config/types.js";
import { ProvisioningError, exitCodeOf } from "../../src/errors.js";
import type { Directory } from "../../src/sync/directory.js";
import { createSource, type LdapClientFactory } from "../../src/sync/sources/index.js";
import { Client } from "ldapts";
import { LIMITED_READER } from "../setup/slapd.js";

const url = inject("ldapUrl");
const base = inject("ldapBaseDn");

function config(overrides: Partial<LdapSourceConfig> = {}): LdapSourceConfig {
  return {
    type: "ldap",
    url,
    bindDn: inject("ldapBindDn"),
    bindPasswordEnv: "LDAP_BIND_PASSWORD",
    startTls: false,
    users: { baseDn: `ou=people,${base}`, filter: "(objectClass=inetOrgPerson)", scope: "sub" },
    groups: {
      baseDn: `ou=groups,${base}`,
      filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
      scope: "sub",
    },
    attributes: {
      id: "entryUUID",
      email: "mail",
      givenName: "givenName",
      familyName: "sn",
      displayName: "displayName",
      groupName: "cn",
      member: "member",
    },
    activeDirectory: false,
    nestedGroups: false,
    pageSize: 500,
    sizeLimit: 0,
    timeoutMs: 5000,
    ...overrides,
  };
}

const env = { LDAP_BIND_PASSWORD: inject("ldapBindPassword") };

async function read(overrides: Partial<LdapSourceConfig> = {}, e: Record<string, string | undefined> = env) {
  return createSource(config(overrides), { env: e, baseDir: "/" }).read();
}

function emailsOf(dir: Directory, groupName: string): string[] {
  const group = dir.groups.find((g) => g.name === groupName);
  if (!group) throw new Error(`no group ${groupName}`);
  const byId = new Map(dir.users.map((u) => [u.id, u.email]));
  return group.members.map((id) => byId.get(id) ?? `?${id}`).sort();
}

describe("ldap source against OpenLDAP", () => {
  it("reads every user with names, email and a canonical entryUUID", async () => {
    const r = await read();
    expect(r.complete).toBe(true);
    expect(r.incompleteReason).toBeUndefined();
    expect(r.directory.users).toHaveLength(8);
    const alice = r.directory.users.find((u) => u.email === "alice@example.org");
    // the seed stores alice's entryUUID in upper case: the id is the canonical lowercase form
    expect(alice).toEqual({
      id: "6f1c2a4e-9b3d-4c5e-8f70-1a2b3c4d5e6f",
      email: "alice@example.org",
      givenName: "Alice",
      familyName: "Nguyen",
      displayName: "Alice Nguyen",
      active: true,
    });
    for (const u of r.directory.users) expect(u.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.fingerprint).toContain(url);
    expect(r.fingerprint).not.toContain(env.LDAP_BIND_PASSWORD);
  });

  it("a locked account (pwdAccountLockedTime) is read as inactive", async () => {
    const r = await read();
    expect(r.directory.users.find((u) => u.email === "erin@example.org")?.active).toBe(false);
    expect(r.directory.users.filter((u) => !u.active)).toHaveLength(1);
  });

  it("groupOfNames members, including a DN with an escaped comma and a DN in another case and spacing", async () => {
    const r = await read();
    expect(emailsOf(r.directory, "data-platform-engineers")).toEqual(["alice@example.org", "bob@example.org", "grace.smith@example.org"]);
    expect(emailsOf(r.directory, "analysts-finance")).toEqual(["carol@example.org", "dave@example.org"]);
    const g = r.directory.groups.find((x) => x.name === "it-admins")!;
    expect(g.dn).toBe(`cn=it-admins,ou=groups,${base}`);
    expect(g.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("groupOfUniqueNames members (with an optional UID suffix) and posixGroup memberUid", async () => {
    const r = await read();
    expect(emailsOf(r.directory, "bi-viewers")).toEqual(["Heidi.Schulz@Example.org", "frank@example.org"]);
    expect(emailsOf(r.directory, "ops-shell")).toEqual(["dave@example.org", "erin@example.org"]);
  });

  it("memberOf on users adds memberships (member not readable on groups)", async () => {
    // the real server's answers, with "member" removed from group entries: only memberOf can fill "reporting"
    const stripMember: LdapClientFactory = (o) => {
      const c = new Client(o);
      return {
        startTLS: (t) => c.startTLS(t),
        bind: (dn, pw) => c.bind(dn, pw),
        search: (b, s) => c.search(b, s),
        unbind: () => c.unbind(),
        async *searchPaginated(b, s) {
          for await (const page of c.searchPaginated(b, s)) {
            if (b.startsWith("ou=groups")) for (const e of page.searchEntries) delete e.member;
            yield page;
          }
        },
      };
    };
    const cfg = config({ attributes: { ...config().attributes, memberOf: "memberOf" } });
    const withMemberOf = await createSource(cfg, { env, baseDir: "/", ldapClientFactory: stripMember }).read();
    expect(emailsOf(withMemberOf.directory, "reporting")).toEqual(["alice@example.org", "carol@example.org"]);
    const without = await createSource(config(), { env, baseDir: "/", ldapClientFactory: stripMember }).read();
    expect(emailsOf(without.directory, "reporting")).toEqual([]);
  });

  it("without nestedGroups a group member that is a group is not expanded", async () => {
    const r = await read();
    expect(emailsOf(r.directory, "data-governance-leads")).toEqual(["Heidi.Schulz@Example.org"]);
  });

  it("nested groups are flattened, and a cycle terminates", async () => {
    const r = await read({ nestedGroups: true });
    expect(emailsOf(r.directory, "data-governance-leads")).toEqual(["Heidi.Schulz@Example.org", "alice@example.org"]);
    expect(emailsOf(r.directory, "cycle-a")).toEqual(["bob@example.org", "carol@example.org"]);
    expect(emailsOf(r.directory, "cycle-b")).toEqual(["bob@example.org", "carol@example.org"]);
  });

  it("a paged search across several pages (pageSize 2) reads everything", async () => {
    const paged = await read({ pageSize: 2 });
    const whole = await read();
    expect(paged.complete).toBe(true);
    expect(paged.directory.users.map((u) => u.id).sort()).toEqual(whole.directory.users.map((u) => u.id).sort());
    expect(paged.directory.groups.length).toBe(whole.directory.groups.length);
    expect(paged.directory.groups.length).toBeGreaterThan(2);
  });

  it("the configured size limit hit is an incomplete read", async () => {
    const r = await read({ sizeLimit: 5, pageSize: 2 });
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toMatch(/size limit of 5/);
  });

  it("the server's size limit hit is an incomplete read, never a short directory", async () => {
    const r = await read({ bindDn: LIMITED_READER.dn, pageSize: 2 }, { LDAP_BIND_PASSWORD: LIMITED_READER.password });
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toMatch(/server's size limit/);
  });

  it("a wrong password is SYNC_SOURCE_FAILED (exit 5) and the message holds no password", async () => {
    const err = await read({}, { LDAP_BIND_PASSWORD: "wrong-secret-value" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvisioningError);
    expect((err as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect(exitCodeOf(err)).toBe(5);
    expect((err as Error).message).toContain("InvalidCredentialsError");
    expect((err as Error).message).not.toContain("wrong-secret-value");
  });

  it("a server that does not answer is SYNC_SOURCE_FAILED", async () => {
    const err = await read({ url: "ldap://127.0.0.1:1", timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((err as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
  });

  it("a missing bind password variable is a configuration error naming the variable", async () => {
    const err = await read({}, {}).catch((e: unknown) => e);
    expect((err as ProvisioningError).code).toBe("CONFIG_MISSING_SECRET");
    expect((err as Error).message).toContain('"LDAP_BIND_PASSWORD"');
  });

  it("a search that matches nothing is returned as an empty, complete read (the abort lives in the sync)", async () => {
    const r = await read({ users: { baseDn: `ou=people,${base}`, filter: "(uid=nobody-here)", scope: "sub" } });
    expect(r.complete).toBe(true);
    expect(r.directory.users).toEqual([]);
  });
});
