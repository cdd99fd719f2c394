// Active Directory behaviour, from recorded search responses shaped like ldapts `searchEntries`.
import { describe, expect, it } from "vitest";
import type { SearchOptions, SearchResult } from "ldapts";
import type { LdapSourceConfig } from "../../src/config/types.js";
import { canonicalImmutableId } from "../../src/identity.js";
import {
  canonicalLdapId,
  filetimeToMs,
  mapLdapDirectory,
  nextRangeAttribute,
  normalizeDn,
  type LdapEntry,
  type LdapMapOptions,
} from "../../src/sync/sources/ldap-map.js";
import { createSource, type LdapClientFactory } from "../../src/sync/sources/index.js";

// objectGUID bytes of {0d4ee4c2-5a06-4e4f-a7b0-1a2b3c4d5e6f} (first three fields little-endian)
const GUID_BYTES = Buffer.from([0xc2, 0xe4, 0x4e, 0x0d, 0x06, 0x5a, 0x4f, 0x4e, 0xa7, 0xb0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f]);
const GUID = "0d4ee4c2-5a06-4e4f-a7b0-1a2b3c4d5e6f";

const NOW = Date.UTC(2026, 0, 15);
/** FILETIME for a date: 100 ns ticks since 1601-01-01 */
const filetime = (ms: number) => String((BigInt(ms) + 11_644_473_600_000n) * 10_000n);

const attributes: LdapSourceConfig["attributes"] = {
  id: "objectGUID",
  email: "mail",
  givenName: "givenName",
  familyName: "sn",
  displayName: "displayName",
  groupName: "cn",
  member: "member",
};
const mapOptions: LdapMapOptions = { attributes, activeDirectory: true, nestedGroups: false, nowMs: NOW };

function guidBytes(n: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(n, 12);
  return b;
}
function adUser(n: number, extra: Record<string, string | Buffer> = {}): LdapEntry {
  return {
    dn: `CN=User ${n},OU=Staff,DC=corp,DC=example,DC=com`,
    objectGUID: guidBytes(n),
    mail: `user${n}@corp.example.com`,
    givenName: "User",
    sn: String(n),
    displayName: `User ${n}`,
    userAccountControl: "512",
    accountExpires: "9223372036854775807",
    ...extra,
  };
}
const userDn = (n: number) => `CN=User ${n},OU=Staff,DC=corp,DC=example,DC=com`;
const GROUP_DN = "CN=Catalog Readers,OU=Groups,DC=corp,DC=example,DC=com";

describe("Active Directory objectGUID", () => {
  it("objectGUID bytes become the canonical lowercase GUID", () => {
    expect(canonicalLdapId(GUID_BYTES)).toBe(GUID);
    const r = mapLdapDirectory({ users: [adUser(1, { objectGUID: GUID_BYTES })], groups: [] }, mapOptions);
    expect(r.directory.users[0]!.id).toBe(GUID);
  });

  it("a base64 ImmutableID and a GUID string canonicalise to the same value as the bytes", () => {
    const immutableId = GUID_BYTES.toString("base64");
    expect(canonicalImmutableId(immutableId)).toBe(GUID);
    expect(canonicalImmutableId(`{${GUID.toUpperCase()}}`)).toBe(GUID);
    expect(canonicalLdapId(GUID.toUpperCase())).toBe(GUID);
  });

  it("objectGUID is requested as a buffer attribute", async () => {
    const calls: SearchOptions[] = [];
    await createSource(adConfig(), { env: { LDAP_BIND_PASSWORD: "x" }, baseDir: "/", ldapClientFactory: recorded({ users: [], groups: [] }, calls) }).read();
    expect(calls[0]!.explicitBufferAttributes).toContain("objectGUID");
    expect(calls[0]!.attributes).toEqual(expect.arrayContaining(["objectGUID", "userAccountControl", "accountExpires"]));
  });
});

describe("Active Directory account state", () => {
  it("userAccountControl with the ACCOUNTDISABLE bit (0x2) is inactive", () => {
    const r = mapLdapDirectory(
      { users: [adUser(1, { userAccountControl: "514" }), adUser(2, { userAccountControl: "66048" }), adUser(3, { userAccountControl: "66050" })], groups: [] },
      mapOptions,
    );
    expect(r.directory.users.map((u) => u.active)).toEqual([false, true, false]);
  });

  it("accountExpires in the past is inactive; 0 and 0x7FFFFFFFFFFFFFFF mean never", () => {
    const r = mapLdapDirectory(
      {
        users: [
          adUser(1, { accountExpires: filetime(NOW - 86_400_000) }),
          adUser(2, { accountExpires: filetime(NOW + 86_400_000) }),
          adUser(3, { accountExpires: "0" }),
          adUser(4, { accountExpires: "9223372036854775807" }),
        ],
        groups: [],
      },
      mapOptions,
    );
    expect(r.directory.users.map((u) => u.active)).toEqual([false, true, true, true]);
    expect(filetimeToMs(filetime(NOW))).toBe(NOW);
  });
});

