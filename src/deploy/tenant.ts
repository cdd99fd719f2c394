/**
 * `tenant.yaml`: load, validate, resolve placeholders, and read or build each Action's code.
 *
 * The format is auth0-deploy-cli's subset for `actions:` and `triggers:`. `##NAME##` is
 * replaced by the environment variable's value, `@@NAME@@` (a whole value) by its JSON. An
 * unresolved or empty placeholder is an error naming the file and line, except in a secret
 * marked `optional: true`, which is then left out. Placeholders are never replaced inside
 * Action code: the published code is exactly the built bytes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError, ProvisioningError, type ErrorCode } from "../errors.js";
import { aggregate, parseYamlFile, validateWithSchema, type LocatedYaml } from "../config/yaml.js";
import validateTenant from "../config/generated/tenant-validator.js";
import type { BindingPosition, DesiredBinding } from "./plan.js";

export interface TenantSecret {
  name: string;
  value: string;
}

export interface TenantDependency {
  name: string;
  version: string;
  registry_url?: string;
}

export interface TenantAction {
  name: string;
  /** the built bytes to publish (before the fingerprint comment) */
  code: string;
  /** where the code came from, for messages */
  codeSource: string;
  runtime: string;
  dependencies: TenantDependency[];
  /** resolved secrets to send, in file order */
  secrets: TenantSecret[];
  /** every secret listed, including optional ones left out now */
  listedSecretNames: string[];
  /** optional secrets left out because their placeholder is unset */
  omittedOptionalSecrets: string[];
  supported_triggers: { id: string; version: string }[];
  /** tenant.yaml `deployed` (default true); never sent to the API */
  deployed: boolean;
  line?: number;
}

export interface TenantConfig {
  file: string;
  actions: TenantAction[];
  triggers: Record<string, DesiredBinding[]>;
}

/** the bundler seam: the default is `./bundle.js` (esbuild) */
export interface ActionBundler {
  build(options: { entry: string; configFile?: string; minify?: boolean }): Promise<{ code: string; configBytes?: number }>;
  /** `configBytes`: how much of `code` is the compiled mapping (not counted in the code budget) */
  check(code: string, options?: { configBytes?: number }): { ok: boolean; problems: string[] };
}

export interface LoadTenantOptions {
  /** default: env `AUTH0_TENANT_FILE`, else `./tenant.yaml` */
  file?: string;
  env?: Record<string, string | undefined>;
  bundler?: ActionBundler;
  /** validates the mapping that is compiled into a built Action; default `loadProvisioningConfig` */
  validateMapping?: (configFile: string | undefined) => void | Promise<void>;
}

const dependencySchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "version"],
  properties: { name: { type: "string", minLength: 1 }, version: { type: "string", minLength: 1 }, registry_url: { type: "string" } },
};
const secretSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "value"],
  properties: {
    name: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]{0,127}$" },
    value: { type: "string" },
    optional: { type: "boolean" },
  },
};
const wholePlaceholder = { type: "string", pattern: "^@@[A-Za-z_][A-Za-z0-9_]*@@$" };

/** JSON Schema of tenant.yaml (before placeholders are resolved) */
export const tenantSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    actions: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "supported_triggers"],
        properties: {
          name: { type: "string", minLength: 1 },
          code: { type: "string", minLength: 1 },
          entry: { type: "string", minLength: 1 },
          build: {
            type: "object",
            additionalProperties: false,
            required: ["entry"],
            properties: { entry: { type: "string", minLength: 1 }, outfile: { type: "string" }, minify: { type: "boolean" }, config: { type: "string" } },
          },
          runtime: { type: "string", enum: ["node22"] },
          dependencies: { anyOf: [{ type: "array", maxItems: 10, items: dependencySchema }, wholePlaceholder] },
          secrets: { anyOf: [{ type: "array", maxItems: 30, items: secretSchema }, wholePlaceholder] },
          supported_triggers: {
            type: "array",
            minItems: 1,
            maxItems: 1,
            items: {
              type: "object",
              additionalProperties: false,
              required: ["id", "version"],
              properties: { id: { type: "string" }, version: { type: "string" } },
            },
          },
          deployed: { type: "boolean" },
          status: { type: "string" },
        },
      },
    },
    triggers: {
      type: "object",
      additionalProperties: {
        type: "array",
        maxItems: 20,
        items: {
          type: "object",
          additionalProperties: false,
          required: ["action_name"],
          properties: {
            action_name: { type: "string", minLength: 1 },
            display_name: { type: "string" },
            position: { type: "string", pattern: "^(first|last|(after|before):.+)$" },
          },
        },
      },
    },
  },
} as const;

const PLACEHOLDER = /##([A-Za-z_][A-Za-z0-9_]*)##|@@([A-Za-z_][A-Za-z0-9_]*)@@/g;
const WHOLE_JSON = /^@@([A-Za-z_][A-Za-z0-9_]*)@@$/;

type Path = (string | number)[];

