/**
 * Load `provisioning.yaml`: parse, validate (every mistake at once, each with file, line and a
 * hint), fill in the documented defaults and return the normalised {@link ProvisioningConfig}.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { formatMappingKey, isStrongRef, parseMappingKey } from "./mapping.js";
import { provisioningSchema } from "./schema.js";
import type {
  AttributeMapping,
  CatalogEndpoint,
  ConnectionConfig,
  GroupMapping,
  LdapSourceConfig,
  LoginPolicy,
  MappingRule,
  ProvisioningConfig,
  ScimSettings,
  SyncPolicy,
  SyncSourceConfig,
  TargetConfig,
} from "./types.js";
import { aggregate, parseYamlFile, parseYamlText, validateWithSchema, type LocatedYaml } from "./yaml.js";
import validateProvisioning from "./generated/provisioning-validator.js";

export interface LoadOptions {
  /** config file; default env PROVISIONING_CONFIG, then ./provisioning.yaml */
  file?: string;
  /** environment; default process.env */
  env?: Record<string, string | undefined>;
}

/** Every validation error of one load, in file order (also in `ConfigError.details.errors`). */
export type ConfigErrors = ConfigError[];

/** Default file names, beside the config file. */
export const DEFAULT_PATHS = {
  statePath: ".provisioning-state.sqlite",
  ledgerPath: ".provisioning-ledger.json",
  lockPath: ".provisioning.lock",
  auditLogPath: "provisioning-audit.jsonl",
} as const;

export const DEFAULT_ATTRIBUTES: AttributeMapping = {
  userName: "email",
  givenName: "givenName",
  familyName: "familyName",
  displayName: "displayName",
  email: "email",
};

export const DEFAULT_LOGIN: LoginPolicy = {
  clients: [],
  fail: "open",
  budgetMs: 2000,
  requestTimeoutMs: 1000,
  ttlSeconds: 3600,
  ttlJitter: 0.2,
  refreshTokens: false,
  breakerFailures: 3,
  breakerCooldownSeconds: 60,
  tokenClaim: { enabled: false, name: "https://catalog.example.com/groups", idToken: true, accessToken: false },
  denyReason: "access to the data catalog could not be prepared, please try again",
  metadataKey: "catalog_provisioning",
};

export const DEFAULT_SCIM: ScimSettings = { timeoutMs: 30000, retries: 4, maxConnections: 16 };

export const LDAP_DEFAULTS = {
  openldap: {
    attributes: { id: "entryUUID", email: "mail", givenName: "givenName", familyName: "sn", displayName: "cn", groupName: "cn", member: "member" },
    usersFilter: "(objectClass=inetOrgPerson)",
    groupsFilter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
  },
  activeDirectory: {
    attributes: { id: "objectGUID", email: "mail", givenName: "givenName", familyName: "sn", displayName: "displayName", groupName: "cn", member: "member" },
    usersFilter: "(&(objectCategory=person)(objectClass=user))",
    groupsFilter: "(objectClass=group)",
  },
  pageSize: 500,
  timeoutMs: 10000,
  sizeLimit: 0,
  bindPasswordEnv: "LDAP_BIND_PASSWORD",
} as const;

/** Defaults of the REST sources (msgraph, okta, google, auth0). */
export const REST_SOURCE_DEFAULTS = {
  common: { timeoutMs: 30000, maxRetries: 4, concurrency: 4 },
  msgraph: {
    clientSecretEnv: "MSGRAPH_CLIENT_SECRET",
    authorityUrl: "https://login.microsoftonline.com",
    baseUrl: "https://graph.microsoft.com/v1.0",
    pageSize: 999,
  },
  okta: { apiTokenEnv: "OKTA_API_TOKEN", inactiveStatuses: ["SUSPENDED", "DEPROVISIONED"], pageSize: 200 },
  google: {
    credentialsFileEnv: "GOOGLE_APPLICATION_CREDENTIALS",
    customer: "my_customer",
    tokenUrl: "https://oauth2.googleapis.com/token",
    baseUrl: "https://admin.googleapis.com",
    pageSize: 200,
  },
  auth0: { domainEnv: "AUTH0_DOMAIN", clientIdEnv: "AUTH0_CLIENT_ID", clientSecretEnv: "AUTH0_CLIENT_SECRET", groupsFrom: "roles", pageSize: 100 },
} as const;

