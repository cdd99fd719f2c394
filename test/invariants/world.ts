/**
 * One Catalog (the sandbox, in its own process), one `provisioning.yaml` in a temporary folder,
 * and both writers over it: the Post-Login Action (`runPostLogin`) and the sync (`runSync`).
 * The `file` source's user ids equal the Action's anchors (the default `user_id` of the
 * `samlp` identity), so both sides speak of the same people.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import type { CacheRecord } from "../../src/action/auth0-types.js";
import type { PostLoginEvent } from "../../src/action/auth0-types.js";
import { runPostLogin, type ExecutorDeps, type LoginSummary } from "../../src/action/executor.js";
import { ActionScimClient } from "../../src/action/scim-lite.js";
import { compileActionConfig, type ActionConfig } from "../../src/config/action-config.js";
import { loadProvisioningConfig } from "../../src/config/load.js";
import type { ProvisioningConfig } from "../../src/config/types.js";
import type { Directory } from "../../src/sync/directory.js";
import { runSync, type RunSyncOptions, type SyncRunResult } from "../../src/sync/run.js";
import { fakeApi, type FakeApi } from "../action/fakes.js";
import { lateBound } from "../helpers/late.js";
import { startSandbox, type AuditEntry, type SandboxHandle } from "../helpers/sandbox.js";

export const CONNECTION = "acme-saml";

/** IdP group → Catalog group; finance-readers is many-to-one */
export const MAPPING: Record<string, string> = {
  "analysts-finance": "finance-readers",
  "finance-leads": "finance-readers",
  "analysts-marketing": "mkt-readers",
  "data-governance-leads": "data-stewards",
};
export const MANAGED = ["finance-readers", "mkt-readers", "data-stewards"];
/** Catalog groups the mapping does not name: never touched */
export const UNMANAGED = ["catalog-admins", "hr-private"];
export const CATALOG_GROUPS = [...MANAGED, ...UNMANAGED];

export interface Person {
  id: string;
  email: string;
  givenName: string;
  familyName: string;
  displayName: string;
}

export function person(n: number | string): Person {
  const id = `p-${n}`;
  return { id, email: `person${n}@acme.example`, givenName: `Given${n}`, familyName: `Family${n}`, displayName: `Given${n} Family${n}` };
}

/** A directory: people with their IdP groups (by name); every mapped IdP group exists, empty if need be. */
export function directory(entries: { p: Person; groups: string[]; active?: boolean }[], extraGroups: string[] = []): Directory {
  const names = [...new Set([...Object.keys(MAPPING), ...extraGroups, ...entries.flatMap((e) => e.groups)])];
  return {
    users: entries.map(({ p, active }) => ({ id: p.id, email: p.email, givenName: p.givenName, familyName: p.familyName, displayName: p.displayName, active: active ?? true })),
    groups: names.map((name) => ({ id: `g-${name}`, name, members: entries.filter((e) => e.groups.includes(name)).map((e) => e.p.id) })),
  };
}

export interface WorldOptions {
  lifecycle?: "sync" | "login";
  /** tie the file source to the Action's connection (its lifecycle then applies to the sync) */
  sourceConnection?: boolean;
  mode?: "live" | "snapshot";
  /** extra YAML under `sync:` (two-space indented keys) */
  syncYaml?: string;
  /** extra YAML under `login:` */
  loginYaml?: string;
}

