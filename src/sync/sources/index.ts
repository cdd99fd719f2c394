/**
 * Source factory: the normalised `sync.source` config → a {@link DirectorySource}.
 */
import { ConfigError } from "../../errors.js";
import type {
  Auth0SourceConfig,
  GoogleSourceConfig,
  LdapSourceConfig,
  MsGraphSourceConfig,
  OktaSourceConfig,
  SyncSourceConfig,
} from "../../config/types.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import { createFileSource } from "./file.js";
import { auth0Domain, auth0Fingerprint, googleFingerprint, ldapFingerprint, msgraphFingerprint, oktaFingerprint } from "./fingerprint.js";
import type { LdapClientFactory } from "./ldap.js";
import type { FetchLike } from "./http.js";

// The sources other than `file` are loaded when configured, on the first read: their client
// libraries (an LDAP client, a JWT signer) cost start-up time to every run that does not use them.
export { createFileSource, parseDirectoryJson } from "./file.js";
export type { LdapClientFactory, LdapClientLike, LdapSourceRead } from "./ldap.js";
export type { FetchLike, RestSourceOptions } from "./http.js";

export interface CreateSourceOptions {
  env: Record<string, string | undefined>;
  /** folder relative paths are resolved against (the config file's folder) */
  baseDir: string;
  /** LDAP client seam, for recorded responses */
  ldapClientFactory?: LdapClientFactory;
  /** clock for `accountExpires`; default Date.now */
  now?: () => number;
  /** HTTP seam for the REST sources (msgraph, okta, google, auth0); default global fetch */
  fetch?: FetchLike;
  /** backoff and Retry-After waits of the REST sources; default a real timer */
  sleep?: (ms: number) => Promise<void>;
}

export const SOURCE_TYPES = ["file", "ldap", "msgraph", "okta", "google", "auth0"] as const;

export function createSource(config: SyncSourceConfig, options: CreateSourceOptions): DirectorySource {
  switch (config.type) {
    case "file": {
      const path = (config as { path?: unknown }).path;
      if (typeof path !== "string" || path === "") throw new ConfigError('"sync.source.path" must be a non-empty string');
      return createFileSource({ path }, { baseDir: options.baseDir });
    }
    case "ldap":
      return lazySource(
        async () =>
          (await import("./ldap.js")).createLdapSource(config as LdapSourceConfig, {
            env: options.env,
            baseDir: options.baseDir,
            ...(options.ldapClientFactory ? { clientFactory: options.ldapClientFactory } : {}),
            ...(options.now ? { now: options.now } : {}),
          }),
        ldapFingerprint(config as LdapSourceConfig),
      );
    case "msgraph":
      return lazySource(
        async () => (await import("./msgraph.js")).createMsGraphSource(config as MsGraphSourceConfig, restOptions(options)),
        msgraphFingerprint(config as MsGraphSourceConfig),
      );
    case "okta":
      return lazySource(async () => (await import("./okta.js")).createOktaSource(config as OktaSourceConfig, restOptions(options)), oktaFingerprint(config as OktaSourceConfig));
    case "google":
      return lazySource(
        async () => (await import("./google.js")).createGoogleSource(config as GoogleSourceConfig, restOptions(options)),
        googleFingerprint(config as GoogleSourceConfig),
      );
    case "auth0": {
      const domain = auth0Domain(config as Auth0SourceConfig, options.env);
      return lazySource(
        async () => (await import("./auth0.js")).createAuth0Source(config as Auth0SourceConfig, restOptions(options)),
        domain !== undefined ? auth0Fingerprint(config as Auth0SourceConfig, domain) : undefined,
      );
    }
    default:
      throw new ConfigError(`unknown "sync.source.type" "${config.type}"`, { hint: `use one of ${SOURCE_TYPES.join(", ")}` });
  }
}

function restOptions(options: CreateSourceOptions) {
  return {
    env: options.env,
    baseDir: options.baseDir,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}

/** a source whose module is imported (and which is created) on its first read */
function lazySource(create: () => Promise<DirectorySource>, fingerprint: string | undefined): DirectorySource {
  let source: Promise<DirectorySource> | undefined;
  return {
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    async read(signal?: AbortSignal): Promise<SourceRead> {
      source ??= create();
      source.catch(() => (source = undefined));
      return (await source).read(signal);
    },
  };
}
