/**
 * SQLite storage for the sandbox (better-sqlite3): users, groups, memberships in their own
 * table, and the audit log. Prepared statements; WAL for file databases; the caller wraps
 * each write request in {@link SandboxStore.transaction}.
 */
import Database from "better-sqlite3";
import type { AuditEntry } from "./types.js";

export interface StoredResource {
  id: string;
  /** attributes without `id`, `meta`, `members` and `groups` */
  data: Record<string, unknown>;
  version: number;
  created: string;
  lastModified: string;
}

export interface UserColumns {
  userName: string;
  externalId: string | null;
  displayName: string | null;
}

interface Row {
  id: string;
  data: string;
  version: number;
  created: string;
  last_modified: string;
}

const toResource = (r: Row): StoredResource => ({
  id: r.id,
  data: JSON.parse(r.data) as Record<string, unknown>,
  version: r.version,
  created: r.created,
  lastModified: r.last_modified,
});

/** `userName` / `displayName` comparison key (caseExact false) */
export const foldKey = (s: string): string => s.toLowerCase();

export class SandboxStore {
  readonly db: Database.Database;
  private readonly s;
  private readonly tx: (fn: () => unknown) => unknown;

  constructor(file = ":memory:") {
    this.db = new Database(file);
    if (file !== ":memory:") this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL, user_name_key TEXT NOT NULL,
        external_id TEXT, display_name TEXT, data TEXT NOT NULL, version INTEGER NOT NULL,
        created TEXT NOT NULL, last_modified TEXT NOT NULL);
      CREATE UNIQUE INDEX IF NOT EXISTS users_user_name_key ON users(user_name_key);
      CREATE INDEX IF NOT EXISTS users_external_id ON users(external_id);
      CREATE TABLE IF NOT EXISTS groups (
        pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL, display_name_key TEXT NOT NULL,
        external_id TEXT, data TEXT NOT NULL, version INTEGER NOT NULL, created TEXT NOT NULL, last_modified TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS groups_display_name_key ON groups(display_name_key);
      CREATE INDEX IF NOT EXISTS groups_external_id ON groups(external_id);
      CREATE TABLE IF NOT EXISTS members (
        group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS members_user ON members(user_id, group_id);
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
        status INTEGER NOT NULL, resource_type TEXT, resource_id TEXT, summary TEXT NOT NULL);
    `);
    const db = this.db;
    this.tx = db.transaction((fn: () => unknown) => fn());
    const cols = "id, data, version, created, last_modified";
    this.s = {
      insertUser: db.prepare(
        "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, data, version, created, last_modified) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
      ),
      updateUser: db.prepare(
        "UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, data = ?, version = version + 1, last_modified = ? WHERE id = ?",
      ),
      deleteUser: db.prepare("DELETE FROM users WHERE id = ?"),
      getUser: db.prepare(`SELECT ${cols} FROM users WHERE id = ?`),
      userByKey: db.prepare(`SELECT ${cols} FROM users WHERE user_name_key = ?`),
      usersByExternalId: db.prepare(`SELECT ${cols} FROM users WHERE external_id = ? ORDER BY pk`),
      usersByDisplayName: db.prepare(`SELECT ${cols} FROM users WHERE display_name = ? COLLATE NOCASE ORDER BY pk`),
      countUsers: db.prepare("SELECT COUNT(*) AS n FROM users"),
      pageUsers: db.prepare(`SELECT ${cols} FROM users ORDER BY pk LIMIT ? OFFSET ?`),
      allUsers: db.prepare(`SELECT ${cols} FROM users ORDER BY pk`),
      userExists: db.prepare("SELECT 1 FROM users WHERE id = ?"),

      insertGroup: db.prepare(
        "INSERT INTO groups (id, display_name, display_name_key, external_id, data, version, created, last_modified) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
      ),
      updateGroup: db.prepare(
        "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, data = ?, version = version + 1, last_modified = ? WHERE id = ?",
      ),
      touchGroup: db.prepare("UPDATE groups SET version = version + 1, last_modified = ? WHERE id = ?"),
      deleteGroup: db.prepare("DELETE FROM groups WHERE id = ?"),
      getGroup: db.prepare(`SELECT ${cols} FROM groups WHERE id = ?`),
      groupsByKey: db.prepare(`SELECT ${cols} FROM groups WHERE display_name_key = ? ORDER BY pk`),
      groupsByExternalId: db.prepare(`SELECT ${cols} FROM groups WHERE external_id = ? ORDER BY pk`),
      groupsByMember: db.prepare(
        `SELECT g.id, g.data, g.version, g.created, g.last_modified FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.pk`,
      ),
      countGroups: db.prepare("SELECT COUNT(*) AS n FROM groups"),
      pageGroups: db.prepare(`SELECT ${cols} FROM groups ORDER BY pk LIMIT ? OFFSET ?`),
      allGroups: db.prepare(`SELECT ${cols} FROM groups ORDER BY pk`),

      members: db.prepare(
        "SELECT u.id AS value, COALESCE(u.display_name, u.user_name) AS display FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.pk",
      ),
      hasMember: db.prepare("SELECT 1 FROM members WHERE group_id = ? AND user_id = ?"),
      addMember: db.prepare("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)"),
      removeMember: db.prepare("DELETE FROM members WHERE group_id = ? AND user_id = ?"),
      clearMembers: db.prepare("DELETE FROM members WHERE group_id = ?"),
      countMembers: db.prepare("SELECT COUNT(*) AS n FROM members WHERE group_id = ?"),
      groupsOfUser: db.prepare(
        "SELECT g.id AS value, g.display_name AS display FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.pk",
      ),

      addAudit: db.prepare(
        "INSERT INTO audit (time, method, path, status, resource_type, resource_id, summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      audit: db.prepare(
        "SELECT seq, time, method, path, status, resource_type AS resourceType, resource_id AS resourceId, summary FROM audit ORDER BY seq",
      ),
      clearAudit: db.prepare("DELETE FROM audit"),
    };
  }

  /**
   * Runs `fn` in a transaction. Called inside an open transaction (a Bulk request's), it joins
   * that transaction instead of opening a savepoint: an error thrown inside must then abort the
   * outer transaction too, which is what the Bulk request does.
   */
  transaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : (this.tx(fn) as T);
  }

  close(): void {
    this.db.close();
  }

  // users
  insertUser(id: string, c: UserColumns, data: Record<string, unknown>, now: string): void {
    this.s.insertUser.run(id, c.userName, foldKey(c.userName), c.externalId, c.displayName, JSON.stringify(data), now, now);
  }
  updateUser(id: string, c: UserColumns, data: Record<string, unknown>, now: string): void {
    this.s.updateUser.run(c.userName, foldKey(c.userName), c.externalId, c.displayName, JSON.stringify(data), now, id);
  }
  deleteUser(id: string): boolean {
    return this.s.deleteUser.run(id).changes > 0;
  }
  getUser(id: string): StoredResource | undefined {
    const r = this.s.getUser.get(id) as Row | undefined;
    return r && toResource(r);
  }
  userExists(id: string): boolean {
    return this.s.userExists.get(id) !== undefined;
  }
  userByUserName(userName: string): StoredResource | undefined {
    const r = this.s.userByKey.get(foldKey(userName)) as Row | undefined;
    return r && toResource(r);
  }
  usersByExternalId(externalId: string): StoredResource[] {
    return (this.s.usersByExternalId.all(externalId) as Row[]).map(toResource);
  }
  usersByDisplayName(displayName: string): StoredResource[] {
    return (this.s.usersByDisplayName.all(displayName) as Row[]).map(toResource);
  }
  countUsers(): number {
    return (this.s.countUsers.get() as { n: number }).n;
  }
  pageUsers(offset: number, limit: number): StoredResource[] {
    return (this.s.pageUsers.all(limit, offset) as Row[]).map(toResource);
  }
  *allUsers(): Generator<StoredResource> {
    for (const r of this.s.allUsers.iterate() as Iterable<Row>) yield toResource(r);
  }
  groupsOfUser(userId: string): { value: string; display: string }[] {
    return this.s.groupsOfUser.all(userId) as { value: string; display: string }[];
  }

  // groups
  insertGroup(id: string, displayName: string, externalId: string | null, data: Record<string, unknown>, now: string): void {
    this.s.insertGroup.run(id, displayName, foldKey(displayName), externalId, JSON.stringify(data), now, now);
  }
  updateGroup(id: string, displayName: string, externalId: string | null, data: Record<string, unknown>, now: string): void {
    this.s.updateGroup.run(displayName, foldKey(displayName), externalId, JSON.stringify(data), now, id);
  }
  touchGroup(id: string, now: string): void {
    this.s.touchGroup.run(now, id);
  }
  deleteGroup(id: string): boolean {
    return this.s.deleteGroup.run(id).changes > 0;
  }
  getGroup(id: string): StoredResource | undefined {
    const r = this.s.getGroup.get(id) as Row | undefined;
    return r && toResource(r);
  }
  groupsByDisplayName(displayName: string): StoredResource[] {
    return (this.s.groupsByKey.all(foldKey(displayName)) as Row[]).map(toResource);
  }
  groupsByExternalId(externalId: string): StoredResource[] {
    return (this.s.groupsByExternalId.all(externalId) as Row[]).map(toResource);
  }
  groupsByMember(userId: string): StoredResource[] {
    return (this.s.groupsByMember.all(userId) as Row[]).map(toResource);
  }
  countGroups(): number {
    return (this.s.countGroups.get() as { n: number }).n;
  }
  pageGroups(offset: number, limit: number): StoredResource[] {
    return (this.s.pageGroups.all(limit, offset) as Row[]).map(toResource);
  }
  *allGroups(): Generator<StoredResource> {
    for (const r of this.s.allGroups.iterate() as Iterable<Row>) yield toResource(r);
  }

  // members
  members(groupId: string): { value: string; display: string }[] {
    return this.s.members.all(groupId) as { value: string; display: string }[];
  }
  hasMember(groupId: string, userId: string): boolean {
    return this.s.hasMember.get(groupId, userId) !== undefined;
  }
  addMember(groupId: string, userId: string): boolean {
    return this.s.addMember.run(groupId, userId).changes > 0;
  }
  removeMember(groupId: string, userId: string): boolean {
    return this.s.removeMember.run(groupId, userId).changes > 0;
  }
  clearMembers(groupId: string): number {
    return this.s.clearMembers.run(groupId).changes;
  }
  countMembers(groupId: string): number {
    return (this.s.countMembers.get(groupId) as { n: number }).n;
  }

  // audit
  addAudit(e: Omit<AuditEntry, "seq">): void {
    this.s.addAudit.run(e.time, e.method, e.path, e.status, e.resourceType, e.resourceId, e.summary);
  }
  audit(): AuditEntry[] {
    return this.s.audit.all() as AuditEntry[];
  }
  clearAudit(): void {
    this.s.clearAudit.run();
  }

  /** wipes users, groups, memberships and the audit log */
  wipe(): void {
    this.transaction(() => {
      this.db.exec("DELETE FROM members; DELETE FROM groups; DELETE FROM users; DELETE FROM audit;");
    });
  }
}
