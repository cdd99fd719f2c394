/**
 * LDAP source (OpenLDAP, Active Directory, any RFC 4511 server) through ldapts.
 * I/O only: the entries → directory mapping is in ./ldap-map.ts.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { Client, type ClientOptions, type SearchOptions, type SearchResult } from "ldapts";
import { ConfigError, ProvisioningError } from "../../errors.js";
import type { LdapSourceConfig } from "../../config/types.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import { mapLdapDirectory, nextRangeAttribute, type LdapEntry } from "./ldap-map.js";
import { ldapFingerprint } from "./fingerprint.js";

/** The part of the ldapts `Client` this source uses (a seam for recorded responses in tests). */
export interface LdapClientLike {
  startTLS(options?: ConnectionOptions): Promise<void>;
  bind(dn: string, password?: string): Promise<void>;
  search(baseDN: string, options?: SearchOptions): Promise<SearchResult>;
  searchPaginated(baseDN: string, options?: SearchOptions): AsyncGenerator<SearchResult>;
  unbind(): Promise<void>;
}

export type LdapClientFactory = (options: ClientOptions) => LdapClientLike;

export interface LdapSourceOptions {
  env: Record<string, string | undefined>;
  /** folder that relative paths (caFile) are resolved against */
  baseDir: string;
  clientFactory?: LdapClientFactory;
  /** milliseconds since the epoch, for `accountExpires`; default Date.now */
  now?: () => number;
}

/** SourceRead plus the non-fatal oddities met on the way (safe to log). */
export interface LdapSourceRead extends SourceRead {
  warnings: string[];
}

/** Upper bound on `member;range=` follow-ups per group (1,500 values each in AD: 15 million members). */
const MAX_RANGE_REQUESTS = 10_000;

function describe(e: unknown): string {
  if (e instanceof Error) {
    const msg = e.message.trim();
    return msg ? `${e.name}: ${msg}` : e.name;
  }
  return String(e);
}

function isResultCode(e: unknown, code: number): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

const SIZE_LIMIT_EXCEEDED = 4;
const TIME_LIMIT_EXCEEDED = 3;

interface SearchOutcome {
  entries: LdapEntry[];
  incompleteReason?: string;
}

