/**
 * The compiled CLIs: `npm run sync` (and deploy, doctor, verify, mapping:impact, action:run,
 * sandbox) run `node scripts/cli.mjs <name> args…`, which runs `dist/cli/<name>.js`, an esbuild
 * bundle of `scripts/<name>.ts`, with plain `node` (no TypeScript loader in the process).
 *
 * The bundles are rebuilt first when one is missing or older than any file under `src/` or
 * `scripts/` (a stat of each file: a few milliseconds), so a fresh clone and an edited tree both
 * just work. `npm run build` writes them too. Plain JavaScript, so that plain `node` runs it.
 *
 * Bundled: the project's code and its pure-JavaScript dependencies (one file to read instead of
 * hundreds of modules); left to `node_modules`: native or large packages only a few commands use.
 */
import { mkdirSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** bundle name → entry, relative to the repository */
export const CLI_ENTRIES = {
  sync: "scripts/sync.ts",
  deploy: "scripts/deploy.ts",
  doctor: "scripts/doctor.ts",
  verify: "scripts/verify.ts",
  "mapping-impact": "scripts/mapping-impact.ts",
  "action-run": "scripts/action-run.ts",
  sandbox: "scripts/sandbox.ts",
  "bench-sync-child": "bench/sync-child.ts",
};

/** packages left in node_modules: native (better-sqlite3, esbuild) or large and used by deploy only (auth0) */
export const CLI_EXTERNAL = ["better-sqlite3", "esbuild", "auth0", "undici"];

/** folders whose files the bundles are built from (with each entry itself) */
const SOURCE_ROOTS = ["src", "scripts"];

/** where the bundles go: `dist/cli/<name>.js` (two levels below the root, like `src/<area>/`) */
export function cliBundlePath(name, root = REPO_ROOT) {
  return join(root, "dist", "cli", `${name}.js`);
}

/** the newest modification time (ms) of the files under `paths` (files or folders) */
export function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) visit(join(p, name));
    } else if (st.mtimeMs > newest) {
      newest = st.mtimeMs;
    }
  };
  for (const p of paths) visit(p);
  return newest;
}

/** true when the bundle is missing or older than any source file it may be built from */
export function isStale(name, root = REPO_ROOT, entries = CLI_ENTRIES) {
  const entry = entries[name];
  if (entry === undefined) throw new TypeError(`unknown cli "${name}"`);
  let built;
  try {
    built = statSync(cliBundlePath(name, root)).mtimeMs;
  } catch {
    return true;
  }
  return newestMtime([...SOURCE_ROOTS.map((r) => join(root, r)), join(root, entry)]) > built;
}

/**
 * Builds every bundle of `entries` (one esbuild run). Each file is written to a temporary name
 * and renamed, so a process starting meanwhile reads an old or a new bundle, never half of one;
 * its modification time is the build's start, so a source edited during the build is newer.
 * @returns the bundles written, with their sizes
 */
export async function buildCliBundles(root = REPO_ROOT, entries = CLI_ENTRIES) {
  const started = new Date();
  const { build } = await import("esbuild");
  const names = Object.keys(entries);
  const result = await build({
    absWorkingDir: root,
    entryPoints: names.map((name) => ({ in: entries[name], out: name })),
    outdir: join(root, "dist", "cli"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: CLI_EXTERNAL,
    // CommonJS dependencies bundled into ESM call `require` for Node built-ins
    banner: { js: 'import { createRequire as __cliCreateRequire } from "node:module";\nconst require = __cliCreateRequire(import.meta.url);' },
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
    write: false,
  });
  const written = [];
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    utimesSync(tmp, started, started);
    renameSync(tmp, file.path);
    written.push({ file: relative(root, file.path), bytes: file.contents.byteLength });
  }
  return written;
}

/** Rebuilds when stale, then returns the bundle's path. */
export async function ensureCliBundle(name, root = REPO_ROOT, entries = CLI_ENTRIES) {
  if (isStale(name, root, entries)) await buildCliBundles(root, entries);
  return cliBundlePath(name, root);
}

async function main() {
  const name = process.argv[2];
  if (name === undefined || !(name in CLI_ENTRIES)) {
    process.stderr.write(`usage: node scripts/cli.mjs <${Object.keys(CLI_ENTRIES).join("|")}> [args…]\n`);
    process.exit(2);
  }
  let file;
  try {
    file = await ensureCliBundle(name);
  } catch (e) {
    process.stderr.write(`building "dist/cli" failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  // the CLI reads its arguments from process.argv.slice(2)
  process.argv.splice(1, 2, file);
  await import(pathToFileURL(file).href);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