describe("Active Directory ranged member retrieval", () => {
  const users = Array.from({ length: 3200 }, (_, i) => adUser(i));
  const dns = users.map((_, i) => userDn(i));

  it("follows member;range=0-1499 over three ranges until ;range=N-*", async () => {
    const group: LdapEntry = { dn: GROUP_DN, objectGUID: GUID_BYTES, cn: "Catalog Readers", member: [], "member;range=0-1499": dns.slice(0, 1500) };
    const follow = new Map<string, LdapEntry>([
      ["member;range=1500-*", { dn: GROUP_DN, "member;range=1500-2999": dns.slice(1500, 3000) }],
      ["member;range=3000-*", { dn: GROUP_DN, "member;range=3000-*": dns.slice(3000) }],
    ]);
    const calls: SearchOptions[] = [];
    const r = await createSource(adConfig(), {
      env: { LDAP_BIND_PASSWORD: "x" },
      baseDir: "/",
      now: () => NOW,
      ldapClientFactory: recorded({ users, groups: [group], follow }, calls),
    }).read();
    expect(r.complete).toBe(true);
    expect(r.directory.groups[0]!.members).toHaveLength(3200);
    expect(calls.filter((c) => c.scope === "base").map((c) => c.attributes)).toEqual([["member;range=1500-*"], ["member;range=3000-*"]]);
  });

  it("a range that is never finished makes the read incomplete, never a short group", async () => {
    const group: LdapEntry = { dn: GROUP_DN, objectGUID: GUID_BYTES, cn: "Catalog Readers", "member;range=0-1499": dns.slice(0, 1500) };
    const r = await createSource(adConfig(), {
      env: { LDAP_BIND_PASSWORD: "x" },
      baseDir: "/",
      ldapClientFactory: recorded({ users, groups: [group], follow: new Map() }),
    }).read();
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toContain("member;range=1500-*");
  });

  it("the pure mapping flags a gap between ranges", () => {
    const group: LdapEntry = {
      dn: GROUP_DN,
      objectGUID: GUID_BYTES,
      cn: "Catalog Readers",
      "member;range=0-1499": dns.slice(0, 1500),
      "member;range=3000-*": dns.slice(3000),
    };
    expect(nextRangeAttribute(group, "member")).toBeUndefined();
    const r = mapLdapDirectory({ users, groups: [group] }, mapOptions);
    expect(r.incompleteReasons).toHaveLength(1);
  });
});

describe("paged reads", () => {
  it("an empty page after the first is an incomplete read", async () => {
    const users = [adUser(1), adUser(2)];
    const factory: LdapClientFactory = () => ({
      startTLS: async () => {},
      bind: async () => {},
      search: async () => ({ searchEntries: [], searchReferences: [] }),
      unbind: async () => {},
      async *searchPaginated(base: string): AsyncGenerator<SearchResult> {
        if (base.startsWith("OU=Staff")) {
          yield { searchEntries: asEntries(users), searchReferences: [] };
          yield { searchEntries: [], searchReferences: [] };
        } else yield { searchEntries: [], searchReferences: [] };
      },
    });
    const r = await createSource(adConfig(), { env: { LDAP_BIND_PASSWORD: "x" }, baseDir: "/", ldapClientFactory: factory }).read();
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toMatch(/page 2 came back empty/);
  });

  it("a failure after the first page is an incomplete read with the reason", async () => {
    const factory: LdapClientFactory = () => ({
      startTLS: async () => {},
      bind: async () => {},
      search: async () => ({ searchEntries: [], searchReferences: [] }),
      unbind: async () => {},
      async *searchPaginated(): AsyncGenerator<SearchResult> {
        yield { searchEntries: asEntries([adUser(1)]), searchReferences: [] };
        throw new Error("socket closed");
      },
    });
    const r = await createSource(adConfig(), { env: { LDAP_BIND_PASSWORD: "x" }, baseDir: "/", ldapClientFactory: factory }).read();
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toContain("socket closed");
  });
});

describe("distinguished names", () => {
  it("compare regardless of case, spaces and escaping style", () => {
    expect(normalizeDn("CN=Smith\\, Grace, OU=People,DC=Example,DC=Org")).toBe(normalizeDn("cn=smith\\2c grace,ou=people,dc=example,dc=org"));
    expect(normalizeDn("cn=a,dc=x")).not.toBe(normalizeDn("cn=b,dc=x"));
  });
});

function adConfig(): LdapSourceConfig {
  return {
    type: "ldap",
    url: "ldaps://dc1.corp.example.com",
    bindDn: "CN=svc-sync,OU=Service,DC=corp,DC=example,DC=com",
    bindPasswordEnv: "LDAP_BIND_PASSWORD",
    startTls: false,
    users: { baseDn: "OU=Staff,DC=corp,DC=example,DC=com", filter: "(&(objectCategory=person)(objectClass=user))", scope: "sub" },
    groups: { baseDn: "OU=Groups,DC=corp,DC=example,DC=com", filter: "(objectClass=group)", scope: "sub" },
    attributes,
    activeDirectory: true,
    nestedGroups: false,
    pageSize: 1000,
    sizeLimit: 0,
    timeoutMs: 5000,
  };
}

/** A client that replays recorded entries: one page per search base, `follow` answers ranged base searches. */
function recorded(
  data: { users: LdapEntry[]; groups: LdapEntry[]; follow?: Map<string, LdapEntry> },
  calls: SearchOptions[] = [],
): LdapClientFactory {
  return () => ({
    startTLS: async () => {},
    bind: async () => {},
    unbind: async () => {},
    async search(_base: string, options?: SearchOptions): Promise<SearchResult> {
      calls.push(options ?? {});
      const entry = data.follow?.get(options?.attributes?.[0] ?? "");
      return { searchEntries: asEntries(entry ? [entry] : []), searchReferences: [] };
    },
    async *searchPaginated(base: string, options?: SearchOptions): AsyncGenerator<SearchResult> {
      calls.push(options ?? {});
      const entries = base.startsWith("OU=Staff") ? data.users : data.groups;
      yield { searchEntries: asEntries(entries.map((e) => ({ ...e }))), searchReferences: [] };
    },
  });
}

/** recorded entries typed as ldapts returns them */
function asEntries(entries: LdapEntry[]): SearchResult["searchEntries"] {
  return entries as SearchResult["searchEntries"];
}
