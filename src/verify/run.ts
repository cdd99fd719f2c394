/**
 * `npm run verify`: read the source (when configured), the ownership ledger and the live
 * Catalog, and report every difference. GET requests only, no lock, no file written.
 */
import { resolve } from "node:path";
import { managedCatalogGroups } from "../config/mapping.js";
import { DEFAULT_PATHS } from "../config/load.js";
import type { ProvisioningConfig, SyncPolicy, TargetConfig } from "../config/types.js";
import { ProvisioningError } from "../errors.js";
import { ScimClient } from "../scim/client.js";
import { createCliFetch, type CliFetch } from "../scim/cli-fetch.js";
import type { ScimClientApi } from "../scim/types.js";
import type { Directory, DirectorySource } from "../sync/directory.js";
import { readLedger } from "../sync/ledger.js";
import { catalogEndpoint, syncTargets, type CatalogEndpointValues, type Env } from "../sync/run.js";
import { managedGroupNames } from "../sync/scope.js";
import { createSource } from "../sync/sources/index.js";
import { compareCatalog, type Finding } from "./compare.js";
import { readCatalogForReport } from "./read.js";

export interface ReadOnlyContext {
  config: ProvisioningConfig;
  env?: Env;
  fetch?: typeof fetch;
  /** override of the source (tests) */
  source?: DirectorySource;
  createClient?: (endpoint: CatalogEndpointValues, config: ProvisioningConfig) => ScimClientApi;
  now?: () => Date;
}

export interface VerifyResult {
  ok: boolean;
  targets: { target: string; catalogUrl: string; reference: "source" | "ledger"; users: number; groups: number }[];
  findings: Finding[];
}

/** The ledger file in use: the sync's, or the default beside the config file. */
export function ledgerPathOf(config: ProvisioningConfig): string {
  return config.sync?.ledgerPath ?? resolve(config.dir, DEFAULT_PATHS.ledgerPath);
}

/** Read the sync source once; an incomplete read cannot be compared (exit 5). */
export async function readDirectory(policy: SyncPolicy, ctx: ReadOnlyContext): Promise<Directory> {
  const source = ctx.source ?? createSource(policy.source, { env: ctx.env ?? process.env, baseDir: ctx.config.dir });
  const read = await source.read();
  if (!read.complete) {
    throw new ProvisioningError("SYNC_SOURCE_INCOMPLETE", `the source read is incomplete${read.incompleteReason ? `: ${read.incompleteReason}` : ""}`, {
      hint: "nothing can be compared against a partial directory; fix the source and run again",
    });
  }
  return read.directory;
}

/** Clients for read-only commands; `close` ends the connection pool. */
export function clientFactory(ctx: ReadOnlyContext): { client(target: TargetConfig): { client: ScimClientApi; endpoint: CatalogEndpointValues }; close(): Promise<void> } {
  let pool: CliFetch | undefined;
  const env = ctx.env ?? process.env;
  return {
    client(target) {
      const endpoint = catalogEndpoint(target, env, ctx.config);
      if (ctx.createClient) return { client: ctx.createClient(endpoint, ctx.config), endpoint };
      pool ??= ctx.fetch ? undefined : createCliFetch({ maxConnections: ctx.config.scim.maxConnections });
      const client = new ScimClient({
        baseUrl: endpoint.baseUrl,
        apiKey: endpoint.apiKey,
        ...(endpoint.apiKeyNext ? { apiKeyNext: endpoint.apiKeyNext } : {}),
        fetch: ctx.fetch ?? pool!.fetch,
        timeoutMs: ctx.config.scim.timeoutMs,
        retries: ctx.config.scim.retries,
        ...(ctx.config.scim.rateLimit !== undefined ? { rateLimitPerSecond: ctx.config.scim.rateLimit } : {}),
      });
      return { client, endpoint };
    },
    async close() {
      await pool?.close().catch(() => undefined);
    },
  };
}

export function sourceConnectionOf(policy: SyncPolicy): string | undefined {
  const c = (policy.source as { connection?: unknown }).connection;
  return typeof c === "string" && c !== "" ? c : undefined;
}

export async function runVerify(ctx: ReadOnlyContext): Promise<VerifyResult> {
  const { config } = ctx;
  const now = (ctx.now ?? (() => new Date()))().toISOString();
  const ledger = readLedger(ledgerPathOf(config));
  const policy = config.sync;
  const fed = new Set(policy ? syncTargets(config, policy).map((t) => t.name) : []);
  const directory = policy && fed.size > 0 ? await readDirectory(policy, ctx) : undefined;
  const clients = clientFactory(ctx);
  const result: VerifyResult = { ok: true, targets: [], findings: [] };
  try {
    for (const target of config.targets) {
      const { client, endpoint } = clients.client(target);
      const names = managedGroupNames(managedCatalogGroups(target.groups), target);
      const snap = await readCatalogForReport(client, names);
      const connection = policy ? sourceConnectionOf(policy) : undefined;
      const findings = compareCatalog({
        target,
        catalog: snap.state,
        lookups: snap.lookups,
        ledger,
        attributes: config.attributes,
        connections: config.connections,
        ...(policy && directory && fed.has(target.name) ? { source: { directory, policy, ...(connection !== undefined ? { connection } : {}) } } : {}),
        now,
      });
      result.targets.push({
        target: target.name,
        catalogUrl: endpoint.baseUrl,
        reference: directory && fed.has(target.name) ? "source" : "ledger",
        users: snap.state.users.length,
        groups: snap.state.groups.length,
      });
      result.findings.push(...findings);
    }
  } finally {
    await clients.close();
  }
  result.ok = result.findings.length === 0;
  return result;
}
