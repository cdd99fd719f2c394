/**
 * Starts the local Catalog SCIM sandbox (`scripts/sandbox.ts`) in its own process, for
 * `npm run action:run -- --sandbox` and `npm run demo`, and reads its admin API.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEntry, FaultSpec, SandboxProfile } from "../sandbox/types.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY_TIMEOUT_MS = 20_000;

export interface SandboxProcess {
  /** `http://127.0.0.1:<port>/scim/v2` */
  baseUrl: string;
  apiKey: string;
  audit(): Promise<AuditEntry[]>;
  setFaults(faults: FaultSpec[]): Promise<void>;
  stop(): Promise<void>;
}

export async function launchSandbox(options: { groups: string[]; profile?: SandboxProfile; apiKey?: string }): Promise<SandboxProcess> {
  const apiKey = options.apiKey ?? `sandbox-${randomUUID()}`;
  if (options.groups.some((g) => g.includes(","))) throw new TypeError(`a sandbox group name must not contain ","`);
  const args = ["--import", "tsx", "scripts/sandbox.ts", "--port", "0", "--api-key", apiKey, "--profile", options.profile ?? "full"];
  if (options.groups.length > 0) args.push("--groups", options.groups.join(","));
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  const baseUrl = await new Promise<string>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`sandbox did not start within ${READY_TIMEOUT_MS} ms`));
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
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`sandbox exited before it was ready (code ${code}): ${stderr.trim()}`));
    });
  });
  const origin = new URL(baseUrl).origin;
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${origin}/_sandbox${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox admin ${method} "${path}" failed with ${res.status}`);
    return text ? JSON.parse(text) : undefined;
  };
  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    apiKey,
    async audit() {
      return ((await admin("GET", "/audit")) as { entries: AuditEntry[] }).entries;
    },
    async setFaults(faults) {
      await admin("PUT", "/faults", { faults });
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopped;
    },
  };
}
