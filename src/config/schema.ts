/**
 * JSON Schema (draft-07) of `provisioning.yaml`. Shape only: cross-field rules (shorthand vs
 * targets, URLs, privileged keys, secrets) live in `load.ts`. Documented in docs/configuration.md.
 *
 * The larger sections are `definitions` reached by `$ref`: with `inlineRefs: false` each becomes
 * its own function in the generated validator, compiled when a file first has that section,
 * instead of one function holding every section that each command start had to compile.
 */

type DefinitionName =
  | "target"
  | "connection"
  | "attributes"
  | "login"
  | "sync"
  | "source"
  | "sourceFile"
  | "sourceLdap"
  | "sourceMsgraph"
  | "sourceOkta"
  | "sourceGoogle"
  | "sourceAuth0"
  | "guards"
  | "scim";

/** a schema reached through `#/definitions/<name>` */
const ref = (name: DefinitionName): { $ref: string } => ({ $ref: `#/definitions/${name}` });

const str = { type: "string", minLength: 1 } as const;
const strList = { type: "array", items: str } as const;
const bool = { type: "boolean" } as const;
const posInt = { type: "integer", minimum: 1 } as const;
const nonNegInt = { type: "integer", minimum: 0 } as const;
const ratio = { type: "number", minimum: 0, maximum: 1 } as const;

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: "object",
  additionalProperties: false,
  properties,
  ...(required.length > 0 ? { required } : {}),
});

/** IdP group key → Catalog group name, or a list of them */
const groupMapping = {
  type: "object",
  additionalProperties: { type: ["string", "array"], minLength: 1, minItems: 1, items: str },
} as const;

const catalog = obj({ url: str, urlSecret: str, apiKeySecret: str, apiKeyNextSecret: str });
const exclude = obj({ users: strList, groups: strList });
const include = obj({ users: strList });

const targetCommon = {
  groups: groupMapping,
  privileged: strList,
  caseInsensitiveGroups: bool,
  domains: strList,
  exclude,
  include,
};

const target = obj(
  {
    name: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" },
    match: obj({ connections: strList, organizations: strList }),
    catalog,
    ...targetCommon,
  },
  ["name", "groups"],
);

const connection = obj({
  lifecycle: { enum: ["sync", "login"] },
  anchor: str,
  groupsClaim: str,
  splitGroups: bool,
  groupsCap: posInt,
  mode: { enum: ["on", "shadow", "off"] },
});

const attributes = obj({ userName: str, givenName: str, familyName: str, displayName: str, email: str });

const login = obj({
  clients: strList,
  fail: { enum: ["open", "closed"] },
  budgetMs: { type: "integer", minimum: 100, maximum: 20000 },
  requestTimeoutMs: { type: "integer", minimum: 50, maximum: 20000 },
  ttlSeconds: nonNegInt,
  ttlJitter: ratio,
  refreshTokens: bool,
  breaker: obj({ failures: posInt, cooldownSeconds: nonNegInt }),
  tokenClaim: obj({ enabled: bool, name: str, idToken: bool, accessToken: bool }),
  denyReason: str,
  metadataKey: { type: "string", pattern: "^[A-Za-z0-9_]+$" },
});

const ldapSearch = obj({ baseDn: str, filter: str, scope: { enum: ["sub", "one"] } });