/** Keys that would hold a secret: secrets live in the environment, never in the file. */
const SECRET_KEY = /^(api[_-]?key([_-]?next)?|api[_-]?token|access[_-]?token|bearer[_-]?token|token|secret|client[_-]?secret|password|passwd|pass|bind[_-]?password|private[_-]?key)$/i;

type Path = (string | number)[];
type Raw = Record<string, unknown>;

/** Load and validate the config file. Throws one `ConfigError` (exit code 2) listing every mistake. */
export function loadProvisioningConfig(options: LoadOptions = {}): ProvisioningConfig {
  const env = options.env ?? process.env;
  const file = resolve(options.file ?? env.PROVISIONING_CONFIG ?? "provisioning.yaml");
  return buildProvisioningConfig(parseYamlFile(file), { env });
}

/** Same as {@link loadProvisioningConfig} from text already in memory (tests, tools). */
export function loadProvisioningConfigText(text: string, file: string, options: { env?: Record<string, string | undefined> } = {}): ProvisioningConfig {
  return buildProvisioningConfig(parseYamlText(text, resolve(file)), { env: options.env ?? process.env });
}

/** Validate a parsed document and normalise it. */
export function buildProvisioningConfig(doc: LocatedYaml, options: { env: Record<string, string | undefined> }): ProvisioningConfig {
  if (doc.value === null || doc.value === undefined) {
    throw new ConfigError("the config file is empty", { file: doc.file, line: 1, column: 1, hint: 'add "catalog.url" and "groups", see docs/configuration.md' });
  }
  const errors: ConfigError[] = [];
  const err = (path: Path, message: string, hint: string) => {
    const at = doc.locate(path);
    errors.push(
      new ConfigError(message, {
        file: doc.file,
        ...(at ? { line: at.line, column: at.column } : {}),
        hint,
        details: { path: path.join(".") },
      }),
    );
  };

  // secrets first, so that they are reported as secrets rather than as unknown keys
  const secretPaths = new Set<string>();
  findSecretKeys(doc.value, [], (path, key) => {
    secretPaths.add([...path, key].join("."));
    err([...path, key], `secret "${key}" must not be in the config file`, secretHint(key));
  });

  for (const e of validateWithSchema(doc, provisioningSchema, validateProvisioning)) {
    const key = e.details?.key;
    if (typeof key === "string" && secretPaths.has(`${String(e.details?.path ?? "")}${e.details?.path ? "." : ""}${key}`)) continue;
    errors.push(e);
  }

  const raw: Raw = isObj(doc.value) ? doc.value : {};
  const env = options.env;
  const dir = dirname(doc.file);

  // shorthand or targets
  const hasTargets = raw.targets !== undefined;
  if (hasTargets) {
    for (const k of ["catalog", "groups"] as const) {
      if (raw[k] !== undefined) {
        err([k], `"${k}" at the top level cannot be combined with "targets"`, `move "${k}" into each target, or remove "targets" to use the one-target form`);
      }
    }
  } else if (raw.groups === undefined && isObj(doc.value)) {
    err([], `the config needs "groups" (with "catalog.url") or "targets"`, `add a "groups" mapping such as "idp-group: catalog-group", see docs/configuration.md`);
  }

  const targets: TargetConfig[] = [];
  const topDefaults = {
    privileged: strs(raw.privileged),
    caseInsensitive: typeof raw.caseInsensitiveGroups === "boolean" ? raw.caseInsensitiveGroups : true,
    domains: strs(raw.domains),
    exclude: isObj(raw.exclude) ? raw.exclude : {},
    include: isObj(raw.include) ? raw.include : {},
  };

  if (!hasTargets) {
    if (raw.groups !== undefined) {
      targets.push(buildTarget(raw, [], "default", true));
    }
  } else if (Array.isArray(raw.targets)) {
    const multi = raw.targets.length > 1;
    const names = new Map<string, number>();
    const keySecrets = new Map<string, number>();
    const urlSecrets = new Map<string, number>();
    raw.targets.forEach((t, i) => {
      if (!isObj(t)) return;
      const name = typeof t.name === "string" ? t.name : `target-${i + 1}`;
      if (names.has(name)) err(["targets", i, "name"], `target name "${name}" is used twice`, "give each target a unique name");
      names.set(name, i);
      const cat = isObj(t.catalog) ? t.catalog : {};
      if (multi) {
        if (typeof cat.apiKeySecret !== "string") {
          err(["targets", i], `target "${name}" must name "catalog.apiKeySecret"`, `with several targets each needs its own key, e.g. "apiKeySecret: ${envName(name)}_API_KEY"`);
        }
        if (typeof cat.urlSecret !== "string") {
          err(["targets", i], `target "${name}" must name "catalog.urlSecret"`, `with several targets each needs its own URL secret, e.g. "urlSecret: ${envName(name)}_SCIM_URL"`);
        }
      }
      for (const [k, seen] of [["apiKeySecret", keySecrets], ["urlSecret", urlSecrets]] as const) {
        const v = cat[k];
        if (typeof v !== "string") continue;
        if (seen.has(v)) err(["targets", i, "catalog", k], `"${k}" "${v}" is also used by another target`, "each target needs its own secret names");
        seen.set(v, i);
      }
      targets.push(buildTarget(t, ["targets", i], name, false));
    });
  }

  function buildTarget(t: Raw, base: Path, name: string, shorthand: boolean): TargetConfig {
    const cat = isObj(t.catalog) ? t.catalog : {};
    const apiKeySecret = typeof cat.apiKeySecret === "string" ? cat.apiKeySecret : "CATALOG_API_KEY";
    const catalog: CatalogEndpoint = {
      urlSecret: typeof cat.urlSecret === "string" ? cat.urlSecret : "CATALOG_SCIM_URL",
      apiKeySecret,
      apiKeyNextSecret: typeof cat.apiKeyNextSecret === "string" ? cat.apiKeyNextSecret : `${apiKeySecret}_NEXT`,
    };
    for (const k of ["urlSecret", "apiKeySecret", "apiKeyNextSecret"] as const) {
      if (typeof cat[k] === "string" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(cat[k])) {
        err([...base, "catalog", k], `"${k}" must be the name of a secret or environment variable`, `use a name like "CATALOG_API_KEY", never the value itself`);
      }
    }
    if (typeof cat.url === "string") {
      checkUrl(cat.url, [...base, "catalog", "url"], "catalog.url");
      catalog.url = cat.url;
    }
    const override = env[catalog.urlSecret];
    if (override !== undefined && override !== "") {
      checkUrl(override, [...base, "catalog", "url"], catalog.urlSecret, true);
      catalog.url = override;
    }
    const privileged = shorthand ? topDefaults.privileged : union(topDefaults.privileged, strs(t.privileged));
    const caseInsensitive = typeof t.caseInsensitiveGroups === "boolean" ? t.caseInsensitiveGroups : topDefaults.caseInsensitive;
    const groups = buildMapping(t.groups, [...base, "groups"], privileged, caseInsensitive);
    for (const p of shorthand ? privileged : strs(t.privileged)) {
      if (!groups.rules.some((r) => r.catalogGroups.includes(p))) {
        err(shorthand ? ["privileged"] : [...base, "privileged"], `privileged group "${p}" is not a target of any mapping rule`, "check the spelling against the Catalog group names in \"groups\"");
      }
    }
    const ex = isObj(t.exclude) ? t.exclude : {};
    const inc = isObj(t.include) ? t.include : {};
    return {
      name,
      match: {
        connections: isObj(t.match) ? strs(t.match.connections) : [],
        organizations: isObj(t.match) ? strs(t.match.organizations) : [],
      },
      catalog,
      domains: (t.domains !== undefined && !shorthand ? strs(t.domains) : topDefaults.domains).map((d) => d.toLowerCase()),
      groups,
      exclude: {
        users: shorthand ? strs(ex.users) : union(strs(topDefaults.exclude.users), strs(ex.users)),
        groups: shorthand ? strs(ex.groups) : union(strs(topDefaults.exclude.groups), strs(ex.groups)),
      },
      include: { users: t.include !== undefined || shorthand ? strs(inc.users) : strs(topDefaults.include.users) },
    };
  }

  function buildMapping(value: unknown, path: Path, privileged: string[], caseInsensitive: boolean): GroupMapping {
    const rules: MappingRule[] = [];
    const priv = new Set(privileged.map((p) => p.toLowerCase()));
    if (isObj(value)) {
      for (const [key, target] of Object.entries(value)) {
        const catalogGroups = typeof target === "string" ? [target] : Array.isArray(target) ? target.filter((x): x is string => typeof x === "string") : [];
        const idp = parseMappingKey(key);
        const at = doc.locate([...path, key]);
        if (idp.value === "") err([...path, key], `mapping key "${key}" has no value after "${idp.kind}:"`, `write "${idp.kind}:<value>"`);
        const strong = isStrongRef(idp);
        for (const cg of catalogGroups) {
          if (priv.has(cg.toLowerCase()) && !strong) {
            err(
              [...path, key],
              `privileged group "${cg}" may only be granted by an "id:" or "dn:" key, not "${formatMappingKey(idp)}"`,
              `anyone who can name a group "${idp.value}" in the IdP would gain it: use "id:<group object id>" or "dn:<distinguished name>"`,
            );
          }
        }
        rules.push({ idp, catalogGroups: [...new Set(catalogGroups)], ...(at ? { line: at.line } : {}) });
      }
    }
    return { rules, caseInsensitive, privileged };
  }

  function checkUrl(url: string, path: Path, what: string, fromEnv = false) {
    const src = fromEnv ? `environment variable "${what}"` : `"${what}"`;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      err(path, `${src} is not a valid URL`, "write it like https://catalog.example.com/scim/v2");
      return;
    }
    if (u.username || u.password) {
      err(path, `${src} must not carry credentials`, "put the API key in the environment (CATALOG_API_KEY), never in the URL");
    } else if (u.protocol === "http:") {
      if (!isLoopback(u.hostname)) {
        err(path, `${src} must use https`, "http:// is allowed only for loopback (127.0.0.1, localhost, [::1])");
      }
    } else if (u.protocol !== "https:") {
      err(path, `${src} must be an https URL`, `got scheme "${u.protocol.replace(/:$/, "")}"`);
    }
  }

  // connections
  const connections: Record<string, ConnectionConfig> = {};
  if (isObj(raw.connections)) {
    for (const [name, c] of Object.entries(raw.connections)) {
      if (!isObj(c)) continue;
      if (c.anchor === "sub") {
        err(["connections", name, "anchor"], `"anchor" of connection "${name}" must not be "sub"`, 'the OIDC "sub" can be pairwise: use "user_id", "oid" or "objectGUID"');
      }
      const cc: ConnectionConfig = {
        lifecycle: c.lifecycle === "login" ? "login" : "sync",
        anchor: typeof c.anchor === "string" ? c.anchor : "user_id",
        mode: c.mode === "off" || c.mode === "shadow" ? c.mode : "on",
      };
      if (typeof c.groupsClaim === "string") cc.groupsClaim = c.groupsClaim;
      if (typeof c.splitGroups === "boolean") cc.splitGroups = c.splitGroups;
      if (typeof c.groupsCap === "number") cc.groupsCap = c.groupsCap;
      connections[name] = cc;
    }
  }

  const attributes: AttributeMapping = { ...DEFAULT_ATTRIBUTES, ...pickStrings(raw.attributes) };
  const login = buildLogin(isObj(raw.login) ? raw.login : {});
  if (login.requestTimeoutMs > login.budgetMs) {
    err(["login", "requestTimeoutMs"], `"login.requestTimeoutMs" (${login.requestTimeoutMs}) is larger than "login.budgetMs" (${login.budgetMs})`, "a request must fit inside the whole login budget");
  }
  const scimRaw = isObj(raw.scim) ? raw.scim : {};
  const scim: ScimSettings = { ...DEFAULT_SCIM, ...pickNumbers(scimRaw, ["timeoutMs", "retries", "maxConnections"]) };
  if (typeof scimRaw.rateLimit === "number") scim.rateLimit = scimRaw.rateLimit;

  let sync: SyncPolicy | undefined;
  if (isObj(raw.sync)) sync = buildSync(raw.sync);

  function buildSync(s: Raw): SyncPolicy {
    const g = isObj(s.guards) ? s.guards : {};
    const guard = (v: unknown, min: number, ratio: number) => ({ min, ratio, ...pickNumbers(isObj(v) ? v : {}, ["min", "ratio"]) });
    const dep = isObj(s.deprovision) ? s.deprovision : {};
    const path = (k: keyof typeof DEFAULT_PATHS) => resolvePath(dir, typeof s[k] === "string" ? s[k] : DEFAULT_PATHS[k]);
    return {
      source: buildSource(isObj(s.source) ? s.source : { type: "file", path: "" }),
      mode: s.mode === "snapshot" ? "snapshot" : "live",
      scope: s.scope === "all" ? "all" : "mapped",
      deprovision: {
        removeMemberships: typeof dep.removeMemberships === "boolean" ? dep.removeMemberships : true,
        deleteAfterDays: typeof dep.deleteAfterDays === "number" ? dep.deleteAfterDays : null,
      },
      guards: {
        deletions: guard(g.deletions, 5, 0.1),
        groupRemovals: guard(g.groupRemovals, 5, 0.2),
        totalRemovals: guard(g.totalRemovals, 20, 0.1),
        allowMissingGroups: strs(g.allowMissingGroups),
      },
      batchSize: typeof s.batchSize === "number" ? s.batchSize : 100,
      concurrency: typeof s.concurrency === "number" ? s.concurrency : 8,
      auditEveryHours: typeof s.auditEveryHours === "number" ? s.auditEveryHours : 24,
      statePath: path("statePath"),
      ledgerPath: path("ledgerPath"),
      lockPath: path("lockPath"),
      auditLogPath: path("auditLogPath"),
    };
  }

  function buildSource(src: Raw): SyncSourceConfig {
    if (src.type === "file") {
      const file: SyncSourceConfig = { type: "file", path: resolvePath(dir, typeof src.path === "string" ? src.path : "") };
      if (typeof src.connection === "string") file.connection = src.connection;
      return file;
    }
    if (src.type === "ldap") return buildLdap(src);
    if (src.type === "msgraph" || src.type === "okta" || src.type === "google" || src.type === "auth0") return buildRest(src, src.type);
    const { type, ...rest } = src;
    return { ...rest, type: typeof type === "string" ? type : "file" };
  }

  function buildRest(src: Raw, type: "msgraph" | "okta" | "google" | "auth0"): SyncSourceConfig {
    const c = REST_SOURCE_DEFAULTS.common;
    const text = (k: string, d: string) => (typeof src[k] === "string" ? (src[k] as string) : d);
    const common = {
      pageSize: num(src.pageSize, REST_SOURCE_DEFAULTS[type].pageSize),
      timeoutMs: num(src.timeoutMs, c.timeoutMs),
      maxRetries: num(src.maxRetries, c.maxRetries),
      concurrency: num(src.concurrency, c.concurrency),
      ...(typeof src.connection === "string" ? { connection: src.connection } : {}),
    };
    const url = (k: string, d: string) => {
      const v = text(k, d);
      if (v === "") return v;
      let u: URL | undefined;
      try {
        u = new URL(v);
      } catch {
        err(["sync", "source", k], `"sync.source.${k}" is not a valid URL`, "write it like https://host.example.com");
      }
      if (u && u.protocol !== "https:" && !(u.protocol === "http:" && isLoopback(u.hostname))) {
        err(["sync", "source", k], `"sync.source.${k}" must be an https:// URL`, "plain http:// is allowed only for loopback");
      }
      return v.replace(/\/+$/, "");
    };
    const optional = (k: string) => (typeof src[k] === "string" ? { [k]: src[k] as string } : {});
    switch (type) {
      case "msgraph": {
        const d = REST_SOURCE_DEFAULTS.msgraph;
        return {
          type,
          ...common,
          tenantId: text("tenantId", ""),
          clientId: text("clientId", ""),
          clientSecretEnv: text("clientSecretEnv", d.clientSecretEnv),
          authorityUrl: url("authorityUrl", d.authorityUrl),
          baseUrl: url("baseUrl", d.baseUrl),
          transitiveMembers: src.transitiveMembers === true,
          ...optional("groupFilter"),
          ...optional("userFilter"),
        };
      }
      case "okta": {
        const d = REST_SOURCE_DEFAULTS.okta;
        const org = text("orgUrl", "");
        if (org !== "" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(org)) src = { ...src, orgUrl: `https://${org}` };
        return {
          type,
          ...common,
          orgUrl: url("orgUrl", ""),
          apiTokenEnv: text("apiTokenEnv", d.apiTokenEnv),
          inactiveStatuses: Array.isArray(src.inactiveStatuses) ? strs(src.inactiveStatuses).map((x) => x.toUpperCase()) : [...d.inactiveStatuses],
          ...optional("groupSearch"),
        };
      }
      case "google": {
        const d = REST_SOURCE_DEFAULTS.google;
        return {
          type,
          ...common,
          credentialsFileEnv: text("credentialsFileEnv", d.credentialsFileEnv),
          subject: text("subject", ""),
          customer: text("customer", d.customer),
          tokenUrl: url("tokenUrl", d.tokenUrl),
          baseUrl: url("baseUrl", d.baseUrl),
          nestedGroups: src.nestedGroups === true,
          ...optional("domain"),
        };
      }
      case "auth0": {
        const d = REST_SOURCE_DEFAULTS.auth0;
        return {
          type,
          ...common,
          domainEnv: text("domainEnv", d.domainEnv),
          clientIdEnv: text("clientIdEnv", d.clientIdEnv),
          clientSecretEnv: text("clientSecretEnv", d.clientSecretEnv),
          groupsFrom: src.groupsFrom === "organizations" ? "organizations" : "roles",
          ...(typeof src.baseUrl === "string" ? { baseUrl: url("baseUrl", "") } : {}),
          ...optional("audience"),
        };
      }
    }
  }

  function buildLdap(src: Raw): LdapSourceConfig {
    const ad = src.activeDirectory === true;
    const d = ad ? LDAP_DEFAULTS.activeDirectory : LDAP_DEFAULTS.openldap;
    const url = typeof src.url === "string" ? src.url : "";
    const startTls = src.startTls === true;
    if (url !== "") {
      let u: URL | undefined;
      try {
        u = new URL(url);
      } catch {
        err(["sync", "source", "url"], `"sync.source.url" is not a valid URL`, "write it like ldaps://ldap.example.com:636");
      }
      if (u) {
        if (u.protocol !== "ldap:" && u.protocol !== "ldaps:") {
          err(["sync", "source", "url"], `"sync.source.url" must be an ldap:// or ldaps:// URL`, `got scheme "${u.protocol.replace(/:$/, "")}"`);
        } else if (u.protocol === "ldap:" && !startTls && !isLoopback(u.hostname)) {
          err(["sync", "source", "url"], `"sync.source.url" would send the bind password in clear text`, 'use ldaps:// or set "startTls: true" (plain ldap:// is allowed only for loopback)');
        }
      }
    }
    const baseDn = typeof src.baseDn === "string" ? src.baseDn : "";
    const search = (v: unknown, filter: string) => {
      const o = isObj(v) ? v : {};
      return {
        baseDn: typeof o.baseDn === "string" ? o.baseDn : baseDn,
        filter: typeof o.filter === "string" ? o.filter : filter,
        scope: o.scope === "one" ? ("one" as const) : ("sub" as const),
      };
    };
    const users = search(src.users, d.usersFilter);
    const groups = search(src.groups, d.groupsFilter);
    if (users.baseDn === "" && isObj(doc.value)) err(["sync", "source"], `"sync.source" needs a base DN for users`, 'set "baseDn" or "users.baseDn"');
    if (groups.baseDn === "" && isObj(doc.value)) err(["sync", "source"], `"sync.source" needs a base DN for groups`, 'set "baseDn" or "groups.baseDn"');
    const out: LdapSourceConfig = {
      type: "ldap",
      url,
      bindDn: typeof src.bindDn === "string" ? src.bindDn : "",
      bindPasswordEnv: typeof src.bindPasswordEnv === "string" ? src.bindPasswordEnv : LDAP_DEFAULTS.bindPasswordEnv,
      startTls,
      users,
      groups,
      attributes: { ...d.attributes, ...pickStrings(src.attributes) },
      activeDirectory: ad,
      nestedGroups: src.nestedGroups === true,
      pageSize: typeof src.pageSize === "number" ? src.pageSize : LDAP_DEFAULTS.pageSize,
      sizeLimit: typeof src.sizeLimit === "number" ? src.sizeLimit : LDAP_DEFAULTS.sizeLimit,
      timeoutMs: typeof src.timeoutMs === "number" ? src.timeoutMs : LDAP_DEFAULTS.timeoutMs,
    };
    if (typeof src.caFile === "string") out.caFile = resolvePath(dir, src.caFile);
    if (typeof src.connection === "string") out.connection = src.connection;
    return out;
  }

  if (errors.length > 0) throw aggregate(errors, doc.file);

  const config: ProvisioningConfig = { file: doc.file, dir, targets, connections, attributes, login, scim };
  if (sync) config.sync = sync;
  return config;
}