function err(doc: LocatedYaml, path: Path, message: string, options: { hint?: string; code?: ErrorCode } = {}): ConfigError {
  const at = doc.locate(path);
  return new ConfigError(message, {
    file: doc.file,
    ...(at ? { line: at.line, column: at.column } : {}),
    ...(options.hint ? { hint: options.hint } : {}),
    ...(options.code ? { code: options.code } : {}),
  });
}

/**
 * Replace placeholders in every string of `value`. Unresolved ones are reported through
 * `onMissing` with their path; the returned value keeps the placeholder text there.
 */
function resolvePlaceholders(value: unknown, path: Path, env: Record<string, string | undefined>, onMissing: (path: Path, name: string) => void): unknown {
  if (typeof value === "string") {
    const whole = WHOLE_JSON.exec(value);
    if (whole) {
      const raw = env[whole[1]!];
      if (raw === undefined || raw === "") {
        onMissing(path, whole[1]!);
        return value;
      }
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return raw;
      }
    }
    return value.replace(PLACEHOLDER, (match, hashName: string | undefined, atName: string | undefined) => {
      const name = (hashName ?? atName)!;
      const raw = env[name];
      if (raw === undefined || raw === "") {
        onMissing(path, name);
        return match;
      }
      return raw;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolvePlaceholders(v, [...path, i], env, onMissing));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolvePlaceholders(v, [...path, k], env, onMissing);
    return out;
  }
  return value;
}

function parsePosition(text: string | undefined): BindingPosition {
  if (text === undefined || text === "last") return { kind: "last" };
  if (text === "first") return { kind: "first" };
  const m = /^(after|before):(.+)$/.exec(text);
  if (m) return { kind: m[1] as "after" | "before", actionName: m[2]!.trim() };
  return { kind: "last" };
}

interface RawAction {
  name: string;
  code?: string;
  entry?: string;
  build?: { entry: string; outfile?: string; minify?: boolean; config?: string };
  runtime?: string;
  dependencies?: unknown;
  secrets?: unknown;
  supported_triggers: { id: string; version: string }[];
  deployed?: boolean;
}

interface RawBinding {
  action_name: string;
  display_name?: string;
  position?: string;
}

async function defaultBundler(): Promise<ActionBundler> {
  const mod = await import("./bundle.js");
  return {
    build: (o) => mod.buildActionBundle(o),
    check: (code, o) => mod.checkBundle(code, o),
  };
}

async function defaultValidateMapping(configFile: string | undefined): Promise<void> {
  const { loadProvisioningConfig } = await import("../config/load.js");
  loadProvisioningConfig(configFile === undefined ? {} : { file: configFile });
}

/**
 * Load `tenant.yaml`. Every mistake in the file is reported at once (one `ConfigError`, exit 2);
 * a bundle over budget or requiring a non-built-in module throws `DEPLOY_BUNDLE_INVALID` (exit 3).
 * Sends no request.
 */
