/**
 * The ownership ledger store: which Catalog users this project created or adopted, and which
 * managed memberships it granted. It exists in both diff modes. A small versioned JSON file,
 * validated on read and written atomically (temp file, fsync, rename, fsync of the folder) by
 * this module only.
 *
 * A missing ledger is an empty one (first run). A corrupt one is a clear error: restore the
 * file from a backup, or move it away to start again (the project then owns nothing, so it
 * deprovisions nothing until it has re-adopted the users).
 */
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { ProvisioningError } from "../errors.js";
import { LedgerIndex, type AppliedResult } from "./ownership.js";
import type { Ledger, LedgerUser, SyncOperation } from "./plan-types.js";

export const LEDGER_VERSION = 1;

export function emptyLedger(): Ledger {
  return { version: 1, users: [] };
}

/**
 * A file's text: its bytes read at once, then decoded. `readFileSync(path, "utf8")` touches about
 * twice the memory for a large file (the bytes in a growing buffer, then the string): where
 * fresh memory is slow to map (a virtual machine), a 35 MB ledger took 0.48–0.63 s that way and
 * 0.25–0.29 s this way. Same decoding (UTF-8, malformed bytes replaced).
 */
export function readTextFile(path: string): string {
  return readFileSync(path).toString("utf8");
}

/** Read and validate the ledger; missing → empty. Throws `SYNC_STATE_CORRUPT` (exit 3). */
export function readLedger(path: string): Ledger {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyLedger();
    throw corrupt(path, `cannot read the ledger "${path}"`, e);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw corrupt(path, `the ledger "${path}" is not valid JSON`, e);
  }
  const problem = validateLedger(data);
  if (problem) throw corrupt(path, `the ledger "${path}" is invalid: ${problem}`);
  return internLedger(data as Ledger);
}

/**
 * The ledger as parsed, with its repeated values (granted group ids, target, connection,
 * origin) sharing one string each: a few thousand distinct values, not one string per user
 * and grant. Same values; the parsed ledger is changed in place.
 */
function internLedger(ledger: Ledger): Ledger {
  const pool = new Map<string, string>();
  const intern = (s: string): string => {
    const hit = pool.get(s);
    if (hit !== undefined) return hit;
    pool.set(s, s);
    return s;
  };
  for (const u of ledger.users) {
    u.target = intern(u.target);
    u.origin = intern(u.origin) as LedgerUser["origin"];
    if (u.connection !== undefined) u.connection = intern(u.connection);
    for (let i = 0; i < u.granted.length; i++) u.granted[i] = intern(u.granted[i]!);
  }
  return ledger;
}

/** Why `data` is not a ledger, or undefined when it is one. */
export function validateLedger(data: unknown): string | undefined {
  if (!isObject(data)) return "not an object";
  if (data.version !== LEDGER_VERSION) return `unsupported "version" ${JSON.stringify(data.version)}`;
  if (!Array.isArray(data.users)) return '"users" must be an array';
  for (const [i, u] of data.users.entries()) {
    const at = `"users[${i}]"`;
    if (!isObject(u)) return `${at} must be an object`;
    for (const k of ["scimId", "externalId", "target"] as const) {
      if (typeof u[k] !== "string" || u[k] === "") return `${at}."${k}" must be a non-empty string`;
    }
    if (u.origin !== "created" && u.origin !== "adopted") return `${at}."origin" must be "created" or "adopted"`;
    if (!Array.isArray(u.granted) || !u.granted.every((g) => typeof g === "string")) return `${at}."granted" must be an array of strings`;
    if (u.connection !== undefined && typeof u.connection !== "string") return `${at}."connection" must be a string`;
    if (u.deactivatedAt !== undefined && (typeof u.deactivatedAt !== "string" || Number.isNaN(Date.parse(u.deactivatedAt)))) {
      return `${at}."deactivatedAt" must be an ISO date`;
    }
  }
  return undefined;
}

/** Write the ledger atomically: a reader sees the old file or the new one, never half of one. */
export function writeLedger(path: string, ledger: Ledger): void {
  const problem = validateLedger(ledger);
  if (problem) throw new TypeError(`refusing to write an invalid ledger: ${problem}`);
  // one user per line: still read and compared line by line, without the indentation that made
  // a large ledger half whitespace (and its read that much slower)
  const users = [...ledger.users].sort(byUser);
  writeFileAtomic(path, ledgerText(users));
}

/**
 * The ledger file's text in pieces of about 1 MB: a ledger of 100,000 users is some 35 MB, and
 * built as one string it was that much again in garbage at the end of every run.
 */
function* ledgerText(users: readonly LedgerUser[]): Generator<string> {
  let text = '{"version":1,"users":[';
  for (let i = 0; i < users.length; i++) {
    text += `${i > 0 ? "," : ""}\n${JSON.stringify(users[i])}`;
    if (text.length >= LEDGER_WRITE_PIECE) {
      yield text;
      text = "";
    }
  }
  yield `${text}${users.length > 0 ? "\n" : ""}]}\n`;
}

const LEDGER_WRITE_PIECE = 1 << 20;

/**
 * Temp file in the same folder, fsync, rename over the target, fsync the folder. `content` is
 * the text, or its pieces in order.
 */
export function writeFileAtomic(path: string, content: string | Iterable<string>): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    if (typeof content === "string") writeSync(fd, content);
    else for (const piece of content) writeSync(fd, piece);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some file systems do not allow fsync on a folder; the rename is still atomic
  }
}

