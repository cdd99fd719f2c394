/**
 * `npm run doctor`: checks the configuration files, every target's Catalog and the Auth0
 * credentials, and returns one row per check. Reads only: no Catalog write, no file written,
 * no Action built.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { loadProvisioningConfig } from "../config/load.js";
import type { ProvisioningConfig } from "../config/types.js";
import { aggregate, parseYamlFile, validateWithSchema } from "../config/yaml.js";
import { tenantSchema } from "../deploy/tenant.js";
import validateTenant from "../config/generated/tenant-validator.js";
import { ConfigError, ExitCode } from "../errors.js";
import { createCliFetch } from "../scim/cli-fetch.js";
import { checkAuth0 } from "./auth0.js";
import { checkCatalog } from "./catalog.js";
import type { CheckResult } from "./types.js";

export type { CheckResult } from "./types.js";

export interface DoctorOptions {
  /** provisioning.yaml; default env PROVISIONING_CONFIG, then ./provisioning.yaml */
  configFile?: string;
  /** tenant.yaml; default env AUTH0_TENANT_FILE, then ./tenant.yaml */
  tenantFile?: string;
  env?: Record<string, string | undefined>;
  /** transport for the Catalog (default: a pooled undici fetch) */
  fetch?: typeof fetch;
  /** transport for Auth0 (default: global fetch) */
  auth0Fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface DoctorResult {
  ok: boolean;
  exitCode: ExitCode;
  checks: CheckResult[];
}

const row = (check: string, status: CheckResult["status"], detail: string, extra: Partial<CheckResult> = {}): CheckResult => ({ target: "", check, status, detail, ...extra });

/** The config error as the doctor shows it: `file:line:column: message (hint: …)`, every one of an aggregate. */
function configRows(check: string, e: ConfigError): CheckResult[] {
  const list = (e.details?.errors as ConfigError[] | undefined) ?? [];
  const errors = list.length > 0 ? list : [e];
  return errors.map((x) => row(check, "fail", x instanceof ConfigError ? x.format() : String(x), { config: true, fix: x.hint ?? "fix the file at that line" }));
}

/** tenant.yaml: schema, and every placeholder set in the environment (optional secrets may be unset). */
export function checkTenantFile(file: string, env: Record<string, string | undefined>, explicit: boolean): CheckResult[] {
  if (!existsSync(file)) {
    return explicit
      ? [row("tenant.yaml", "fail", `"${file}" does not exist`, { config: true, fix: "point AUTH0_TENANT_FILE at the deploy's tenant.yaml" })]
      : [row("tenant.yaml", "skip", `no "${file}": the deploy is not configured here`)];
  }
  try {
    const doc = parseYamlFile(file);
    const errors = validateWithSchema(doc, tenantSchema, validateTenant);
    const root = (doc.value ?? {}) as { actions?: { secrets?: unknown }[] };
    const optional: string[] = [];
    (root.actions ?? []).forEach((a, i) => {
      if (!Array.isArray(a.secrets)) return;
      a.secrets.forEach((s: { name?: unknown; value?: unknown; optional?: unknown }, j) => {
        if (typeof s?.value !== "string") return;
        for (const m of s.value.matchAll(/##([A-Za-z_][A-Za-z0-9_]*)##|@@([A-Za-z_][A-Za-z0-9_]*)@@/g)) {
          const name = (m[1] ?? m[2])!;
          if (env[name] !== undefined && env[name] !== "") continue;
          if (s.optional === true) {
            optional.push(name);
            continue;
          }
          const at = doc.locate(["actions", i, "secrets", j, "value"]);
          errors.push(
            new ConfigError(`placeholder "${name}" is not set in the environment`, {
              file,
              ...(at ? { line: at.line, column: at.column } : {}),
              hint: `set the environment variable "${name}" before deploying`,
            }),
          );
        }
      });
    });
    if (errors.length > 0) throw aggregate(errors, file);
    const out = [row("tenant.yaml", "pass", `${(root.actions ?? []).length} action(s), placeholders set`)];
    if (optional.length > 0) out.push(row("tenant.yaml", "info", `optional secret(s) not set, left out by the deploy: ${optional.map((n) => `"${n}"`).join(", ")}`));
    return out;
  } catch (e) {
    if (e instanceof ConfigError) return configRows("tenant.yaml", e);
    throw e;
  }
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorResult> {
  const env = options.env ?? process.env;
  const checks: CheckResult[] = [];

  let config: ProvisioningConfig | undefined;
  try {
    config = loadProvisioningConfig({ ...(options.configFile !== undefined ? { file: options.configFile } : {}), env });
    checks.push(row("provisioning.yaml", "pass", `${config.file ?? "config"}: ${config.targets.length} target(s)${config.sync ? `, sync source "${config.sync.source.type}"` : ""}`));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    checks.push(...configRows("provisioning.yaml", e));
  }

  const tenantFile = resolve(options.tenantFile ?? env.AUTH0_TENANT_FILE ?? "tenant.yaml");
  checks.push(...checkTenantFile(tenantFile, env, options.tenantFile !== undefined || env.AUTH0_TENANT_FILE !== undefined));

  if (config) {
    const pool = options.fetch ? undefined : createCliFetch({ maxConnections: 4 });
    try {
      for (const target of config.targets) {
        checks.push(
          ...(await checkCatalog({
            config,
            target,
            env,
            fetch: options.fetch ?? pool!.fetch,
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          })),
        );
      }
    } finally {
      await pool?.close().catch(() => undefined);
    }
  }

  checks.push(...(await checkAuth0({ env, ...(options.auth0Fetch ? { fetch: options.auth0Fetch } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) })));

  const failed = checks.filter((c) => c.status === "fail");
  const exitCode = failed.some((c) => c.config) ? ExitCode.CONFIG : failed.length > 0 ? ExitCode.OPERATIONS_FAILED : ExitCode.OK;
  return { ok: failed.length === 0, exitCode, checks };
}