function buildLogin(l: Raw): LoginPolicy {
  const breaker = isObj(l.breaker) ? l.breaker : {};
  const tc = isObj(l.tokenClaim) ? l.tokenClaim : {};
  const d = DEFAULT_LOGIN;
  return {
    clients: strs(l.clients),
    fail: l.fail === "closed" ? "closed" : "open",
    budgetMs: num(l.budgetMs, d.budgetMs),
    requestTimeoutMs: num(l.requestTimeoutMs, d.requestTimeoutMs),
    ttlSeconds: num(l.ttlSeconds, d.ttlSeconds),
    ttlJitter: num(l.ttlJitter, d.ttlJitter),
    refreshTokens: l.refreshTokens === true,
    breakerFailures: num(breaker.failures, d.breakerFailures),
    breakerCooldownSeconds: num(breaker.cooldownSeconds, d.breakerCooldownSeconds),
    tokenClaim: {
      enabled: typeof tc.enabled === "boolean" ? tc.enabled : d.tokenClaim.enabled,
      name: typeof tc.name === "string" ? tc.name : d.tokenClaim.name,
      idToken: typeof tc.idToken === "boolean" ? tc.idToken : d.tokenClaim.idToken,
      accessToken: typeof tc.accessToken === "boolean" ? tc.accessToken : d.tokenClaim.accessToken,
    },
    denyReason: typeof l.denyReason === "string" ? l.denyReason : d.denyReason,
    metadataKey: typeof l.metadataKey === "string" ? l.metadataKey : d.metadataKey,
  };
}

