/**
 * The compiled CLIs (scripts/cli.mjs): bundles rebuilt when missing or older than a source file,
 * the launcher passing the arguments through, and `npm run sync`'s compiled code against the
 * sandbox, with the sync's reads: `/ServiceProviderConfig` only for discovery, no member read
 * of an empty Catalog, one confirming group read once users carry `groups`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCliBundles, cliBundlePath, isStale } from "../../scripts/cli.mjs";
import { generateDirectory } from "../../bench/generate.js";
import { createSyncWorkspace, type SyncWorkspace } from "../../bench/sync-bench.js";
import { repoRoot, runProcess } from "../helpers/cli.js";

describe("bundles of a source tree", () => {
  let root: string;
  const entries = { hello: "scripts/hello.ts" };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "cli-bundles-"));
    mkdirSync(join(root, "src"));
    mkdirSync(join(root, "scripts"));
    writeFileSync(join(root, "src", "msg.ts"), 'export const msg: string = "hello";\n');
    writeFileSync(join(root, "scripts", "hello.ts"), 'import { msg } from "../src/msg.js";\nconsole.log(msg, JSON.stringify(process.argv.slice(2)));\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("missing is stale; built is fresh and runs with plain node", async () => {
    expect(isStale("hello", root, entries)).toBe(true);
    const before = Date.now();
    const written = await buildCliBundles(root, entries);
    expect(written.map((w) => w.file)).toEqual([join("dist", "cli", "hello.js")]);
    // stamped with the build's start: a source edited while it ran is newer
    expect(statSync(cliBundlePath("hello", root)).mtimeMs).toBeLessThanOrEqual(Date.now());
    expect(statSync(cliBundlePath("hello", root)).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
    expect(isStale("hello", root, entries)).toBe(false);
    const run = await runProcess(process.execPath, [cliBundlePath("hello", root), "a", "--b"]);
    expect(run.stdout.trim()).toBe('hello ["a","--b"]');
  });

  it("an edited or a new file under src/ or scripts/ makes it stale", async () => {
    await buildCliBundles(root, entries);
    expect(isStale("hello", root, entries)).toBe(false);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, "src", "msg.ts"), later, later);
    expect(isStale("hello", root, entries)).toBe(true);
    await buildCliBundles(root, entries);
    expect(isStale("hello", root, entries)).toBe(true); // the edit is still newer than the build's start
    const t = new Date(Date.now() - 60_000);
    utimesSync(join(root, "src", "msg.ts"), t, t);
    await buildCliBundles(root, entries);
    expect(isStale("hello", root, entries)).toBe(false);
    writeFileSync(join(root, "scripts", "other.ts"), "export {};\n");
    utimesSync(join(root, "scripts", "other.ts"), later, later);
    expect(isStale("hello", root, entries)).toBe(true);
  });

  it("an unknown bundle name is refused", () => {
    expect(() => isStale("nope", root, entries)).toThrow('unknown cli "nope"');
  });
});

describe("the launcher", () => {
  it("runs the compiled sync with its arguments (rebuilding when needed)", async () => {
    const run = await runProcess(process.execPath, [join(repoRoot, "scripts", "cli.mjs"), "sync", "--help"], { cwd: repoRoot });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("npm run sync -- [--dry-run]");
    expect(isStale("sync")).toBe(false);
  });

  it("the commands validate their YAML with generated code: ajv's schema compiler is not in them", async () => {
    await runProcess(process.execPath, [join(repoRoot, "scripts", "cli.mjs"), "sync", "--help"], { cwd: repoRoot });
    for (const name of ["sync", "doctor", "verify", "deploy"]) {
      const code = readFileSync(cliBundlePath(name), "utf8");
      expect(code, name).toContain("node_modules/ajv/dist/runtime/");
      expect(code, name).not.toContain("node_modules/ajv/dist/compile/");
    }
    // and a mistake still comes back with its file and line
    const dir = mkdtempSync(join(tmpdir(), "cli-config-"));
    try {
      writeFileSync(join(dir, "provisioning.yaml"), "catalog:\n  url: https://catalog.example/scim/v2\nsync:\n  source:\n    type: file\n    path: d.json\n  batchSize: 0\n");
      const run = await runProcess(process.execPath, [join(repoRoot, "scripts", "cli.mjs"), "sync", "--config", join(dir, "provisioning.yaml"), "--dry-run"], { cwd: repoRoot });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/provisioning\.yaml:7/);
      expect(run.stderr).toContain("batchSize");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown command with exit 2", async () => {
    const run = await runProcess(process.execPath, [join(repoRoot, "scripts", "cli.mjs"), "nope"], { cwd: repoRoot });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("usage: node scripts/cli.mjs <sync|");
  });
});

describe("the compiled sync against the sandbox (full profile)", () => {
  const g = generateDirectory({ users: 60, groups: 6, memberships: 150, seed: 3 });
  let ws: SyncWorkspace;
  beforeAll(async () => {
    ws = await createSyncWorkspace({ mapping: g.mapping, catalogGroups: g.catalogGroups, profile: "full", mode: "live" });
    ws.writeDirectory(g.directory);
  });
  afterAll(async () => ws?.close());

  const sync = async () => {
    await ws.sandbox.clearRequests();
    const run = await runProcess(process.execPath, [join(repoRoot, "scripts", "cli.mjs"), "sync", "--config", ws.configFile, "--json"], {
      cwd: repoRoot,
      env: { ...process.env, CATALOG_SCIM_URL: ws.sandbox.baseUrl, CATALOG_API_KEY: ws.sandbox.apiKey, NO_COLOR: "1" },
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const reads = (await ws.sandbox.requests()).filter((e) => e.method === "GET").map((e) => e.path.replace(/\?.*$/, "").replace(/^\/Groups\/.+$/, "/Groups/{id}"));
    return { summary: JSON.parse(run.stdout) as Record<string, number>, reads };
  };

  it("initial: discovery is one /ServiceProviderConfig, the empty Catalog's groups are not read", async () => {
    const { summary, reads } = await sync();
    expect(summary.created).toBe(60);
    expect(summary.membershipsAdded).toBe(150);
    expect(reads.filter((r) => r === "/ServiceProviderConfig")).toHaveLength(1);
    expect(reads.filter((r) => r === "/Users")).toHaveLength(1); // the listing, no probe
    expect(reads.filter((r) => r === "/Groups/{id}")).toHaveLength(0);
    expect(reads.filter((r) => r === "/Groups")).toHaveLength(1); // one `or` look-up for the six managed group names
  });

  it("again, nothing changed: no write, one confirming group read instead of one per group", async () => {
    const { summary, reads } = await sync();
    expect(summary.created + summary.membershipsAdded + summary.membershipsRemoved + summary.updated).toBe(0);
    expect(reads.filter((r) => r === "/Groups/{id}")).toHaveLength(1);
    expect(reads.filter((r) => r === "/ServiceProviderConfig").length).toBeLessThanOrEqual(1);
  });
});
