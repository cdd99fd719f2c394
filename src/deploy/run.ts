/**
 * The deploy commands, wired end to end: load tenant.yaml → read the tenant → plan → print or
 * apply. Used by `scripts/deploy.ts`; everything injectable for tests.
 */
import { ManagementClient } from "auth0";
import { ConfigError } from "../errors.js";
import { parseYamlFile } from "../config/yaml.js";
import { applyPlan, listVersions, readRemoteState, rollback, type ApplyResult, type IoOptions, type RollbackResult, type VersionRow } from "./apply.js";
import { deriveFingerprintKey, fingerprintAction } from "./fingerprint.js";
import { isNoop, planDeploy, type DeployPlan, type DesiredState } from "./plan.js";
import { loadTenantFile, type ActionBundler, type TenantConfig } from "./tenant.js";
import { resolve } from "node:path";

export interface ClientOptions {
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  /** SDK request timeout (default 30) */
  timeoutInSeconds?: number;
  /** SDK retries on 408/429/5xx (default 2); each step also retries 429s itself */
  maxRetries?: number;
}

export interface DeployOptions extends ClientOptions, IoOptions {
  tenantFile?: string;
  dryRun?: boolean;
  pruneSecrets?: boolean;
  unpin?: boolean;
  bundler?: ActionBundler;
  validateMapping?: (configFile: string | undefined) => void | Promise<void>;
}

export interface DeployResult {
  dryRun: boolean;
  noop: boolean;
  plan: DeployPlan;
  applied?: ApplyResult;
}

/** `AUTH0_DOMAIN` as a host (and optional port): a scheme or trailing slash is dropped */
export function normaliseDomain(domain: string): string {
  return domain.trim().replace(/^https:\/\//i, "").replace(/\/+$/, "");
}

function credentials(env: Record<string, string | undefined>) {
  const missing = ["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"].filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new ConfigError(`missing environment ${missing.map((k) => `"${k}"`).join(", ")}`, {
      code: "CONFIG_MISSING_SECRET",
      hint: "the deploy needs a Management API client with read:actions create:actions update:actions",
    });
  }
  return { domain: normaliseDomain(env.AUTH0_DOMAIN!), clientId: env.AUTH0_CLIENT_ID!, clientSecret: env.AUTH0_CLIENT_SECRET! };
}

/** a ManagementClient from the environment (client credentials) */
export function createClient(options: ClientOptions = {}): { client: ManagementClient; clientSecret: string } {
  const c = credentials(options.env ?? process.env);
  const client = new ManagementClient({
    domain: c.domain,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    timeoutInSeconds: options.timeoutInSeconds ?? 30,
    maxRetries: options.maxRetries ?? 2,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { client, clientSecret: c.clientSecret };
}

/** desired state with fingerprints (the crypto happens here, at the edge) */
export function desiredState(tenant: TenantConfig, key: Buffer): { desired: DesiredState; fingerprints: Map<string, string> } {
  const fingerprints = new Map<string, string>();
  const desired: DesiredState = {
    actions: tenant.actions.map((a) => {
      const fingerprint = fingerprintAction(key, a);
      fingerprints.set(a.name, fingerprint);
      return { name: a.name, fingerprint, secretNames: a.secrets.map((s) => s.name), listedSecretNames: a.listedSecretNames, deployed: a.deployed };
    }),
    triggers: tenant.triggers,
  };
  return { desired, fingerprints };
}

/** `npm run deploy [-- --dry-run]` */
export async function runDeploy(options: DeployOptions = {}): Promise<DeployResult> {
  const env = options.env ?? process.env;
  // tenant.yaml first: a config error sends no request
  const tenant = await loadTenantFile({
    env,
    ...(options.tenantFile ? { file: options.tenantFile } : {}),
    ...(options.bundler ? { bundler: options.bundler } : {}),
    ...(options.validateMapping ? { validateMapping: options.validateMapping } : {}),
  });
  const { client, clientSecret } = createClient(options);
  const key = deriveFingerprintKey({ clientSecret, ...(env.DEPLOY_FINGERPRINT_KEY ? { dedicatedKey: env.DEPLOY_FINGERPRINT_KEY } : {}) });
  const { desired, fingerprints } = desiredState(tenant, key);
  const remote = await readRemoteState(client, tenant.actions.map((a) => a.name), Object.keys(tenant.triggers), options);
  const plan = planDeploy(desired, remote, { pruneSecrets: options.pruneSecrets === true, unpin: options.unpin === true });
  for (const a of tenant.actions) {
    if (a.omittedOptionalSecrets.length > 0) plan.notes.push(`optional secrets of "${a.name}" not set, left out: ${a.omittedOptionalSecrets.map((n) => `"${n}"`).join(", ")}`);
  }
  const noop = isNoop(plan);
  if (options.dryRun) return { dryRun: true, noop, plan };
  const applied = await applyPlan(client, plan, tenant.actions, fingerprints, options);
  return { dryRun: false, noop, plan, applied };
}

/** action names from tenant.yaml, without resolving placeholders or building */
export function tenantActionNames(options: { tenantFile?: string; env?: Record<string, string | undefined> } = {}): string[] {
  const env = options.env ?? process.env;
  const doc = parseYamlFile(resolve(options.tenantFile ?? env.AUTH0_TENANT_FILE ?? "tenant.yaml"));
  const actions = (doc.value as { actions?: { name?: unknown }[] } | null)?.actions ?? [];
  return actions.map((a) => a.name).filter((n): n is string => typeof n === "string");
}

function pickAction(names: string[], wanted: string | undefined): string {
  if (wanted !== undefined) return wanted;
  if (names.length === 1) return names[0]!;
  throw new ConfigError(`tenant.yaml lists ${names.length} actions: name one with --action`, { code: "CONFIG_INVALID" });
}

export async function runRollback(options: ClientOptions & IoOptions & { tenantFile?: string; action?: string; to?: number } = {}): Promise<RollbackResult> {
  const name = pickAction(tenantActionNames(options), options.action);
  const { client } = createClient(options);
  return rollback(client, name, options.to, options);
}

export async function runListVersions(options: ClientOptions & IoOptions & { tenantFile?: string; action?: string } = {}): Promise<{ action: string; versions: VersionRow[] }> {
  const name = pickAction(tenantActionNames(options), options.action);
  const { client } = createClient(options);
  return { action: name, versions: await listVersions(client, name, options) };
}
