/**
 * The snapshot state's integrity check: the full page check (`quick_check`) runs when the last
 * run did not close the file; after a clean close the header, tables and bindings are checked,
 * and a damaged page is still reported as SYNC_STATE_CORRUPT when the read meets it.
 */
import Database from "better-sqlite3";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProvisioningError } from "../../src/errors.js";
import type { CatalogState } from "../../src/sync/plan-types.js";
import { SnapshotState, type StateBinding } from "../../src/sync/state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const binding: StateBinding = { target: "default", catalogUrl: "http://127.0.0.1:1/scim/v2", sourceFingerprint: "file:a", mappingHash: "m1" };

function bigCatalog(n: number): CatalogState {
  const users = Array.from({ length: n }, (_, i) => ({
    id: `u${String(i).padStart(5, "0")}`,
    userName: `user${i}@example.com`,
    externalId: `e${i}`,
    active: i % 7 !== 0,
    emails: [{ value: `user${i}@example.com`, type: "work", primary: true }],
  }));
  const groups = Array.from({ length: 5 }, (_, g) => ({ id: `g${g}`, displayName: `group-${g}`, members: users.filter((_, i) => i % 5 === g).map((u) => u.id) }));
  return { users, groups };
}

/** a populated state, closed cleanly */
function populated(n = 3000): { path: string; catalog: CatalogState } {
  const dir = mkdtempSync(join(tmpdir(), "sync-state-integrity-"));
  dirs.push(dir);
  const path = join(dir, "state.sqlite");
  const catalog = bigCatalog(n);
  const s = SnapshotState.open(path, binding);
  s.replaceAll(catalog, "2026-01-01T00:00:00.000Z");
  s.close();
  return { path, catalog };
}

function setCleanMark(path: string, value: string): void {
  const db = new Database(path);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'clean_close'").run(value);
  db.close();
}

/** overwrite the last `pages` pages of the file (the tail of the tables and indexes) with garbage */
function damageTail(path: string, pages: number): void {
  const pageSize = 4096;
  const size = statSync(path).size;
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.alloc(pages * pageSize, 0xa5), 0, pages * pageSize, size - pages * pageSize);
  } finally {
    closeSync(fd);
  }
}

function corruptError(f: () => unknown): ProvisioningError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProvisioningError);
    expect((e as ProvisioningError).code).toBe("SYNC_STATE_CORRUPT");
    expect((e as ProvisioningError).exitCode).toBe(3);
    return e as ProvisioningError;
  }
  throw new Error("expected SYNC_STATE_CORRUPT");
}

describe("snapshot state integrity", () => {
  it("a cleanly closed state reopens and reads back what was recorded", () => {
    const { path, catalog } = populated(500);
    const s = SnapshotState.open(path, binding);
    expect(s.meta("clean_close")).toBe("0"); // open: a crash from here on means a full check next time
    expect(s.catalog()).toEqual(catalog);
    s.close();
    const again = SnapshotState.open(path, binding);
    again.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'clean_close'").get()).toEqual({ value: "1" });
    db.close();
  });

  it("a state the last run did not close gets the full page check: a damaged page is refused at open", () => {
    const { path } = populated();
    damageTail(path, 8);
    setCleanMark(path, "0");
    const e = corruptError(() => SnapshotState.open(path, binding));
    expect(e.message).toMatch(/corrupt/);
    expect(e.hint).toMatch(/--rebuild-state/);
  });

  it("after a clean close a damaged page is found when read: SYNC_STATE_CORRUPT, not a raw SQLite error", () => {
    const { path } = populated();
    damageTail(path, 8);
    // the open skips the page check (the mark says closed cleanly); the read meets the damage
    const s = SnapshotState.open(path, binding);
    try {
      expect(s.populated).toBe(true);
      expect(corruptError(() => s.catalog()).message).toMatch(/is corrupt/);
    } finally {
      s.close();
    }
  });

  it("a truncated state is refused at open by its header, even after a clean close", () => {
    const { path } = populated();
    truncateSync(path, Math.floor(statSync(path).size / 2 / 4096) * 4096);
    const e = corruptError(() => SnapshotState.open(path, binding));
    expect(e.message).toMatch(/shorter than its header says/);
  });

  it("a file that is not SQLite is refused at open", () => {
    const { path } = populated(10);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from("not a database at all"), 0, 21, 0);
    closeSync(fd);
    expect(corruptError(() => SnapshotState.open(path, binding)).message).toMatch(/not a database/);
  });
});
