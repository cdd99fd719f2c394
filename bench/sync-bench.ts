/**
 * The sync benchmark: a generated directory → `file` source → `runSync` in a child process →
 * the sandbox in its own process. Counts requests on the server side (`/_sandbox/requests`),
 * reads the server's CPU from `/_sandbox/stats` and the client's CPU and peak RSS from the
 * child's own report, so neither side's cost hides in the other.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Directory } from "../src/sync/directory.js";
import { startSandbox, type SandboxHandle } from "../test/helpers/sandbox.js";
import type { RequestEntry } from "../src/sandbox/types.js";
import type { SyncChildReport } from "./sync-child.js";
import { ensureCliBundle } from "../scripts/cli.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface SyncWorkspace {
  dir: string;
  configFile: string;
  sandbox: SandboxHandle;
  profile: "full" | "minimal";
  writeDirectory(d: Directory): void;
  close(): Promise<void>;
}

export interface WorkspaceOptions {
  mapping: Record<string, string>;
  catalogGroups: string[];
  profile: "full" | "minimal";
  mode: "live" | "snapshot";
  /** default 100 */
  batchSize?: number;
  /** default 8 */
  concurrency?: number;
  /** an already running sandbox (reset by the caller) */
  sandbox?: SandboxHandle;
  /** the source block of provisioning.yaml; default the `file` source on directory.json */
  sourceYaml?: string;
}

const yamlKey = (k: string): string => JSON.stringify(k);

export async function createSyncWorkspace(options: WorkspaceOptions): Promise<SyncWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), "bench-sync-"));
  const configFile = join(dir, "provisioning.yaml");
  const directoryFile = join(dir, "directory.json");
  const sandbox = options.sandbox ?? (await startSandbox({ profile: options.profile, groups: options.catalogGroups }));
  const lines = [
    "catalog:",
    `  url: ${sandbox.baseUrl}`,
    "groups:",
    ...Object.entries(options.mapping).map(([k, v]) => `  ${yamlKey(k)}: ${yamlKey(v)}`),
    "sync:",
    options.sourceYaml ?? "  source:\n    type: file\n    path: directory.json",
    `  mode: ${options.mode}`,
    `  batchSize: ${options.batchSize ?? 100}`,
    `  concurrency: ${options.concurrency ?? 8}`,
    "",
  ];
  writeFileSync(configFile, lines.join("\n"));
  return {
    dir,
    configFile,
    sandbox,
    profile: options.profile,
    writeDirectory(d) {
      writeFileSync(directoryFile, JSON.stringify(d));
    },
    async close() {
      if (!options.sandbox) await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SyncMeasurement {
  ok: boolean;
  error?: string;
  /** wall time of `runSync` in the child, ms */
  wallMs: number;
  /** wall time of the child from its start (Node start-up, module loading, config, run), ms */
  processWallMs?: number;
  /** the child's CPU time, ms (user + system), the whole process */
  clientCpuMs: number;
  /** the child's CPU time during the run only, ms */
  clientRunCpuMs: number;
  /** the sandbox's CPU time during the run, ms */
  serverCpuMs: number;
  /** minor page faults of the child during the run: memory it touched for the first time */
  minorPageFaults?: number;
  /** the child's peak RSS, bytes */
  maxRss: number;
  /** the child's peak V8 heap in use, bytes (sampled) */
  peakHeapUsed?: number;
  requests: number;
  reads: number;
  writes: number;
  /** writes by kind, e.g. `POST /Users`, `PATCH /Groups`, `POST /Bulk` */
  writesByKind: Record<string, number>;
  summary?: Record<string, unknown>;
}

const cpuMs = (c: { user: number; system: number }): number => (c.user + c.system) / 1000;

function kindOf(e: RequestEntry): string {
  const seg = e.path.split("/")[1] ?? "";
  return `${e.method} /${seg}`;
}

/** Runs the sync once in a child process and measures it. */
export async function measureSync(
  ws: SyncWorkspace,
  options: { mode?: "live" | "snapshot"; extraEnv?: Record<string, string>; /** extra node flags, e.g. `--cpu-prof` */ nodeArgs?: string[] } = {},
): Promise<SyncMeasurement> {
  await ws.sandbox.clearRequests();
  const before = await ws.sandbox.stats();
  // the compiled child (as `npm run sync` runs the compiled CLI): no TypeScript loader in the measured process
  const child = await ensureCliBundle("bench-sync-child");
  const args = [...(options.nodeArgs ?? []), child, "--config", ws.configFile, ...(options.mode ? ["--mode", options.mode] : [])];
  const report = await new Promise<SyncChildReport>((res, rej) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, CATALOG_SCIM_URL: ws.sandbox.baseUrl, CATALOG_API_KEY: ws.sandbox.apiKey, NO_COLOR: "1", ...options.extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err = (err + d).slice(-4000)));
    child.on("error", rej);
    child.on("exit", (code, signal) => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        res(JSON.parse(line) as SyncChildReport);
      } catch {
        rej(new Error(`the sync child exited (code ${code}, signal ${signal}) without a report: ${err.trim().slice(-1000)}`));
      }
    });
  });
  const after = await ws.sandbox.stats();
  const entries = await ws.sandbox.requests();
  const writesByKind: Record<string, number> = {};
  let writes = 0;
  for (const e of entries) {
    if (e.method === "GET") continue;
    writes++;
    const k = kindOf(e);
    writesByKind[k] = (writesByKind[k] ?? 0) + 1;
  }
  return {
    ok: report.ok,
    ...(report.error !== undefined ? { error: report.error } : {}),
    wallMs: report.wallMs,
    ...(report.processWallMs !== undefined ? { processWallMs: report.processWallMs } : {}),
    clientCpuMs: cpuMs(report.cpu),
    clientRunCpuMs: cpuMs(report.cpuRun),
    serverCpuMs: cpuMs(after.cpu) - cpuMs(before.cpu),
    maxRss: report.maxRss,
    ...(report.minorPageFaultsRun !== undefined ? { minorPageFaults: report.minorPageFaultsRun } : {}),
    ...(report.peakHeapUsed !== undefined ? { peakHeapUsed: report.peakHeapUsed } : {}),
    requests: after.requests - before.requests,
    reads: entries.length - writes,
    writes,
    writesByKind,
    ...(report.summary !== undefined ? { summary: report.summary } : {}),
  };
}

/**
 * What it costs this machine to touch memory for the first time, in ms per MiB: a fresh
 * zero-filled buffer (its pages not mapped yet) written once, then written again. Each first
 * touch of a page is a page fault; on a virtual machine that can cost far more than the write.
 */
export function firstTouchCost(mib = 64): { firstMsPerMib: number; againMsPerMib: number } {
  const buf = Buffer.alloc(mib * 2 ** 20);
  let t = performance.now();
  buf.fill(1);
  const first = performance.now() - t;
  t = performance.now();
  buf.fill(2);
  const again = performance.now() - t;
  return { firstMsPerMib: first / mib, againMsPerMib: again / mib };
}