export async function loadTenantFile(options: LoadTenantOptions = {}): Promise<TenantConfig> {
  const env = options.env ?? process.env;
  const file = resolve(options.file ?? env.AUTH0_TENANT_FILE ?? "tenant.yaml");
  const doc = parseYamlFile(file);
  const errors: ConfigError[] = [...validateWithSchema(doc, tenantSchema, validateTenant)];
  if (errors.length > 0) throw aggregate(errors, file);

  const root = (doc.value ?? {}) as { actions?: RawAction[]; triggers?: Record<string, RawBinding[]> };
  const rawActions = root.actions ?? [];

  // optional secrets: an unresolved placeholder drops the secret instead of failing
  const optionalSecretPaths = new Set<string>();
  rawActions.forEach((a, i) => {
    if (Array.isArray(a.secrets)) {
      (a.secrets as { optional?: boolean }[]).forEach((s, j) => {
        if (s.optional === true) optionalSecretPaths.add(`${i}/${j}`);
      });
    }
  });
  const droppedSecrets = new Set<string>();
  const resolved = resolvePlaceholders(root, [], env, (path, name) => {
    if (path[0] === "actions" && path[2] === "secrets" && path[4] === "value" && optionalSecretPaths.has(`${path[1]}/${path[3]}`)) {
      droppedSecrets.add(`${path[1]}/${path[3]}`);
      return;
    }
    errors.push(
      err(doc, path, `placeholder "${name}" is not set in the environment`, {
        hint: `set the environment variable "${name}", or mark the secret "optional: true"`,
        code: "CONFIG_PLACEHOLDER_UNRESOLVED",
      }),
    );
  }) as { actions?: RawAction[]; triggers?: Record<string, RawBinding[]> };

  const baseDir = dirname(file);
  const actions: TenantAction[] = [];
  const names = new Set<string>();
  const pending: { index: number; raw: RawAction }[] = [];
  (resolved.actions ?? []).forEach((raw, i) => {
    const at = ["actions", i];
    if (names.has(raw.name)) errors.push(err(doc, [...at, "name"], `action "${raw.name}" is listed twice`));
    names.add(raw.name);
    const sources = [raw.code, raw.entry, raw.build].filter((x) => x !== undefined).length;
    if (sources !== 1) {
      errors.push(err(doc, at, `action "${raw.name}" needs exactly one of "code", "entry" or "build"`, { hint: "\"code\" is a JavaScript file, \"entry\" a TypeScript entry built with esbuild" }));
    }
    if (raw.secrets !== undefined && !isSecretList(raw.secrets)) {
      errors.push(err(doc, [...at, "secrets"], `"secrets" of action "${raw.name}" must be a list of { name, value }`));
    }
    if (raw.dependencies !== undefined && !isDependencyList(raw.dependencies)) {
      errors.push(err(doc, [...at, "dependencies"], `"dependencies" of action "${raw.name}" must be a list of { name, version }`));
    }
    if (raw.code !== undefined && !existsSync(resolve(baseDir, raw.code))) {
      errors.push(err(doc, [...at, "code"], `code file "${raw.code}" does not exist`, { code: "CONFIG_NOT_FOUND", hint: "paths are relative to the tenant file" }));
    }
    pending.push({ index: i, raw });
  });

  const triggers: Record<string, DesiredBinding[]> = {};
  for (const [trigger, list] of Object.entries(resolved.triggers ?? {})) {
    triggers[trigger] = list.map((b, j) => {
      if (!names.has(b.action_name)) {
        errors.push(err(doc, ["triggers", trigger, j, "action_name"], `binding names action "${b.action_name}", which tenant.yaml does not list`, { hint: `list it under "actions"` }));
      }
      return { actionName: b.action_name, displayName: b.display_name ?? b.action_name, position: parsePosition(b.position) };
    });
  }
  if (errors.length > 0) throw aggregate(errors, file);

  let bundler = options.bundler;
  for (const { index, raw } of pending) {
    const secretsAll = (raw.secrets as (TenantSecret & { optional?: boolean })[] | undefined) ?? [];
    const secrets = secretsAll
      .filter((_, j) => !droppedSecrets.has(`${index}/${j}`))
      .map((s) => ({ name: s.name, value: s.value }));
    let code: string;
    let codeSource: string;
    let configBytes: number | undefined;
    if (raw.code !== undefined) {
      codeSource = resolve(baseDir, raw.code);
      code = readFileSync(codeSource, "utf8");
    } else {
      const spec = raw.build ?? { entry: raw.entry! };
      const configFile = spec.config !== undefined ? resolve(baseDir, spec.config) : env.PROVISIONING_CONFIG;
      // guard: never publish an Action whose mapping fails validation (ConfigError, exit 2)
      await (options.validateMapping ?? defaultValidateMapping)(configFile);
      bundler ??= await defaultBundler();
      const entry = isAbsolute(spec.entry) ? spec.entry : resolve(baseDir, spec.entry);
      const built = await bundler.build({ entry, ...(configFile !== undefined ? { configFile } : {}), ...(spec.minify !== undefined ? { minify: spec.minify } : {}) });
      code = built.code;
      configBytes = built.configBytes;
      codeSource = entry;
      const outfile = resolve(baseDir, spec.outfile ?? "dist/actions/catalog-provisioning.js");
      // keep dist/ equal to what is published: write it when missing or stale
      if (!existsSync(outfile) || readFileSync(outfile, "utf8") !== code) {
        mkdirSync(dirname(outfile), { recursive: true });
        writeFileSync(outfile, code);
      }
    }
    if (raw.supported_triggers.some((t) => t.id === "post-login")) {
      bundler ??= await defaultBundler();
      const check = bundler.check(code, configBytes !== undefined ? { configBytes } : {});
      if (!check.ok) {
        throw new ProvisioningError("DEPLOY_BUNDLE_INVALID", `action "${raw.name}" breaks its bundle budget: ${check.problems.join("; ")}`, {
          hint: "keep the Action small and require only Node built-ins",
          details: { action: raw.name, problems: check.problems },
        });
      }
    }
    const at = doc.locate(["actions", index]);
    const action: TenantAction = {
      name: raw.name,
      code,
      codeSource,
      runtime: raw.runtime ?? "node22",
      dependencies: (raw.dependencies as TenantDependency[] | undefined) ?? [],
      secrets,
      listedSecretNames: secretsAll.map((s) => s.name),
      omittedOptionalSecrets: secretsAll.filter((_, j) => droppedSecrets.has(`${index}/${j}`)).map((s) => s.name),
      supported_triggers: raw.supported_triggers,
      deployed: raw.deployed ?? true,
    };
    if (at) action.line = at.line;
    actions.push(action);
  }
  return { file, actions, triggers };
}

function isSecretList(v: unknown): boolean {
  return Array.isArray(v) && v.every((s) => s !== null && typeof s === "object" && typeof (s as TenantSecret).name === "string" && typeof (s as TenantSecret).value === "string");
}

function isDependencyList(v: unknown): boolean {
  return Array.isArray(v) && v.every((d) => d !== null && typeof d === "object" && typeof (d as TenantDependency).name === "string" && typeof (d as TenantDependency).version === "string");
}
