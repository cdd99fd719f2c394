/**
 * Starts the local Catalog SCIM sandbox (`scripts/sandbox.ts`, through tsx) in its own process,
 * waits for the base URL it prints, and reads and drives its admin API. Used by
 * `npm run action:run -- --sandbox`, `npm run demo` and the integration tests, so the sandbox's
 * synchronous SQLite work never blocks the client under test.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEntry, FaultSpec, RequestEntry, SandboxProfile, SandboxStats } from "./types.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;

export interface SandboxProcessOptions {
  /** default: a fresh random key */
  apiKey?: string;
  /** Catalog groups seeded at start-up; names with "," or a line break go through a groups file */
  groups?: string[];
  /** default: the sandbox's own default ("full") */
  profile?: SandboxProfile;
  maxPageSize?: number;
  /** a file path or ":memory:" (the sandbox's default) */
  db?: string;
  /** extra Node options for the sandbox process, e.g. `--cpu-prof` (benchmark profiles) */
  nodeArgs?: string[];
}

export interface SandboxProcess {
  /** `http://127.0.0.1:<port>/scim/v2` */
  baseUrl: string;
  apiKey: string;
  pid: number;
  stop(): Promise<void>;
  reset(groups?: string[]): Promise<void>;
  audit(): Promise<AuditEntry[]>;
  clearAudit(): Promise<void>;
  requests(): Promise<RequestEntry[]>;
  clearRequests(): Promise<void>;
  setFaults(faults: FaultSpec[]): Promise<void>;
  setKeys(keys: string[]): Promise<void>;
  createGroup(displayName: string): Promise<{ id: string }>;
  seedUser(user: Record<string, unknown>): Promise<{ id: string }>;
  stats(): Promise<SandboxStats>;
}

function sandboxArgs(apiKey: string, options: SandboxProcessOptions): string[] {
  const groups = options.groups ?? [];
  const args = [...(options.nodeArgs ?? []), "--import", "tsx", "scripts/sandbox.ts", "--port", "0", "--api-key", apiKey];
  if (groups.some((g) => g.includes(",") || g.includes("\n"))) {
    const dir = mkdtempSync(join(tmpdir(), "sandbox-groups-"));
    const file = join(dir, "groups.json");
    writeFileSync(file, JSON.stringify(groups));
    args.push("--groups-file", file);
  } else if (groups.length > 0) {
    args.push("--groups", groups.join(","));
  }
  if (options.profile) args.push("--profile", options.profile);
  if (options.maxPageSize !== undefined) args.push("--max-page-size", String(options.maxPageSize));
  if (options.db) args.push("--db", options.db);
  return args;
}

export async function spawnSandbox(options: SandboxProcessOptions = {}): Promise<SandboxProcess> {
  const apiKey = options.apiKey ?? `sandbox-${randomUUID()}`;
  const child = spawn(process.execPath, sandboxArgs(apiKey, options), { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));

  const baseUrl = await new Promise<string>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`sandbox did not start within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`));
    }, READY_TIMEOUT_MS);
    const onData = (d: string): void => {
      out += d;
      const m = /^(http:\/\/\S+\/scim\/v2)\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        res(m[1]!);
      }
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`sandbox exited before it was ready (code ${code}, signal ${signal}): ${stderr.trim()}`));
    });
  });

  const origin = new URL(baseUrl).origin;
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${origin}/_sandbox${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox admin ${method} "${path}" failed with ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };

  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    apiKey,
    pid: child.pid!,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopped;
    },
    async reset(g?: string[]) {
      await admin("POST", "/reset", g === undefined ? {} : { groups: g });
    },
    async audit() {
      return ((await admin("GET", "/audit")) as { entries: AuditEntry[] }).entries;
    },
    async clearAudit() {
      await admin("DELETE", "/audit");
    },
    async requests() {
      return ((await admin("GET", "/requests")) as { entries: RequestEntry[] }).entries;
    },
    async clearRequests() {
      await admin("DELETE", "/requests");
    },
    async setFaults(faults: FaultSpec[]) {
      await admin("PUT", "/faults", { faults });
    },
    async setKeys(keys: string[]) {
      await admin("PUT", "/keys", { keys });
    },
    async createGroup(displayName: string) {
      return (await admin("POST", "/groups", { displayName })) as { id: string };
    },
    async seedUser(user: Record<string, unknown>) {
      return (await admin("POST", "/users", user)) as { id: string };
    },
    async stats() {
      return (await admin("GET", "/stats")) as SandboxStats;
    },
  };
}
