/**
 * The minimal JSON the Post-Login Action needs, compiled into the bundle at build time:
 * targets with their mapping rules and secret names, per-connection settings, the attribute
 * mapping and the login policy. No sync section, no secrets, no file paths, no URLs (the
 * Action reads the URL from its secrets). Keys are written in a fixed order so that the same
 * config always yields the same bytes.
 */
import type { AttributeMapping, ConnectionConfig, GroupMapping, IdpGroupRef, LoginPolicy, ProvisioningConfig } from "./types.js";

export interface ActionTargetConfig {
  name: string;
  match: { connections: string[]; organizations: string[] };
  /** names of the Action secrets holding the URL and the keys */
  secrets: { url: string; apiKey: string; apiKeyNext: string };
  domains: string[];
  groups: GroupMapping;
  exclude: { users: string[]; groups: string[] };
}

export interface ActionConfig {
  version: 1;
  targets: ActionTargetConfig[];
  connections: Record<string, ConnectionConfig>;
  attributes: AttributeMapping;
  login: LoginPolicy;
}

export function compileActionConfig(config: Pick<ProvisioningConfig, "targets" | "connections" | "attributes" | "login">): ActionConfig {
  const connections: Record<string, ConnectionConfig> = {};
  for (const name of Object.keys(config.connections).sort()) {
    const c = config.connections[name]!;
    const cc: ConnectionConfig = { lifecycle: c.lifecycle, anchor: c.anchor, mode: c.mode };
    if (c.groupsClaim !== undefined) cc.groupsClaim = c.groupsClaim;
    if (c.splitGroups !== undefined) cc.splitGroups = c.splitGroups;
    if (c.groupsCap !== undefined) cc.groupsCap = c.groupsCap;
    connections[name] = cc;
  }
  const a = config.attributes;
  const l = config.login;
  return {
    version: 1,
    targets: config.targets.map((t) => ({
      name: t.name,
      match: { connections: [...t.match.connections], organizations: [...t.match.organizations] },
      secrets: { url: t.catalog.urlSecret, apiKey: t.catalog.apiKeySecret, apiKeyNext: t.catalog.apiKeyNextSecret },
      domains: [...t.domains],
      groups: {
        rules: t.groups.rules.map((r) => ({ idp: ref(r.idp), catalogGroups: [...r.catalogGroups] })),
        caseInsensitive: t.groups.caseInsensitive,
        privileged: [...t.groups.privileged],
      },
      exclude: { users: [...t.exclude.users], groups: [...t.exclude.groups] },
    })),
    connections,
    attributes: { userName: a.userName, givenName: a.givenName, familyName: a.familyName, displayName: a.displayName, email: a.email },
    login: {
      clients: [...l.clients],
      fail: l.fail,
      budgetMs: l.budgetMs,
      requestTimeoutMs: l.requestTimeoutMs,
      ttlSeconds: l.ttlSeconds,
      ttlJitter: l.ttlJitter,
      refreshTokens: l.refreshTokens,
      breakerFailures: l.breakerFailures,
      breakerCooldownSeconds: l.breakerCooldownSeconds,
      tokenClaim: { enabled: l.tokenClaim.enabled, name: l.tokenClaim.name, idToken: l.tokenClaim.idToken, accessToken: l.tokenClaim.accessToken },
      denyReason: l.denyReason,
      metadataKey: l.metadataKey,
    },
  };
}

function ref(r: IdpGroupRef): IdpGroupRef {
  return { kind: r.kind, value: r.value };
}
