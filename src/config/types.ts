/**
 * The normalised configuration model: what `loadProvisioningConfig` returns after
 * validation and defaults. Every consumer (Action build, sync, doctor, verify, deploy)
 * reads this shape, never the raw YAML.
 */

/** Which side owns deactivation for a connection (ARCHITECTURE.md, "Lifecycle"). */
export type Lifecycle = "sync" | "login";

/** Per-connection switch, overridable at runtime by connection metadata. */
export type ConnectionMode = "off" | "shadow" | "on";

/** A parsed mapping key. A bare key matches an IdP group whose name, id or DN equals it. */
export type IdpGroupRef =
  | { kind: "any"; value: string }
  | { kind: "name"; value: string }
  | { kind: "id"; value: string }
  | { kind: "dn"; value: string };

/** One line of the group mapping: an IdP group → one or more Catalog groups (by `displayName`). */
export interface MappingRule {
  idp: IdpGroupRef;
  catalogGroups: string[];
  /** 1-based line in the config file, for messages */
  line?: number;
}

export interface GroupMapping {
  rules: MappingRule[];
  /** compare names and DNs case-insensitively (ids are always exact); default true */
  caseInsensitive: boolean;
  /** Catalog groups (displayName) that accept only `id:` or `dn:` mapping keys */
  privileged: string[];
}

/** Where a target's Catalog URL and keys come from (names of Action secrets / env vars). */
export interface CatalogEndpoint {
  /** literal URL from the file (shorthand `catalog.url`); `CATALOG_SCIM_URL` overrides it */
  url?: string;
  /** name of the secret / environment variable holding the URL; default CATALOG_SCIM_URL */
  urlSecret: string;
  /** default CATALOG_API_KEY */
  apiKeySecret: string;
  /** default CATALOG_API_KEY_NEXT */
  apiKeyNextSecret: string;
}

export interface TargetConfig {
  name: string;
  /** empty `connections` and `organizations` = every enterprise connection (shorthand form) */
  match: { connections: string[]; organizations: string[] };
  catalog: CatalogEndpoint;
  /** allowed `userName` domains for adoption (lowercase); empty = any */
  domains: string[];
  groups: GroupMapping;
  /** never touched: users (by email, userName or externalId) and Catalog groups (by displayName) */
  exclude: { users: string[]; groups: string[] };
  /** when non-empty, only these users (by email or externalId) are in scope for the sync */
  include: { users: string[] };
}

export interface ConnectionConfig {
  /** default "sync" */
  lifecycle: Lifecycle;
  /**
   * How the `externalId` anchor is taken for the Action:
   * "user_id" (default: the identity's user_id for this connection, provider prefix stripped)
   * or a profile attribute name such as "oid", "objectGUID", "http://schemas.microsoft.com/identity/claims/objectidentifier".
   */
  anchor: string;
  /** override of the profile key holding groups */
  groupsClaim?: string;
  /** split comma-separated group strings; default true for strategy "okta", false elsewhere */
  splitGroups?: boolean;
  /** maximum number of groups the IdP sends before cutting the list (overrides the per-strategy cap) */
  groupsCap?: number;
  /** default mode when the connection's metadata says nothing; default "on" */
  mode: ConnectionMode;
}

/** SCIM attribute ← normalised user field (`email`, `givenName`, `familyName`, `displayName`). */
export interface AttributeMapping {
  userName: string;
  givenName: string;
  familyName: string;
  displayName: string;
  email: string;
}

export interface LoginPolicy {
  /** only these Auth0 client ids run provisioning; empty = every application */
  clients: string[];
  /** "open" (default): the login continues on Catalog failure; "closed": deny (Catalog apps only) */
  fail: "open" | "closed";
  /** whole Action budget, ms; default 2000 */
  budgetMs: number;
  /** per request timeout, ms; default 1000 */
  requestTimeoutMs: number;
  /** an unchanged repeat login within this many seconds makes zero requests; default 3600 */
  ttlSeconds: number;
  /** ± share of the TTL used as jitter; default 0.2 */
  ttlJitter: number;
  /** process refresh-token exchanges too; default false */
  refreshTokens: boolean;
  /** consecutive failures that open the circuit; default 3 */
  breakerFailures: number;
  /** how long the circuit stays open, seconds; default 60 */
  breakerCooldownSeconds: number;
  /** add the desired Catalog group names as a custom claim; default off */
  tokenClaim: { enabled: boolean; name: string; idToken: boolean; accessToken: boolean };
  /** `public reason` shown by `api.access.deny` with fail: closed */
  denyReason: string;
  /** app_metadata key used for the last-applied state; default "catalog_provisioning" */
  metadataKey: string;
}

export type SyncSourceConfig =
  | { type: "file"; path: string; /** Auth0 connection this directory backs (its lifecycle then applies), optional */ connection?: string }
  | LdapSourceConfig
  | MsGraphSourceConfig
  | OktaSourceConfig
  | GoogleSourceConfig
  | Auth0SourceConfig
  | { type: string; [key: string]: unknown };

/** Keys every REST source (msgraph, okta, google, auth0) shares. */
export interface RestSourceCommon {
  /** Auth0 connection this directory backs (ties users to a connection's lifecycle), optional */
  connection?: string;
  /** items per page asked for (capped by each API's maximum) */
  pageSize: number;
  /** per request, ms; default 30000 */
  timeoutMs: number;
  /** retries per request on 429, 5xx and network errors; default 4 */
  maxRetries: number;
  /** concurrent member-list reads; default 4 */
  concurrency: number;
}

