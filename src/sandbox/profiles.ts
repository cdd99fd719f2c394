/**
 * Sandbox profiles: `full` (everything RFC 7644 offers) and `minimal` (behaves like the many
 * small Catalogs in the wild).
 */
import { ScimResponseError } from "../errors.js";
import { filterAttributes, type Filter } from "./filter.js";
import type { SandboxProfile } from "./types.js";

export interface ProfileRules {
  name: SandboxProfile;
  bulk: boolean;
  etag: boolean;
  /** User carries the read-only `groups` attribute */
  userGroups: boolean;
  /** hard page cap, whatever `--max-page-size` says */
  pageCap: number;
  maxMembersPerGroup: number | undefined;
  externalIdUnique: boolean;
  /** attributes a filter may use (lowercase), and only `eq` / `and`; undefined = full grammar */
  filterAttributes: ReadonlySet<string> | undefined;
}

export const PROFILES: Record<SandboxProfile, ProfileRules> = {
  full: {
    name: "full",
    bulk: true,
    etag: true,
    userGroups: true,
    pageCap: Number.MAX_SAFE_INTEGER,
    maxMembersPerGroup: undefined,
    externalIdUnique: false,
    filterAttributes: undefined,
  },
  minimal: {
    name: "minimal",
    bulk: false,
    etag: false,
    userGroups: false,
    pageCap: 100,
    maxMembersPerGroup: 1000,
    externalIdUnique: true,
    filterAttributes: new Set(["username", "externalid", "displayname", "emails.value"]),
  },
};

export const DEFAULT_MAX_PAGE_SIZE = 1000;

/** @throws ScimResponseError 400 invalidFilter when the profile does not support the filter */
export function checkFilterSupported(rules: ProfileRules, filter: Filter): void {
  const allowed = rules.filterAttributes;
  if (!allowed) return;
  for (const { key, op } of filterAttributes(filter)) {
    if (op !== "eq" || !allowed.has(key)) {
      throw new ScimResponseError(400, {
        scimType: "invalidFilter",
        detail: `this Catalog supports only "eq" and "and" on "userName", "externalId", "displayName" and "emails.value"`,
      });
    }
  }
  const noOr = (f: Filter): boolean => (f.op === "or" ? false : f.op === "and" ? noOr(f.left) && noOr(f.right) : true);
  if (!noOr(filter)) throw new ScimResponseError(400, { scimType: "invalidFilter", detail: `"or" is not supported` });
}