export interface CatalogUserView {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface World {
  dir: string;
  configFile: string;
  sandbox: SandboxHandle;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** the Auth0 cache, shared by every login */
  cache: Map<string, CacheRecord>;
  config(): ProvisioningConfig;
  actionConfig(): ActionConfig;
  writeConfig(options?: WorldOptions): void;
  writeDirectory(d: Directory): void;
  /** one login; app_metadata persists per person as Auth0 keeps it */
  login(p: Person, groups: string[], o?: { fetch?: typeof fetch; deps?: Partial<ExecutorDeps>; config?: ActionConfig }): Promise<{ summary: LoginSummary; api: FakeApi }>;
  sync(o?: Partial<RunSyncOptions>): Promise<SyncRunResult>;
  users(): Promise<CatalogUserView[]>;
  /** displayName → member ids */
  groups(): Promise<Record<string, { id: string; members: string[] }>>;
  /** highest audit seq so far */
  seq(): Promise<number>;
  writesSince(seq: number): Promise<AuditEntry[]>;
  /** clear the Catalog, the ledger, the state and every login's memory */
  reset(options?: WorldOptions): Promise<void>;
  close(): Promise<void>;
}

export function loginEvent(p: Person, groups: string[], secrets: Record<string, string>, appMetadata: Record<string, unknown>): PostLoginEvent {
  return {
    user: {
      user_id: `samlp|${CONNECTION}|${p.id}`,
      email: p.email,
      given_name: p.givenName,
      family_name: p.familyName,
      name: p.displayName,
      app_metadata: appMetadata,
      identities: [{ connection: CONNECTION, provider: "samlp", user_id: p.id }],
      groups,
    },
    connection: { id: "con_1", name: CONNECTION, strategy: "samlp" },
    client: { client_id: "catalog-app", name: "Catalog" },
    transaction: { protocol: "oidc-basic-profile" },
    secrets,
  } as PostLoginEvent;
}

/** Wraps `fetch` and records every request (method, URL, parsed JSON body). */
export function recordingFetch(into: RecordedRequest[], inner: typeof fetch = globalThis.fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (typeof input === "object" && "method" in input ? input.method : "GET")).toUpperCase();
    let body: unknown;
    if (typeof init?.body === "string") {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    } else if (init?.body instanceof Uint8Array) {
      try {
        body = JSON.parse(Buffer.from(init.body).toString("utf8"));
      } catch {
        body = undefined;
      }
    }
    into.push({ method, url, body });
    return inner(input, init);
  }) as typeof fetch;
}