/** Microsoft Entra ID through Microsoft Graph (client credentials). */
export interface MsGraphSourceConfig extends RestSourceCommon {
  type: "msgraph";
  tenantId: string;
  clientId: string;
  /** default MSGRAPH_CLIENT_SECRET */
  clientSecretEnv: string;
  /** default https://login.microsoftonline.com */
  authorityUrl: string;
  /** default https://graph.microsoft.com/v1.0 */
  baseUrl: string;
  /** read `transitiveMembers` (nested groups flattened by Graph); default false */
  transitiveMembers: boolean;
  /** OData `$filter` for `/groups`, optional */
  groupFilter?: string;
  /** OData `$filter` for `/users`, optional */
  userFilter?: string;
}

/** Okta (API token). */
export interface OktaSourceConfig extends RestSourceCommon {
  type: "okta";
  /** `https://<org>.okta.com` */
  orgUrl: string;
  /** default OKTA_API_TOKEN */
  apiTokenEnv: string;
  /** Okta statuses read as inactive; default SUSPENDED, DEPROVISIONED */
  inactiveStatuses: string[];
  /** Okta `search` expression for `/api/v1/groups`, optional */
  groupSearch?: string;
}

/** Google Workspace Admin SDK Directory API (service account with domain-wide delegation). */
export interface GoogleSourceConfig extends RestSourceCommon {
  type: "google";
  /** environment variable holding the path of the service-account JSON key; default GOOGLE_APPLICATION_CREDENTIALS */
  credentialsFileEnv: string;
  /** admin user the service account acts as (domain-wide delegation) */
  subject: string;
  /** default "my_customer" */
  customer: string;
  /** read only this domain instead of the whole customer, optional */
  domain?: string;
  /** default https://oauth2.googleapis.com/token */
  tokenUrl: string;
  /** default https://admin.googleapis.com */
  baseUrl: string;
  /** expand GROUP members of groups (cycles detected); default false */
  nestedGroups: boolean;
}

/** Auth0 Management API as a directory (client credentials). */
export interface Auth0SourceConfig extends RestSourceCommon {
  type: "auth0";
  /** default AUTH0_DOMAIN */
  domainEnv: string;
  /** default AUTH0_CLIENT_ID */
  clientIdEnv: string;
  /** default AUTH0_CLIENT_SECRET */
  clientSecretEnv: string;
  /** Management API base, default `https://<domain>` */
  baseUrl?: string;
  /** default `https://<domain>/api/v2/` */
  audience?: string;
  /** "roles" (default) or "organizations" become the directory's groups */
  groupsFrom: "roles" | "organizations";
}

export interface LdapSourceConfig {
  type: "ldap";
  url: string;
  bindDn: string;
  /** name of the environment variable holding the bind password; default LDAP_BIND_PASSWORD */
  bindPasswordEnv: string;
  startTls: boolean;
  /** CA file for LDAPS/StartTLS */
  caFile?: string;
  /** Auth0 connection this directory backs (ties users to a connection's lifecycle), optional */
  connection?: string;
  users: { baseDn: string; filter: string; scope: "sub" | "one" };
  groups: { baseDn: string; filter: string; scope: "sub" | "one" };
  attributes: {
    id: string; // entryUUID | objectGUID
    email: string;
    givenName: string;
    familyName: string;
    displayName: string;
    groupName: string;
    member: string; // member | uniqueMember | memberUid
    memberOf?: string;
  };
  /** Active Directory specifics: ranged member, userAccountControl, accountExpires */
  activeDirectory: boolean;
  nestedGroups: boolean;
  pageSize: number;
  /** a size limit hit is an incomplete read */
  sizeLimit: number;
  timeoutMs: number;
}

export interface SyncPolicy {
  source: SyncSourceConfig;
  /** "live" (default) or "snapshot" */
  mode: "live" | "snapshot";
  /** "mapped" (default): users in at least one mapped IdP group; "all" */
  scope: "mapped" | "all";
  deprovision: {
    /** remove managed memberships when deactivating; default true */
    removeMemberships: boolean;
    /** delete this many days after deactivation; null = never (default) */
    deleteAfterDays: number | null;
  };
  guards: {
    deletions: { min: number; ratio: number }; // default 5, 0.10
    groupRemovals: { min: number; ratio: number }; // default 5, 0.20
    totalRemovals: { min: number; ratio: number }; // default 20, 0.10
    /** IdP group keys allowed to vanish from the source without aborting */
    allowMissingGroups: string[];
  };
  /** member changes per PATCH; default 100 */
  batchSize: number;
  /** concurrent requests; default 8 */
  concurrency: number;
  /** live audit period in snapshot mode, hours; default 24 */
  auditEveryHours: number;
  /** paths, resolved against the config file's folder */
  statePath: string;
  ledgerPath: string;
  lockPath: string;
  auditLogPath: string;
}

export interface ScimSettings {
  timeoutMs: number; // CLI default 30000
  retries: number; // default 4
  rateLimit?: number; // requests per second
  maxConnections: number; // default 16
}

export interface ProvisioningConfig {
  /** absolute path of the file this came from */
  file?: string;
  /** folder of that file; relative paths in the config are resolved against it */
  dir: string;
  targets: TargetConfig[];
  /** keyed by Auth0 connection name */
  connections: Record<string, ConnectionConfig>;
  attributes: AttributeMapping;
  login: LoginPolicy;
  /** absent when the file has no `sync` section */
  sync?: SyncPolicy;
  scim: ScimSettings;
}

/** Enterprise strategies the shorthand form matches. */
export const ENTERPRISE_STRATEGIES = ["samlp", "waad", "okta", "oidc", "google-apps", "adfs", "pingfederate"] as const;
