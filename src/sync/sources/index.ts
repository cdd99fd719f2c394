/**
 * Source factory: the normalised `sync.source` config → a {@link DirectorySource}.
 */
import { ConfigError } from "../../errors.js";
import type { LdapSourceConfig, SyncSourceConfig } from "../../config/types.js";
import type { DirectorySource } from "../directory.js";
import { createFileSource } from "./file.js";
import { createLdapSource, type LdapClientFactory } from "./ldap.js";

export { createFileSource, parseDirectoryJson } from "./file.js";
export { createLdapSource, ldapFingerprint } from "./ldap.js";
export type { LdapClientFactory, LdapClientLike, LdapSourceRead } from "./ldap.js";

export interface CreateSourceOptions {
  env: Record<string, string | undefined>;
  /** folder relative paths are resolved against (the config file's folder) */
  baseDir: string;
  /** LDAP client seam, for recorded responses */
  ldapClientFactory?: LdapClientFactory;
  /** clock for `accountExpires`; default Date.now */
  now?: () => number;
}

export const SOURCE_TYPES = ["file", "ldap"] as const;

export function createSource(config: SyncSourceConfig, options: CreateSourceOptions): DirectorySource {
  switch (config.type) {
    case "file": {
      const path = (config as { path?: unknown }).path;
      if (typeof path !== "string" || path === "") throw new ConfigError('"sync.source.path" must be a non-empty string');
      return createFileSource({ path }, { baseDir: options.baseDir });
    }
    case "ldap":
      return createLdapSource(config as LdapSourceConfig, {
        env: options.env,
        baseDir: options.baseDir,
        ...(options.ldapClientFactory ? { clientFactory: options.ldapClientFactory } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
    default:
      throw new ConfigError(`unknown "sync.source.type" "${config.type}"`, { hint: `use one of ${SOURCE_TYPES.join(", ")}` });
  }
}