const envVar = { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" } as const;

/** keys every REST source (msgraph, okta, google, auth0) accepts */
const restCommon = {
  type: str,
  connection: str,
  pageSize: posInt,
  timeoutMs: posInt,
  maxRetries: nonNegInt,
  concurrency: { type: "integer", minimum: 1, maximum: 32 },
};

export const SOURCE_TYPES = ["file", "ldap", "msgraph", "okta", "google", "auth0"] as const;

const sourceFile = obj({ type: str, path: str, connection: str }, ["path"]);

const sourceLdap = obj(
  {
    type: str,
    url: str,
    bindDn: str,
    bindPasswordEnv: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
    startTls: bool,
    caFile: str,
    connection: str,
    baseDn: str,
    users: ldapSearch,
    groups: ldapSearch,
    attributes: obj({
      id: str,
      email: str,
      givenName: str,
      familyName: str,
      displayName: str,
      groupName: str,
      member: str,
      memberOf: str,
    }),
    activeDirectory: bool,
    nestedGroups: bool,
    pageSize: posInt,
    sizeLimit: nonNegInt,
    timeoutMs: posInt,
  },
  ["url"],
);

const sourceMsgraph = obj(
  {
    ...restCommon,
    tenantId: str,
    clientId: str,
    clientSecretEnv: envVar,
    authorityUrl: str,
    baseUrl: str,
    transitiveMembers: bool,
    groupFilter: str,
    userFilter: str,
  },
  ["tenantId", "clientId"],
);

const sourceOkta = obj({ ...restCommon, orgUrl: str, apiTokenEnv: envVar, inactiveStatuses: strList, groupSearch: str }, ["orgUrl"]);

const sourceGoogle = obj(
  { ...restCommon, credentialsFileEnv: envVar, subject: str, customer: str, domain: str, tokenUrl: str, baseUrl: str, nestedGroups: bool },
  ["subject"],
);

const sourceAuth0 = obj({
  ...restCommon,
  domainEnv: envVar,
  clientIdEnv: envVar,
  clientSecretEnv: envVar,
  baseUrl: str,
  audience: str,
  groupsFrom: { enum: ["roles", "organizations"] },
});

const source = {
  type: "object",
  required: ["type"],
  properties: { type: { enum: [...SOURCE_TYPES] } },
  allOf: [
    {
      if: { properties: { type: { const: "file" } } },
      then: ref("sourceFile"),
    },
    {
      if: { properties: { type: { const: "ldap" } } },
      then: ref("sourceLdap"),
    },
    {
      if: { properties: { type: { const: "msgraph" } } },
      then: ref("sourceMsgraph"),
    },
    {
      if: { properties: { type: { const: "okta" } } },
      then: ref("sourceOkta"),
    },
    {
      if: { properties: { type: { const: "google" } } },
      then: ref("sourceGoogle"),
    },
    {
      if: { properties: { type: { const: "auth0" } } },
      then: ref("sourceAuth0"),
    },
  ],
};

const guard = obj({ min: nonNegInt, ratio });

const guards = obj({ deletions: guard, groupRemovals: guard, totalRemovals: guard, allowMissingGroups: strList });

const sync = obj(
  {
    source: ref("source"),
    mode: { enum: ["live", "snapshot"] },
    scope: { enum: ["mapped", "all"] },
    deprovision: obj({ removeMemberships: bool, deleteAfterDays: { type: ["integer", "null"], minimum: 0 } }),
    guards: ref("guards"),
    batchSize: { type: "integer", minimum: 1, maximum: 1000 },
    concurrency: { type: "integer", minimum: 1, maximum: 64 },
    auditEveryHours: { type: "number", minimum: 0 },
    statePath: str,
    ledgerPath: str,
    lockPath: str,
    auditLogPath: str,
  },
  ["source"],
);

const scim = obj({
  timeoutMs: posInt,
  retries: nonNegInt,
  rateLimit: { type: ["number", "null"], exclusiveMinimum: 0 },
  maxConnections: posInt,
});

const definitions: Record<DefinitionName, object> = {
  target,
  connection,
  attributes,
  login,
  sync,
  source,
  sourceFile,
  sourceLdap,
  sourceMsgraph,
  sourceOkta,
  sourceGoogle,
  sourceAuth0,
  guards,
  scim,
};

export const provisioningSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    catalog,
    ...targetCommon,
    targets: { type: "array", minItems: 1, items: ref("target") },
    connections: { type: "object", additionalProperties: ref("connection") },
    attributes: ref("attributes"),
    login: ref("login"),
    sync: ref("sync"),
    scim: ref("scim"),
  },
  definitions,
} as const;
