/**
 * Runs a CLI as a child process to its exit and collects what it printed.
 */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** SIGKILL the child after this long */
  killAfterMs?: number;
}

/** Run `command args…` with stdout and stderr piped; resolves on exit, rejects when it cannot start. */
export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<CliRun> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
    child.once("error", rej);
    child.once("exit", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** Run a TypeScript script through tsx (`node --import tsx <script> args…`). */
export function runTsx(script: string, args: string[], options: RunOptions = {}): Promise<CliRun> {
  return runProcess(process.execPath, ["--import", "tsx", script, ...args], options);
}
