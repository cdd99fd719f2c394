/**
 * The run lock: a SQLite database held with `PRAGMA locking_mode=EXCLUSIVE` and an open
 * `BEGIN EXCLUSIVE` transaction for the whole run. SQLite takes an fcntl lock on the file,
 * which the operating system releases when the process dies, so a crashed or killed run
 * never blocks the next one (unlike a pid file).
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ProvisioningError } from "../errors.js";

export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Take the lock at `path` or throw `SYNC_LOCKED` (exit 4) at once when another process holds it.
 */
export function acquireLock(path: string): RunLock {
  mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    // the transaction is only ever rolled back: no journal file to create, fsync and delete
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE");
    // a write inside the transaction makes SQLite take and keep the exclusive lock on the file
    db.exec("CREATE TABLE IF NOT EXISTS run_lock (pid INTEGER)");
  } catch (e) {
    try {
      db?.close();
    } catch {
      // the handle is unusable either way
    }
    if (isBusy(e)) {
      throw new ProvisioningError("SYNC_LOCKED", `another sync run holds the lock "${path}"`, {
        cause: e,
        hint: "wait for it to finish; the lock is released when that process exits, even if it crashed",
      });
    }
    throw new ProvisioningError("SYNC_LOCKED", `cannot take the lock "${path}"`, {
      cause: e,
      hint: "delete the lock file if it is not a SQLite database; no run can hold it then",
    });
  }
  const handle = db;
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        handle.exec("ROLLBACK");
      } catch {
        // closing releases it too
      }
      handle.close();
    },
  };
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || (typeof code === "string" && code.startsWith("SQLITE_BUSY"));
}
