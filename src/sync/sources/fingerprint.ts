/**
 * What each source binds into the snapshot state (`SourceRead.fingerprint`): a stable
 * description of where it reads, never a secret. Pure, and apart from the source modules (whose
 * client libraries are loaded on the first read), so that a run knows it before reading: the
 * snapshot state is opened and the Catalog read started while the source is still being read.
 */
import type { Auth0SourceConfig, GoogleSourceConfig, LdapSourceConfig, MsGraphSourceConfig, OktaSourceConfig } from "../../config/types.js";

export function fileFingerprint(path: string): string {
  return `file ${path}`;
}

export function ldapFingerprint(config: LdapSourceConfig): string {
  const u = config.users;
  const g = config.groups;
  return `ldap ${config.url} users=${u.baseDn}?${u.scope}?${u.filter} groups=${g.baseDn}?${g.scope}?${g.filter} id=${config.attributes.id}`;
}

export function msgraphFingerprint(config: MsGraphSourceConfig): string {
  return `msgraph ${config.baseUrl} tenant=${config.tenantId} client=${config.clientId} users=${config.userFilter ?? "*"} groups=${config.groupFilter ?? "*"} transitive=${config.transitiveMembers}`;
}

export function oktaFingerprint(config: OktaSourceConfig): string {
  return `okta ${config.orgUrl} groups=${config.groupSearch ?? "*"} inactive=${config.inactiveStatuses.join(",")}`;
}

export function googleFingerprint(config: GoogleSourceConfig): string {
  return `google ${config.baseUrl} ${config.domain ? `domain=${config.domain}` : `customer=${config.customer}`} subject=${config.subject} nested=${config.nestedGroups}`;
}

/** `domain` as the source reads it from its environment variable: without scheme or trailing slash */
export function auth0Fingerprint(config: Auth0SourceConfig, domain: string): string {
  return `auth0 ${config.baseUrl ?? `https://${domain}`} connection=${config.connection ?? "*"} groups=${config.groupsFrom}`;
}

/** the Auth0 domain from the environment, normalised as the source does; undefined when unset */
export function auth0Domain(config: Auth0SourceConfig, env: Record<string, string | undefined>): string | undefined {
  const v = env[config.domainEnv]?.trim();
  return v ? v.replace(/^https?:\/\//, "").replace(/\/+$/, "") : undefined;
}
