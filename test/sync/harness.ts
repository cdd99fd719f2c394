/**
 * End-to-end harness: a temporary folder with provisioning.yaml and a directory.json beside
 * it, a sandbox Catalog process, and helpers to run the sync in-process or as the CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProvisioningConfig } from "../../src/config/load.js";
import type { Directory } from "../../src/sync/directory.js";
import { runSync, type RunSyncOptions, type SyncRunResult } from "../../src/sync/run.js";
import { runTsx } from "../helpers/cli.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";

export const CATALOG_GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];

export const MAPPING = `groups:
  data-platform-engineers: catalog-admins
  it-admins: catalog-admins
  analysts-finance: finance-readers
  analysts-marketing: mkt-readers
  data-governance-leads: data-stewards
`;

/** A directory of `n` users spread over the mapped groups. */
export function makeDirectory(n = 12): Directory {
  const users = Array.from({ length: n }, (_, i) => ({
    id: `id-${String(i).padStart(3, "0")}`,
    email: `user${i}@example.com`,
    givenName: `Given${i}`,
    familyName: `Family${i}`,
    displayName: `User ${i}`,
    active: true,
  }));
  const names = ["data-platform-engineers", "it-admins", "analysts-finance", "analysts-marketing", "data-governance-leads"];
  const groups = names.map((name, g) => ({
    id: `grp-${g}`,
    name,
    members: users.filter((_, i) => i % names.length === g || (g === 2 && i % 3 === 0)).map((u) => u.id),
  }));
  return { users, groups };
}

export interface Workspace {
  dir: string;
  configFile: string;
  directoryFile: string;
  env: Record<string, string>;
  sandbox: SandboxHandle;
  writeDirectory(d: Directory): void;
  writeConfig(extra?: string, mapping?: string): void;
  run(options?: Partial<RunSyncOptions>): Promise<SyncRunResult>;
  cli(args: string[], extraEnv?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function createWorkspace(options: { profile?: "full" | "minimal"; sandbox?: SandboxHandle; mode?: "live" | "snapshot" } = {}): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), "sync-e2e-"));
  const configFile = join(dir, "provisioning.yaml");
  const directoryFile = join(dir, "directory.json");
  const sandbox = options.sandbox ?? (await startSandbox({ profile: options.profile ?? "full", groups: CATALOG_GROUPS }));
  const env = { CATALOG_SCIM_URL: sandbox.baseUrl, CATALOG_API_KEY: sandbox.apiKey, PROVISIONING_CONFIG: configFile };
  const ws: Workspace = {
    dir,
    configFile,
    directoryFile,
    env,
    sandbox,
    writeDirectory(d) {
      writeFileSync(directoryFile, JSON.stringify(d, null, 2));
    },
    writeConfig(extra = "", mapping = MAPPING) {
      writeFileSync(
        configFile,
        `catalog:\n  url: ${sandbox.baseUrl}\n${mapping}sync:\n  source:\n    type: file\n    path: directory.json\n  mode: ${options.mode ?? "live"}\n  concurrency: 4\n${extra}`,
      );
    },
    async run(o = {}) {
      const config = loadProvisioningConfig({ file: configFile, env });
      return runSync({ config, env, ...o });
    },
    cli(args, extraEnv = {}) {
      return runTsx("scripts/sync.ts", args, { env: { ...process.env, ...env, ...extraEnv, NO_COLOR: "1" } });
    },
    async close() {
      if (!options.sandbox) await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  ws.writeDirectory(makeDirectory());
  ws.writeConfig();
  return ws;
}

/** Writes the sandbox performed (the audit), optionally after a given sequence number. */
export async function writesSince(sandbox: SandboxHandle, seq = 0): Promise<{ method: string; path: string; status: number; summary: string }[]> {
  return (await sandbox.audit()).filter((e) => e.seq > seq);
}

export async function lastSeq(sandbox: SandboxHandle): Promise<number> {
  const a = await sandbox.audit();
  return a.length === 0 ? 0 : a[a.length - 1]!.seq;
}
