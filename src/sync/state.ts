/**
 * The snapshot state (diff mode `snapshot`): a SQLite file on a persistent disk holding what
 * the Catalog accepted for one target (users, managed groups and their members), so that a
 * run need not list the whole Catalog.
 *
 * - Versioned (`meta.schema_version` + a `migrations` table) and validated on open.
 * - Bound to the Catalog URL, the source fingerprint and the mapping hash; a mismatch is
 *   refused (`SYNC_STATE_MISMATCH`, exit 3) with the recovery `--rebuild-state`.
 * - Each operation is recorded as an intent before it is sent and cleared when the Catalog
 *   accepted it, in the same transaction as its effect; pending intents name what must be
 *   re-read live at the next start. The operations of one request (a Bulk chunk) are recorded
 *   in one transaction ({@link SnapshotState.recordIntents}) and settled in one
 *   ({@link SnapshotState.recordDoneMany}): a group commit.
 * - WAL with `synchronous = NORMAL`: a commit is durable across a crash of the process (the
 *   failure model here) without an fsync per commit; a power loss may lose the last commits,
 *   which the next run's live audit (state marked as failed, or pending intents) repairs.
 * - A missing state means "diff live, then record". A corrupt state is `SYNC_STATE_CORRUPT`
 *   (exit 3); `--rebuild-state` rebuilds it from live.
 */
import Database from "better-sqlite3";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { ProvisioningError } from "../errors.js";
import type { CatalogState, SyncOperation } from "./plan-types.js";

export const STATE_SCHEMA_VERSION = 1;

type CatalogUser = CatalogState["users"][number];

export interface StateBinding {
  catalogUrl: string;
  sourceFingerprint: string;
  mappingHash: string;
  target: string;
}

export interface PendingIntent {
  seq: number;
  operation: SyncOperation;
}

