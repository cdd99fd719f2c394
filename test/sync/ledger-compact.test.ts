/**
 * The ledger file holds one user per line (no indentation) and reads back to the same ledger;
 * the store indexes the ledger it read without a copy, and its transitions match `ledgerAfter`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LedgerStore, readLedger, writeLedger } from "../../src/sync/ledger.js";
import { LedgerIndex, ledgerAfter } from "../../src/sync/ownership.js";
import type { Ledger } from "../../src/sync/plan-types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const d = mkdtempSync(join(tmpdir(), "ledger-compact-"));
  dirs.push(d);
  return join(d, "ledger.json");
}

const ledger: Ledger = {
  version: 1,
  users: [
    { scimId: "s2", externalId: "e2", target: "default", origin: "adopted", granted: [], deactivatedAt: "2026-01-01T00:00:00.000Z" },
    { scimId: "s1", externalId: "e1", target: "default", origin: "created", granted: ["g1", "g2"], connection: "ad" },
    { scimId: "s1", externalId: "e9", target: "other", origin: "created", granted: ["g1"] },
  ],
};

describe("ledger file", () => {
  it("writes one user per line, sorted by target and id, and reads back the same users", () => {
    const path = tempFile();
    writeLedger(path, ledger);
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('{"version":1,"users":[');
    expect(lines[1]).toBe(JSON.stringify(ledger.users[1]) + ",");
    expect(lines[4]).toBe("]}");
    const back = readLedger(path);
    expect(back.users).toEqual([ledger.users[1], ledger.users[0], ledger.users[2]]);
  });

  it("a ledger of several megabytes is written in pieces that join into the same lines", () => {
    const path = tempFile();
    const users = Array.from({ length: 12_000 }, (_, i) => ({
      scimId: `0194f3a2-7c00-7000-8000-${String(i).padStart(12, "0")}`,
      externalId: `ext-${i}-${"x".repeat(150)}`,
      target: "default",
      origin: "created" as const,
      granted: [`group-${i % 7}`, `group-${(i % 7) + 10}`],
    }));
    writeLedger(path, { version: 1, users });
    const text = readFileSync(path, "utf8");
    expect(text.length).toBeGreaterThan(2 * 1024 * 1024);
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(users.length + 2);
    expect(lines[1]).toBe(`${JSON.stringify(users[0])},`);
    expect(lines[users.length]).toBe(JSON.stringify(users[users.length - 1]));
    expect(readLedger(path).users).toEqual(users);
  });

  it("writes an empty ledger as valid JSON", () => {
    const path = tempFile();
    writeLedger(path, { version: 1, users: [] });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ version: 1, users: [] });
  });

  it("an index that adopts a ledger shares its users; a copying index leaves the ledger as it was", () => {
    const copy = structuredClone(ledger);
    const adopted = new LedgerIndex(copy, { adopt: true });
    expect(adopted.ledger().users[0]).toBe(copy.users[0]);
    const copying = new LedgerIndex(ledger);
    copying.apply({ op: "addMembers", groupId: "g9", groupName: "x", members: [{ scimId: "s1" }] }, { target: "default", now: "2026-01-02T00:00:00.000Z" });
    expect(ledger.users[1]!.granted).toEqual(["g1", "g2"]);
    expect(copying.ledger().users[1]!.granted).toEqual(["g1", "g2", "g9"]);
  });

  it("indexes per target: the same Catalog id in two targets stays two owners", () => {
    const after = ledgerAfter(ledger, { op: "removeMembers", groupId: "g1", groupName: "x", scimIds: ["s1"], reason: "left-group" }, { target: "other", now: "2026-01-02T00:00:00.000Z" });
    expect(after.users.find((u) => u.target === "other")!.granted).toEqual([]);
    expect(after.users.find((u) => u.target === "default" && u.scimId === "s1")!.granted).toEqual(["g1", "g2"]);
  });

  it("a store reads, changes and folds the ledger back to the same file format", () => {
    const path = tempFile();
    writeLedger(path, ledger);
    const store = new LedgerStore(path);
    store.apply({ op: "deactivateUser", scimId: "s1", externalId: "e1" }, { target: "default", now: "2026-02-01T00:00:00.000Z" });
    store.flush();
    const back = readLedger(path);
    expect(back.users.find((u) => u.target === "default" && u.scimId === "s1")!.deactivatedAt).toBe("2026-02-01T00:00:00.000Z");
    expect(readFileSync(path, "utf8").split("\n")).toHaveLength(6);
  });
});