function findSecretKeys(value: unknown, path: Path, report: (path: Path, key: string) => void): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => findSecretKeys(v, [...path, i], report));
    return;
  }
  if (!isObj(value)) return;
  const parent = path[path.length - 1];
  // keys of a group mapping are IdP group names, keys under "connections" are connection names
  const keysAreNames = parent === "groups" && !(path[0] === "sync") ? true : parent === "connections";
  for (const [k, v] of Object.entries(value)) {
    if (!keysAreNames && SECRET_KEY.test(k)) report(path, k);
    if (!(parent === "groups" && path[0] !== "sync")) findSecretKeys(v, [...path, k], report);
  }
}

function secretHint(key: string): string {
  if (/pass/i.test(key)) return 'set the password in the environment and name the variable with "bindPasswordEnv"';
  if (/client/i.test(key)) return "set AUTH0_CLIENT_SECRET in the environment";
  return 'set the key in the environment (CATALOG_API_KEY) and name the variable with "catalog.apiKeySecret" if it differs';
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "127.0.0.1" || h === "localhost" || h === "[::1]" || h === "::1";
}

function resolvePath(dir: string, p: string): string {
  if (p === "") return p;
  return isAbsolute(p) ? p : resolve(dir, p);
}

function isObj(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function num(v: unknown, d: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : d;
}

function pickStrings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

function pickNumbers(v: Raw, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (typeof v[k] === "number") out[k] = v[k];
  return out;
}

function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}