export function createLdapSource(config: LdapSourceConfig, options: LdapSourceOptions): DirectorySource & {
  read(signal?: AbortSignal): Promise<LdapSourceRead>;
} {
  const fingerprint = ldapFingerprint(config);
  const factory: LdapClientFactory = options.clientFactory ?? ((o) => new Client(o));
  const now = options.now ?? Date.now;

  async function pagedSearch(
    client: LdapClientLike,
    what: string,
    baseDn: string,
    search: SearchOptions,
    signal: AbortSignal | undefined,
  ): Promise<SearchOutcome> {
    const entries: LdapEntry[] = [];
    let page = 0;
    try {
      // sizeLimit 0 on the wire: ldapts hides a server "sizeLimitExceeded" when the request carries a limit,
      // so the configured limit is enforced here instead
      for await (const result of client.searchPaginated(baseDn, { ...search, sizeLimit: 0, paged: { pageSize: config.pageSize } })) {
        signal?.throwIfAborted();
        page++;
        if (page > 1 && result.searchEntries.length === 0 && result.searchReferences.length === 0) {
          return { entries, incompleteReason: `${what} search: page ${page} came back empty before the end` };
        }
        entries.push(...(result.searchEntries as LdapEntry[]));
        if (config.sizeLimit > 0 && entries.length > config.sizeLimit) {
          return { entries, incompleteReason: `${what} search: more than the size limit of ${config.sizeLimit} entries` };
        }
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      if (isResultCode(e, SIZE_LIMIT_EXCEEDED)) {
        return { entries, incompleteReason: `${what} search: the server's size limit was hit after ${entries.length} entries` };
      }
      if (isResultCode(e, TIME_LIMIT_EXCEEDED)) {
        return { entries, incompleteReason: `${what} search: the server's time limit was hit after ${entries.length} entries` };
      }
      if (page === 0) {
        throw new ProvisioningError("SYNC_SOURCE_FAILED", `ldap ${what} search under "${baseDn}" failed: ${describe(e)}`, { cause: e });
      }
      return { entries, incompleteReason: `${what} search failed after page ${page}: ${describe(e)}` };
    }
    return { entries };
  }

  async function followRanges(client: LdapClientLike, group: LdapEntry, signal: AbortSignal | undefined): Promise<string | undefined> {
    for (let i = 0; i < MAX_RANGE_REQUESTS; i++) {
      const next = nextRangeAttribute(group, "member");
      if (next === undefined) return undefined;
      signal?.throwIfAborted();
      let result: SearchResult;
      try {
        result = await client.search(group.dn, { scope: "base", filter: "(objectClass=*)", attributes: [next] });
      } catch (e) {
        return `group "${group.dn}": reading "${next}" failed: ${describe(e)}`;
      }
      const entry = result.searchEntries[0] as LdapEntry | undefined;
      const before = Object.keys(group).length;
      if (entry) {
        for (const [key, value] of Object.entries(entry)) {
          if (/;range=/i.test(key)) group[key] = value;
        }
      }
      if (Object.keys(group).length === before) return `group "${group.dn}": the server returned no values for "${next}"`;
    }
    return `group "${group.dn}": more than ${MAX_RANGE_REQUESTS} member ranges`;
  }

  async function read(signal?: AbortSignal): Promise<LdapSourceRead> {
    const password = options.env[config.bindPasswordEnv];
    if (config.bindDn && (password === undefined || password === "")) {
      throw new ConfigError(`environment variable "${config.bindPasswordEnv}" holding the ldap bind password is not set`, {
        code: "CONFIG_MISSING_SECRET",
      });
    }
    let ca: Buffer | undefined;
    if (config.caFile) {
      const caPath = resolve(options.baseDir, config.caFile);
      try {
        ca = readFileSync(caPath);
      } catch (e) {
        throw new ConfigError(`cannot read the ldap "caFile" "${caPath}": ${describe(e)}`, { cause: e, file: caPath });
      }
    }
    const tlsOptions: ConnectionOptions = ca ? { ca } : {};
    const client = factory({
      url: config.url,
      timeout: config.timeoutMs,
      connectTimeout: config.timeoutMs,
      tlsOptions,
    });
    try {
      try {
        if (config.startTls) await client.startTLS(tlsOptions);
        if (config.bindDn) await client.bind(config.bindDn, password);
      } catch (e) {
        throw new ProvisioningError(
          "SYNC_SOURCE_FAILED",
          `ldap ${config.startTls ? "starttls or bind" : "bind"} to "${config.url}" as "${config.bindDn}" failed: ${describe(e)}`,
          { cause: e, publicReason: "the directory could not be read" },
        );
      }

      const a = config.attributes;
      const ad = config.activeDirectory;
      const binaryAttributes = ["objectGUID", "objectguid", "objectSid"];
      if (!binaryAttributes.includes(a.id) && a.id.toLowerCase() === "objectguid") binaryAttributes.push(a.id);
      const userAttributes = unique([
        a.id,
        a.email,
        a.givenName,
        a.familyName,
        a.displayName,
        "uid",
        ...(a.memberOf ? [a.memberOf] : []),
        ...(ad ? ["userAccountControl", "accountExpires"] : ["pwdAccountLockedTime"]),
      ]);
      const groupAttributes = unique([a.id, a.groupName, "member", "uniqueMember", "memberUid", a.member]);

      const users = await pagedSearch(
        client,
        "users",
        config.users.baseDn,
        { scope: config.users.scope, filter: config.users.filter, attributes: userAttributes, explicitBufferAttributes: binaryAttributes },
        signal,
      );
      const groups = await pagedSearch(
        client,
        "groups",
        config.groups.baseDn,
        { scope: config.groups.scope, filter: config.groups.filter, attributes: groupAttributes, explicitBufferAttributes: binaryAttributes },
        signal,
      );

      const reasons: string[] = [];
      if (users.incompleteReason) reasons.push(users.incompleteReason);
      if (groups.incompleteReason) reasons.push(groups.incompleteReason);
      for (const group of groups.entries) {
        const r = await followRanges(client, group, signal);
        if (r) reasons.push(r);
      }

      const mapped = mapLdapDirectory(
        { users: users.entries, groups: groups.entries },
        { attributes: a, activeDirectory: ad, nestedGroups: config.nestedGroups, nowMs: now() },
      );
      reasons.push(...mapped.incompleteReasons);
      const out: LdapSourceRead = { directory: mapped.directory, complete: reasons.length === 0, fingerprint, warnings: mapped.warnings };
      if (reasons.length > 0) out.incompleteReason = reasons.join("; ");
      return out;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  return { fingerprint, read };
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => (seen.has(n.toLowerCase()) ? false : (seen.add(n.toLowerCase()), true)));
}
