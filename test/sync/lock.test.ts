import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProvisioningError, ExitCode } from "../../src/errors.js";
import { acquireLock } from "../../src/sync/lock.js";

// these tests spawn processes (sandbox, CLI): allow for a loaded CI machine
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const children: ChildProcess[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sync-lock-"));
  dirs.push(d);
  return d;
}

function holdInChild(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/sync/fixtures/hold-lock.ts", path], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("locked")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`lock holder exited early (${code}): ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await exited(c);
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("run lock", () => {
  it("refuses a second holder in the same process with SYNC_LOCKED (exit 4), then allows it after release", () => {
    const path = join(tempDir(), "sync.lock");
    const first = acquireLock(path);
    let error: unknown;
    try {
      acquireLock(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProvisioningError);
    expect((error as ProvisioningError).code).toBe("SYNC_LOCKED");
    expect((error as ProvisioningError).exitCode).toBe(ExitCode.LOCKED);
    // the held transaction keeps its journal in memory: no file beside the lock is written or fsynced
    expect(readdirSync(dirname(path))).toEqual(["sync.lock"]);
    first.release();
    const again = acquireLock(path);
    again.release();
    expect(readdirSync(dirname(path))).toEqual(["sync.lock"]);
  });

  it("is refused while another process holds it", async () => {
    const path = join(tempDir(), "sync.lock");
    await holdInChild(path);
    expect(() => acquireLock(path)).toThrowError(/another sync run holds the lock/);
  });

  it("is released by the operating system when the holder is killed with SIGKILL", async () => {
    const path = join(tempDir(), "sync.lock");
    const child = await holdInChild(path);
    expect(() => acquireLock(path)).toThrowError(ProvisioningError);
    child.kill("SIGKILL");
    await exited(child);
    const lock = acquireLock(path);
    lock.release();
  });
});
