/**
 * Bundling the Post-Login Action with esbuild: one CommonJS file for Auth0's node22 runtime,
 * the compiled config injected, deterministic (the same input builds the same bytes).
 *
 * esbuild's CommonJS output wraps ESM exports in a property-getter helper (about 0.5 kB).
 * The bundle is therefore built as ESM and its one final `export {…}` statement becomes
 * `exports.name = local` assignments; when the ESM output imports anything (a Node built-in)
 * or does not end with a plain `export {…}`, the esbuild CommonJS output is used as it is.
 */
import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import { compileActionConfig, type ActionConfig } from "../config/action-config.js";
import { loadProvisioningConfig } from "../config/load.js";

export const BUNDLE_HARD_LIMIT = 100 * 1024;
export const BUNDLE_BUDGET = 30 * 1024;
export const CONFIG_DEFINE = "__CATALOG_ACTION_CONFIG__";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Property names that esbuild shortens in the bundle: fields of the Action's own objects
 * (planner input and steps, lookups, the login summary, the transport's internals). None is
 * read from or written to anything outside the bundle: not the Auth0 `event`/`api`, not the
 * compiled config, not a SCIM request or response, not `app_metadata` or `api.cache` JSON,
 * and no object carrying them is serialised. A name added here must meet the same rule
 * (test/action/bundle.test.ts checks the config and the recorded wire formats).
 */
export const BUNDLE_INTERNAL_PROPS = [
  // planner input (src/action/plan.ts)
  "facts",
  "desiredGroups",
  "groupsUnknown",
  "groupIds",
  "missingGroups",
  "managedGroups",
  "jitterSample",
  "lookups",
  // lookups
  "byId",
  "byExternalId",
  "retryByExternalId",
  "retryByUserName",
  "groupsAdded",
  // steps
  "reads",
  "bulkGroups",
  "userOps",
  "adds",
  "removes",
  "userId",
  // login summary (src/action/executor.ts), member patch results
  "shadowStep",
  "rounds",
  "denied",
  "requests",
  // claims and mapping results
  "unknownReason",
  "matchedRules",
  // transport internals and options (src/scim/transport.ts); the key state is cached as "n"/"c"
  "fetchImpl",
  "retryAfterMs",
  "keyState",
  "preferred",
] as const;

export interface BuildActionBundleOptions {
  /** provisioning.yaml to compile in; default PROVISIONING_CONFIG, then ./provisioning.yaml */
  configFile?: string;
  /** an already compiled config (skips loading the file) */
  config?: ActionConfig;
  /** entry file; default actions/catalog-provisioning.ts */
  entry?: string;
  /** default true */
  minify?: boolean;
  /** also return esbuild's metafile (what each input contributes); default false */
  metafile?: boolean;
}

export interface ActionBundle {
  code: string;
  bytes: number;
  /** bytes the compiled config (the customer's mapping) takes in `code` */
  configBytes: number;
  sha256: string;
  metafile?: Metafile;
}

export async function buildActionBundle(options: BuildActionBundleOptions = {}): Promise<ActionBundle> {
  const config =
    options.config ?? compileActionConfig(loadProvisioningConfig(options.configFile !== undefined ? { file: options.configFile } : {}));
  const bundle = (format: "esm" | "cjs") =>
    build({
      entryPoints: [resolve(repoRoot, options.entry ?? "actions/catalog-provisioning.ts")],
      absWorkingDir: repoRoot,
      bundle: true,
      format,
      platform: "node",
      target: "node22",
      minify: options.minify ?? true,
      treeShaking: true,
      // class fields as constructor assignments: no field declarations in the output
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
      mangleProps: new RegExp(`^(${BUNDLE_INTERNAL_PROPS.join("|")})$`),
      sourcemap: false,
      legalComments: "none",
      charset: "utf8",
      write: false,
      logLevel: "silent",
      define: { [CONFIG_DEFINE]: JSON.stringify(config) },
      metafile: true,
    });
  const esm = await bundle("esm");
  const esmOutput = Object.values(esm.metafile.outputs)[0];
  let code = esm.outputFiles[0] && esmOutput?.imports.length === 0 ? esmToCommonJs(esm.outputFiles[0].text, esmOutput.exports) : undefined;
  let result = esm;
  if (code === undefined) {
    result = await bundle("cjs");
    code = result.outputFiles[0]?.text;
  }
  if (code === undefined) throw new Error("esbuild produced no output");
  const bytes = Buffer.byteLength(code, "utf8");
  const configBytes = Object.values(result.metafile.outputs)[0]?.inputs[`<define:${CONFIG_DEFINE}>`]?.bytesInOutput ?? 0;
  const sha256 = createHash("sha256").update(code).digest("hex");
  return options.metafile ? { code, bytes, configBytes, sha256, metafile: result.metafile } : { code, bytes, configBytes, sha256 };
}

/**
 * An import-free ESM bundle as CommonJS: strict mode, and its final `export{a as b,c};` as
 * `exports.b=a;exports.c=c;`. undefined when the code does not end with such a statement or
 * when it does not export exactly `exportNames` (esbuild's metafile lists every export).
 */
export function esmToCommonJs(code: string, exportNames: readonly string[]): string | undefined {
  const m = /\bexport\s*\{([^}]*)\};?\s*$/.exec(code);
  if (!m) return undefined;
  const assignments: string[] = [];
  const exported: string[] = [];
  for (const spec of m[1]!.split(",")) {
    const names = /^\s*([\w$]+)(?:\s+as\s+([\w$]+))?\s*$/.exec(spec);
    if (!names) return undefined;
    exported.push(names[2] ?? names[1]!);
    assignments.push(`exports.${names[2] ?? names[1]}=${names[1]};`);
  }
  if ([...exported].sort().join() !== [...exportNames].sort().join()) return undefined;
  return `"use strict";${code.slice(0, m.index)}${assignments.join("")}\n`;
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The modules a CommonJS bundle `require`s. */
export function bundleRequires(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/\brequire\(\s*(["'`])([^"'`]+)\1\s*\)/g)) found.add(m[2]!);
  return [...found].sort();
}

/**
 * `problems` (→ `ok: false`): the whole file over Auth0's 100 kB limit; the Action's own code
 * (the file less the compiled mapping, `configBytes`, which grows with the customer's mapping)
 * over the 30 kB budget; a `require` of anything but a Node built-in; no `onExecutePostLogin` export.
 * `warnings`: none at present (kept for callers that print them).
 */
export function checkBundle(code: string, options: { configBytes?: number } = {}): { ok: boolean; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const bytes = Buffer.byteLength(code, "utf8");
  const codeBytes = bytes - (options.configBytes ?? 0);
  if (bytes > BUNDLE_HARD_LIMIT) problems.push(`bundle is ${bytes} bytes, over Auth0's limit of ${BUNDLE_HARD_LIMIT}`);
  else if (codeBytes > BUNDLE_BUDGET) {
    problems.push(`the Action's code is ${codeBytes} bytes (bundle ${bytes} less the compiled mapping), over the budget of ${BUNDLE_BUDGET}`);
  }
  for (const r of bundleRequires(code)) {
    if (!BUILTINS.has(r)) problems.push(`bundle requires "${r}", which is not a Node built-in`);
  }
  try {
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    const req = (name: string): unknown => {
      if (!BUILTINS.has(name)) throw new Error(`"${name}" is not a Node built-in`);
      return process.getBuiltinModule ? process.getBuiltinModule(name) : undefined;
    };
    new Function("module", "exports", "require", code)(mod, mod.exports, req);
    if (typeof mod.exports["onExecutePostLogin"] !== "function") problems.push(`bundle does not export "onExecutePostLogin"`);
  } catch (e) {
    problems.push(`bundle does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ok: problems.length === 0, problems, warnings };
}