export async function createWorld(profile: "full" | "minimal", options: WorldOptions = {}): Promise<World> {
  const sandbox = await startSandbox({ profile, groups: CATALOG_GROUPS });
  const dir = mkdtempSync(join(tmpdir(), "invariants-"));
  const configFile = join(dir, "provisioning.yaml");
  const env = { CATALOG_SCIM_URL: sandbox.baseUrl, CATALOG_API_KEY: sandbox.apiKey };
  const secrets = { CATALOG_SCIM_URL: sandbox.baseUrl, CATALOG_API_KEY: sandbox.apiKey };
  const apis = new Map<string, FakeApi>();
  let cache = new Map<string, CacheRecord>();
  let current: WorldOptions = options;

  const admin = async (path: string): Promise<unknown> => {
    const res = await fetch(`${sandbox.baseUrl}${path}`, { headers: { authorization: `Bearer ${sandbox.apiKey}` } });
    if (!res.ok) throw new Error(`GET ${path} failed with ${res.status}`);
    return res.json();
  };
  const list = async <T>(resource: string): Promise<T[]> => {
    const out: T[] = [];
    for (let start = 1; ; ) {
      const page = (await admin(`/${resource}?startIndex=${start}&count=100`)) as { Resources?: T[]; totalResults: number; itemsPerPage?: number };
      const got = page.Resources ?? [];
      out.push(...got);
      start += got.length;
      if (got.length === 0 || out.length >= page.totalResults) return out;
    }
  };

  const world: World = {
    dir,
    configFile,
    sandbox,
    env,
    secrets,
    get cache() {
      return cache;
    },
    config: () => loadProvisioningConfig({ file: configFile, env }),
    actionConfig: () => compileActionConfig(world.config()),
    writeConfig(o = current) {
      current = o;
      const mapping = Object.entries(MAPPING)
        .map(([k, v]) => `  ${k}: ${v}\n`)
        .join("");
      writeFileSync(
        configFile,
        `catalog:\n  url: ${sandbox.baseUrl}\ngroups:\n${mapping}` +
          `connections:\n  ${CONNECTION}:\n    lifecycle: ${o.lifecycle ?? "sync"}\n` +
          `login:\n  ttlSeconds: 0\n${o.loginYaml ?? ""}` +
          `scim:\n  retries: 1\n` +
          `sync:\n  source:\n    type: file\n    path: directory.json\n${o.sourceConnection ? `    connection: ${CONNECTION}\n` : ""}` +
          `  mode: ${o.mode ?? "live"}\n  concurrency: 4\n${o.syncYaml ?? ""}`,
      );
    },
    writeDirectory(d) {
      writeFileSync(join(dir, "directory.json"), JSON.stringify(d, null, 2));
    },
    async login(p, groups, o = {}) {
      let api = apis.get(p.id);
      if (!api) apis.set(p.id, (api = fakeApi(cache)));
      const config = o.config ?? world.actionConfig();
      const key = config.login.metadataKey;
      const event = loginEvent(p, groups, secrets, api.appMetadata[key] === undefined ? {} : { [key]: api.appMetadata[key] });
      const deps: ExecutorDeps = {
        createClient: (c) => new ActionScimClient(c),
        now: () => Date.now(),
        random: () => 0.5,
        log: () => {},
        sleep: async () => {},
        ...(o.fetch ? { fetch: o.fetch } : {}),
        ...o.deps,
      };
      const summary = await runPostLogin(event, api, config, deps);
      return { summary, api };
    },
    sync(o = {}) {
      return runSync({ config: world.config(), env, ...o });
    },
    async users() {
      const raw = await list<{ id: string; userName: string; externalId?: string; active?: boolean }>("Users");
      return raw.map((u) => ({ id: u.id, userName: u.userName, ...(u.externalId ? { externalId: u.externalId } : {}), active: u.active !== false }));
    },
    async groups() {
      const raw = await list<{ id: string; displayName: string }>("Groups");
      const out: Record<string, { id: string; members: string[] }> = {};
      for (const g of raw) {
        const full = (await admin(`/Groups/${g.id}`)) as { members?: { value: string }[] };
        out[g.displayName] = { id: g.id, members: (full.members ?? []).map((m) => m.value).sort() };
      }
      return out;
    },
    async seq() {
      const a = await sandbox.audit();
      return a.length === 0 ? 0 : a[a.length - 1]!.seq;
    },
    async writesSince(seq) {
      return (await sandbox.audit()).filter((e) => e.seq > seq);
    },
    async reset(o = current) {
      await sandbox.reset(CATALOG_GROUPS);
      await sandbox.setFaults([]);
      // the ledger, the snapshot state, the lock and the audit log live beside the config
      for (const f of readdirSync(dir)) if (f !== "provisioning.yaml" && f !== "directory.json") rmSync(join(dir, f), { recursive: true, force: true });
      apis.clear();
      cache = new Map();
      world.writeConfig(o);
    },
    async close() {
      await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  world.writeConfig(options);
  world.writeDirectory(directory([]));
  return world;
}

/** Catalog user ids by externalId (fails loudly on a duplicate). */
export function byExternalId(users: CatalogUserView[]): Map<string, CatalogUserView> {
  const m = new Map<string, CatalogUserView>();
  for (const u of users) {
    if (!u.externalId) continue;
    if (m.has(u.externalId)) throw new Error(`duplicate externalId "${u.externalId}"`);
    m.set(u.externalId, u);
  }
  return m;
}

/**
 * One world for the enclosing suite: created before all its tests (with `options.create`),
 * closed after them, and reset before each test with `options.reset` when given. The returned
 * object forwards to that world once it exists.
 */
export function useWorld(profile: "full" | "minimal", options: { create?: WorldOptions; reset?: WorldOptions } = {}): World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await createWorld(profile, options.create);
  });
  afterAll(async () => {
    await world?.close();
  });
  if (options.reset) {
    const reset = options.reset;
    beforeEach(async () => {
      await world!.reset(reset);
    });
  }
  return lateBound(() => world, "world");
}