const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE users (
        id TEXT PRIMARY KEY, userName TEXT NOT NULL, externalId TEXT, active INTEGER,
        displayName TEXT, givenName TEXT, familyName TEXT, emails TEXT
      );
      CREATE TABLE groups (id TEXT PRIMARY KEY, displayName TEXT NOT NULL);
      CREATE TABLE members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id));
      CREATE TABLE intents (seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, created_at TEXT NOT NULL);
    `,
  },
];

const REQUIRED_TABLES = ["meta", "migrations", "users", "groups", "members", "intents"];

export class SnapshotState {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #stmts = new Map<string, Database.Statement>();
  /** true when the file did not exist (or was rebuilt): the run must diff live, then record */
  readonly fresh: boolean;

  private constructor(path: string, db: Database.Database, fresh: boolean) {
    this.path = path;
    this.#db = db;
    this.fresh = fresh;
  }

  /** a prepared statement, prepared once per connection */
  #stmt(sql: string): Database.Statement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  /**
   * Open (or create) the state at `path` and check it against `binding`.
   * With `rebuild`, an unreadable or mismatched file is moved aside and a fresh one started.
   */
  static open(path: string, binding: StateBinding, options: { rebuild?: boolean; now?: string } = {}): SnapshotState {
    mkdirSync(dirname(path), { recursive: true });
    const existed = existsSync(path);
    if (existed && options.rebuild) {
      renameSync(path, `${path}.broken-${(options.now ?? new Date().toISOString()).replace(/[:.]/g, "-")}`);
      return SnapshotState.create(path, binding);
    }
    if (!existed) return SnapshotState.create(path, binding);

    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: true, timeout: 2000 });
      validate(db, { full: !closedCleanly(path, db) });
      db.pragma("synchronous = NORMAL");
    } catch (e) {
      if (e instanceof ProvisioningError) throw e;
      throw corrupt(path, `the snapshot state "${path}" is corrupt: ${String((e as Error).message ?? e).toLowerCase()}`, e);
    }
    const state = new SnapshotState(path, db, false);
    state.#checkBinding(binding);
    state.setMeta(CLEAN_CLOSE, "0");
    return state;
  }

  private static create(path: string, binding: StateBinding): SnapshotState {
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    migrate(db);
    const set = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    db.transaction(() => {
      set.run("schema_version", String(STATE_SCHEMA_VERSION));
      set.run("catalog_url", binding.catalogUrl);
      set.run("source_fingerprint", binding.sourceFingerprint);
      set.run("mapping_hash", binding.mappingHash);
      set.run("target", binding.target);
      set.run("populated", "0");
    })();
    return new SnapshotState(path, db, true);
  }

  #checkBinding(binding: StateBinding): void {
    const checks: [keyof StateBinding, string, string][] = [
      ["target", "target", "target"],
      ["catalogUrl", "catalog_url", "Catalog URL"],
      ["sourceFingerprint", "source_fingerprint", "source"],
      ["mappingHash", "mapping_hash", "group mapping"],
    ];
    for (const [key, metaKey, label] of checks) {
      const stored = this.meta(metaKey);
      if (stored !== binding[key]) {
        this.close();
        throw new ProvisioningError("SYNC_STATE_MISMATCH", `the snapshot state "${this.path}" was recorded for another ${label}`, {
          file: this.path,
          hint: "run again with --rebuild-state to rebuild it from the live Catalog",
          details: { field: key },
        });
      }
    }
  }

  meta(key: string): string | undefined {
    const row = this.#stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#stmt("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  }

  /** has a live read ever been recorded */
  get populated(): boolean {
    return this.meta("populated") === "1";
  }

  get lastAudit(): string | undefined {
    return this.meta("last_audit");
  }

  get lastRunFailed(): boolean {
    return this.meta("last_run_failed") === "1";
  }

  setLastRunFailed(failed: boolean): void {
    this.setMeta("last_run_failed", failed ? "1" : "0");
  }

  /** replace everything with a live read (rebuild, audit) */
  replaceAll(catalog: CatalogState, now: string): void {
    this.#db.transaction(() => {
      this.#db.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM members; DELETE FROM intents;");
      for (const u of catalog.users) this.#putUser(u);
      const g = this.#stmt("INSERT INTO groups (id, displayName) VALUES (?, ?)");
      const m = this.#stmt("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)");
      for (const group of catalog.groups) {
        g.run(group.id, group.displayName);
        for (const member of group.members) m.run(group.id, member);
      }
      this.setMeta("populated", "1");
      this.setMeta("last_audit", now);
      this.setMeta("last_run_failed", "0");
    })();
  }

  /** the recorded Catalog state */
  catalog(): CatalogState {
    try {
      return this.#catalog();
    } catch (e) {
      throw corruptOnRead(this.path, e);
    }
  }

  #catalog(): CatalogState {
    // rows read one at a time as column arrays (no row object, no array of rows first)
    const users: CatalogUser[] = [];
    const rows = this.#stmt("SELECT id, userName, externalId, active, displayName, givenName, familyName, emails FROM users ORDER BY id").raw(true);
    for (const row of rows.iterate() as Iterable<UserColumns>) users.push(columnsToUser(row));
    // member ids share the user id strings (one string per user, not one per membership)
    const ids = new Map<string, string>();
    for (const u of users) ids.set(u.id, u.id);
    // each group's member ids as one column (no group id string per membership, no row arrays)
    const members = this.#stmt("SELECT user_id FROM members WHERE group_id = ? ORDER BY user_id").pluck(true);
    const groups = (this.#stmt("SELECT id, displayName FROM groups ORDER BY displayName").all() as { id: string; displayName: string }[]).map((g) => {
      const list = members.all(g.id) as string[];
      for (let i = 0; i < list.length; i++) list[i] = ids.get(list[i]!) ?? list[i]!;
      return { id: g.id, displayName: g.displayName, members: list };
    });
    ids.clear();
    return { users, groups };
  }

  /** one recorded user, or undefined */
  user(id: string): CatalogUser | undefined {
    const row = this.#stmt("SELECT * FROM users WHERE id = ?").get(id) as UserRow | undefined;
    return row ? rowToUser(row) : undefined;
  }

  /** record an operation before it is sent; returns its sequence number */
  recordIntent(operation: SyncOperation, now: string): number {
    const r = this.#stmt("INSERT INTO intents (operation, created_at) VALUES (?, ?)").run(JSON.stringify(operation), now);
    return Number(r.lastInsertRowid);
  }

  /** record the operations of one request before it is sent, in one transaction; returns their sequence numbers in order */
  recordIntents(operations: readonly SyncOperation[], now: string): number[] {
    if (operations.length === 1) return [this.recordIntent(operations[0]!, now)];
    return this.#db.transaction(() => operations.map((op) => this.recordIntent(op, now)))();
  }

  pendingIntents(): PendingIntent[] {
    return (this.#stmt("SELECT seq, operation FROM intents ORDER BY seq").all() as { seq: number; operation: string }[]).map((r) => ({
      seq: r.seq,
      operation: JSON.parse(r.operation) as SyncOperation,
    }));
  }

  /** the Catalog accepted the operation: apply its effect and clear the intent, atomically */
  recordDone(seq: number, effects: readonly StateEffect[]): void {
    this.recordDoneMany([{ seq, effects }]);
  }

  /**
   * Settle the operations of one request in one transaction: for each, its effect is applied;
   * the intent of a done one (`done` not false) is cleared, a failed one's stays pending.
   */
  recordDoneMany(entries: readonly { seq: number | undefined; effects: readonly StateEffect[]; done?: boolean }[]): void {
    if (entries.length === 0) return;
    this.#db.transaction(() => {
      for (const e of entries) {
        for (const effect of e.effects) this.#apply(effect);
        if (e.done !== false && e.seq !== undefined) this.#stmt("DELETE FROM intents WHERE seq = ?").run(e.seq);
      }
    })();
  }

  /** the operation failed: nothing to record; the intent goes, and the next run audits live */
  clearIntent(seq: number): void {
    this.#stmt("DELETE FROM intents WHERE seq = ?").run(seq);
  }

  /** apply what a live re-read (or a partly accepted operation) changed, without clearing an intent */
  applyEffects(effects: readonly StateEffect[]): void {
    this.#db.transaction(() => {
      for (const effect of effects) this.#apply(effect);
    })();
  }

  #apply(effect: StateEffect): void {
    switch (effect.kind) {
      case "user":
        this.#putUser(effect.user);
        return;
      case "userGone":
        this.#stmt("DELETE FROM users WHERE id = ?").run(effect.id);
        this.#stmt("DELETE FROM members WHERE user_id = ?").run(effect.id);
        return;
      case "userActive":
        this.#stmt("UPDATE users SET active = ? WHERE id = ?").run(effect.active ? 1 : 0, effect.id);
        return;
      case "members": {
        const add = this.#stmt("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)");
        const del = this.#stmt("DELETE FROM members WHERE group_id = ? AND user_id = ?");
        for (const id of effect.added) add.run(effect.groupId, id);
        for (const id of effect.removed) del.run(effect.groupId, id);
        return;
      }
      case "groupMembers": {
        this.#stmt("DELETE FROM members WHERE group_id = ?").run(effect.groupId);
        const add = this.#stmt("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)");
        for (const id of effect.members) add.run(effect.groupId, id);
        return;
      }
    }
  }

  #putUser(u: CatalogUser): void {
    this.#stmt("INSERT OR REPLACE INTO users (id, userName, externalId, active, displayName, givenName, familyName, emails) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .run(
        u.id,
        u.userName,
        u.externalId ?? null,
        u.active === undefined ? null : u.active ? 1 : 0,
        u.displayName ?? null,
        u.name?.givenName ?? null,
        u.name?.familyName ?? null,
        u.emails ? JSON.stringify(u.emails) : null,
      );
  }

  /** closes the file, marked as closed cleanly (the next open skips the full page check) */
  close(): void {
    if (!this.#db.open) return;
    try {
      this.setMeta(CLEAN_CLOSE, "1");
    } catch {
      // not marked (a damaged or read-only file): the next open runs the full check
    }
    this.#db.close();
  }
}

/** What an accepted operation (or a live re-read) changes in the recorded state. */
export type StateEffect =
  | { kind: "user"; user: CatalogUser }
  | { kind: "userGone"; id: string }
  | { kind: "userActive"; id: string; active: boolean }
  | { kind: "members"; groupId: string; added: string[]; removed: string[] }
  | { kind: "groupMembers"; groupId: string; members: string[] };

interface UserRow {
  id: string;
  userName: string;
  externalId: string | null;
  active: number | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  emails: string | null;
}

/** the columns of `users` in table order */
type UserColumns = [string, string, string | null, number | null, string | null, string | null, string | null, string | null];

function columnsToUser(r: UserColumns): CatalogUser {
  const u: CatalogUser = { id: r[0], userName: r[1] };
  if (r[2] !== null) u.externalId = r[2];
  if (r[3] !== null) u.active = r[3] === 1;
  if (r[4] !== null) u.displayName = r[4];
  if (r[5] !== null || r[6] !== null) {
    u.name = {};
    if (r[5] !== null) u.name.givenName = r[5];
    if (r[6] !== null) u.name.familyName = r[6];
  }
  if (r[7] !== null) u.emails = JSON.parse(r[7]) as NonNullable<CatalogUser["emails"]>;
  return u;
}

function rowToUser(r: UserRow): CatalogUser {
  const u: CatalogUser = { id: r.id, userName: r.userName };
  if (r.externalId !== null) u.externalId = r.externalId;
  if (r.active !== null) u.active = r.active === 1;
  if (r.displayName !== null) u.displayName = r.displayName;
  if (r.givenName !== null || r.familyName !== null) {
    u.name = {};
    if (r.givenName !== null) u.name.givenName = r.givenName;
    if (r.familyName !== null) u.name.familyName = r.familyName;
  }
  if (r.emails !== null) u.emails = JSON.parse(r.emails) as NonNullable<CatalogUser["emails"]>;
  return u;
}

function migrate(db: Database.Database): void {
  const applied = new Set((db.prepare("SELECT version FROM migrations").all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare("INSERT INTO migrations (version, applied_at) VALUES (?, ?)").run(m.version, new Date(0).toISOString());
    })();
  }
}

/** meta key: "1" once the file was closed by {@link SnapshotState.close}, "0" while it is open */
const CLEAN_CLOSE = "clean_close";

/**
 * Whether the file was closed cleanly by the last run: no write-ahead log left behind (the last
 * connection's close checkpoints and deletes it), the clean-close mark set, and a header that
 * agrees with the file (SQLite's magic string, and no fewer bytes than the page count it records).
 * The header check throws for a damaged or truncated file.
 *
 * Trade-off: `PRAGMA quick_check` reads every page of the file, seconds for 100,000 users, on
 * every run. It is run when the last run did not close the file (a crash, a kill, a power loss:
 * the moments a file gets damaged), and after an upgrade from a state without the mark. After a
 * clean close only the cheap checks run (header, tables, schema version, bindings); a page
 * damaged at rest afterwards is still found when it is read (`SQLITE_CORRUPT` during the read is
 * `SYNC_STATE_CORRUPT`, see {@link SnapshotState.catalog}), and the periodic live audit
 * (`auditEveryHours`) rewrites the whole state from the Catalog.
 */
function closedCleanly(path: string, db: Database.Database): boolean {
  checkHeader(path);
  let wal = 0;
  try {
    wal = statSync(`${path}-wal`).size;
  } catch {
    // no write-ahead log: nothing was left uncheckpointed
  }
  if (wal > 0) return false;
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(CLEAN_CLOSE) as { value: string } | undefined;
    return row?.value === "1";
  } catch {
    return false; // no meta table: the full validation says what is wrong
  }
}

/** SQLite's 100-byte file header: magic string, page size, page count (when valid) against the file size */
function checkHeader(path: string): void {
  const header = Buffer.alloc(100);
  const fd = openSync(path, "r");
  let size: number;
  let read: number;
  try {
    size = fstatSync(fd).size;
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\u0000") throw new Error("file is not a database");
  const pageSize = header.readUInt16BE(16) === 1 ? 65_536 : header.readUInt16BE(16);
  const pages = header.readUInt32BE(28);
  // the page count is valid when "version-valid-for" equals the change counter
  if (header.readUInt32BE(92) === header.readUInt32BE(24) && pages > 0 && size < pages * pageSize) {
    throw new Error(`the file is shorter than its header says (${size} of ${pages * pageSize} bytes)`);
  }
}

function validate(db: Database.Database, options: { full: boolean }): void {
  if (options.full) {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new Error(`integrity check failed: ${String(check)}`);
  }
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) throw new Error(`missing tables ${missing.map((t) => `"${t}"`).join(", ")}`);
  const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value;
  if (version === undefined) throw new Error('no "schema_version"');
  if (Number(version) > STATE_SCHEMA_VERSION) throw new Error(`"schema_version" ${version} is newer than this program (${STATE_SCHEMA_VERSION})`);
  migrate(db);
  for (const key of ["catalog_url", "source_fingerprint", "mapping_hash", "target"]) {
    if (db.prepare("SELECT 1 FROM meta WHERE key = ?").get(key) === undefined) throw new Error(`no "${key}" binding`);
  }
}

/** a read that met a damaged page (or file) is `SYNC_STATE_CORRUPT`; anything else as it is */
function corruptOnRead(path: string, e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB")) {
    return corrupt(path, `the snapshot state "${path}" is corrupt: ${String((e as Error).message ?? e).toLowerCase()}`, e);
  }
  return e;
}

function corrupt(path: string, message: string, cause: unknown): ProvisioningError {
  return new ProvisioningError("SYNC_STATE_CORRUPT", message, {
    cause,
    file: path,
    hint: "run again with --rebuild-state to rebuild it from the live Catalog",
  });
}