/**
 * The ledger as a file with a write-ahead journal: each accepted operation is appended to
 * `<ledger>.journal` at once, a cheap O(1) write, and the journal is folded into the ledger
 * file once it holds `compactEvery` records (default 5,000: a journal a crashed run leaves
 * behind replays in milliseconds) and half as many as the ledger has users (so the rewrites of a
 * large ledger stay linear in total), and at the end: a run of a few thousand users writes the
 * ledger file once. The records of one request
 * are appended with one write ({@link LedgerStore.applyMany}), durable across a crash of the
 * process at once; the fsync for a power loss is a group commit: one in flight at a time, off
 * the event loop, covering every record written before it started (and one before the file
 * is folded or closed).
 * A crash therefore loses no ownership record: the next open replays the journal (a torn
 * last line, from a crash in the middle of an append, is ignored; it was never acknowledged).
 * The in-memory ledger is one {@link LedgerIndex} for the whole run (linear, not a copy per
 * operation).
 */
/** records the journal holds before it is folded in during a run (with half the ledger's size) */
export const LEDGER_COMPACT_EVERY = 5_000;

export class LedgerStore {
  #index: LedgerIndex;
  #pending = 0;
  #fd: number | undefined;
  /** records written since the last fsync started */
  #dirty = false;
  #syncing = false;
  readonly path: string;
  readonly journalPath: string;
  readonly compactEvery: number;

  constructor(path: string, options: { compactEvery?: number } = {}) {
    this.path = path;
    this.journalPath = `${path}.journal`;
    this.compactEvery = options.compactEvery ?? LEDGER_COMPACT_EVERY;
    let ledger = readLedger(path);
    const replayed = replayJournal(this.journalPath, ledger);
    if (replayed.count > 0) ledger = replayed.ledger;
    // the ledger just read is this store's alone: indexed as it is, not copied
    this.#index = new LedgerIndex(ledger, { adopt: true });
    if (replayed.count > 0) {
      this.#pending = replayed.count;
      this.flush();
    }
  }

  get ledger(): Ledger {
    return this.#index.ledger();
  }

  /** record one accepted operation: journal first (written and fsynced), then the in-memory ledger */
  apply(operation: SyncOperation, result: AppliedResult): void {
    this.applyMany([{ operation, result }]);
    this.#syncNow();
  }

  /** record the accepted operations of one request: one journal write (fsync grouped, see above), then the in-memory ledger */
  applyMany(entries: readonly { operation: SyncOperation; result: AppliedResult }[]): void {
    if (entries.length === 0) return;
    // check every transition first (a create without an id throws) before anything is journaled
    for (const { operation, result } of entries) {
      if (operation.op === "createUser" && (result.scimId === undefined || result.scimId === "")) {
        throw new TypeError('"scimId" is required to record a created user');
      }
    }
    let text = "";
    for (const e of entries) text += `${JSON.stringify({ operation: e.operation, result: e.result })}\n`;
    this.#append(text);
    for (const { operation, result } of entries) this.#index.apply(operation, result);
    this.#pending += entries.length;
    if (this.#pending >= Math.max(this.compactEvery, this.#index.size / 2)) this.flush();
  }

  #append(text: string): void {
    if (this.#fd === undefined) {
      mkdirSync(dirname(this.journalPath), { recursive: true });
      this.#fd = openSync(this.journalPath, "a", 0o600);
    }
    writeSync(this.#fd, text);
    this.#dirty = true;
    this.#groupSync();
  }

  /** one fsync in flight at a time; writes made meanwhile are covered by the next one */
  #groupSync(): void {
    if (this.#syncing || !this.#dirty || this.#fd === undefined) return;
    const fd = this.#fd;
    this.#syncing = true;
    this.#dirty = false;
    fsync(fd, () => {
      this.#syncing = false;
      // the journal was folded or closed meanwhile: this descriptor is ours to close now
      if (this.#fd !== fd) closeSync(fd);
      this.#groupSync();
    });
  }

  #syncNow(): void {
    if (this.#fd === undefined || !this.#dirty) return;
    fsyncSync(this.#fd);
    this.#dirty = false;
  }

  #closeJournal(): void {
    if (this.#fd === undefined) return;
    this.#syncNow();
    // an fsync still in flight holds this descriptor: it is closed when that fsync completes
    if (!this.#syncing) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** fold the journal into the ledger file (atomic write), then drop the journal */
  flush(): void {
    if (this.#pending === 0) {
      this.#closeJournal();
      return;
    }
    writeLedger(this.path, this.#index.ledger());
    this.#closeJournal();
    rmSync(this.journalPath, { force: true });
    this.#pending = 0;
  }
}

function replayJournal(path: string, ledger: Ledger): { ledger: Ledger; count: number } {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { ledger, count: 0 };
    throw corrupt(path, `cannot read the ledger journal "${path}"`, e);
  }
  const lines = text.split("\n");
  const complete = lines.slice(0, -1); // the last piece is "" after a final newline, or a torn line
  const current = new LedgerIndex(ledger, { adopt: true });
  let count = 0;
  for (const [i, line] of complete.entries()) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { operation: SyncOperation; result: AppliedResult };
      current.apply(entry.operation, entry.result);
      count++;
    } catch (e) {
      throw corrupt(path, `the ledger journal "${path}" is invalid at line ${i + 1}`, e);
    }
  }
  // an existing journal, even one holding only a torn line, is folded in and removed
  return { ledger: current.ledger(), count: Math.max(count, 1) };
}

function byUser(a: LedgerUser, b: LedgerUser): number {
  return a.target === b.target ? (a.scimId < b.scimId ? -1 : a.scimId > b.scimId ? 1 : 0) : a.target < b.target ? -1 : 1;
}

function corrupt(path: string, message: string, cause?: unknown): ProvisioningError {
  return new ProvisioningError("SYNC_STATE_CORRUPT", message, {
    cause,
    file: path,
    hint: `restore "${path}" from a backup, or move it away to start with an empty ledger (nothing is then deprovisioned until users are re-adopted)`,
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
