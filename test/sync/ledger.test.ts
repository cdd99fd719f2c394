import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExitCode, ProvisioningError } from "../../src/errors.js";
import { LEDGER_COMPACT_EVERY, LedgerStore, readLedger, readTextFile, writeLedger } from "../../src/sync/ledger.js";
import type { Ledger } from "../../src/sync/plan-types.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sync-ledger-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sample: Ledger = {
  version: 1,
  users: [{ scimId: "u-2", externalId: "e-2", target: "default", origin: "created", granted: ["g-1"] }, { scimId: "u-1", externalId: "e-1", target: "default", origin: "adopted", granted: [], deactivatedAt: "2026-01-01T00:00:00.000Z" }],
};

describe("ownership ledger store", () => {
  it("reads a missing ledger as empty (first run)", () => {
    expect(readLedger(join(tempDir(), "none.json"))).toEqual({ version: 1, users: [] });
  });

  it("round-trips through an atomic write and leaves no temporary file", () => {
    const dir = tempDir();
    const path = join(dir, "ledger.json");
    writeLedger(path, sample);
    const back = readLedger(path);
    expect(back.users.map((u) => u.scimId)).toEqual(["u-1", "u-2"]);
    expect(back.users[0]!.deactivatedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(readdirSync(dir)).toEqual(["ledger.json"]);
  });

  it("reports a corrupt ledger as SYNC_STATE_CORRUPT (exit 3) with a recovery hint", () => {
    const path = join(tempDir(), "ledger.json");
    writeFileSync(path, "{ not json");
    try {
      readLedger(path);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProvisioningError);
      expect((e as ProvisioningError).code).toBe("SYNC_STATE_CORRUPT");
      expect((e as ProvisioningError).exitCode).toBe(ExitCode.REFUSED);
      expect((e as ProvisioningError).hint).toMatch(/restore/);
    }
  });

  it("rejects a ledger with a wrong version or an invalid user", () => {
    const path = join(tempDir(), "ledger.json");
    writeFileSync(path, JSON.stringify({ version: 2, users: [] }));
    expect(() => readLedger(path)).toThrowError(/unsupported "version"/);
    writeFileSync(path, JSON.stringify({ version: 1, users: [{ scimId: "x", externalId: "", target: "t", origin: "created", granted: [] }] }));
    expect(() => readLedger(path)).toThrowError(/"externalId" must be a non-empty string/);
  });

  it("journals each accepted operation durably and replays it after a crash", () => {
    const path = join(tempDir(), "ledger.json");
    const store = new LedgerStore(path, { compactEvery: 3 });
    const at = { target: "default", now: "2026-01-01T00:00:00.000Z" };
    store.apply({ op: "createUser", externalId: "e-1", user: { userName: "a@example.com" } }, { ...at, scimId: "u-1" });
    store.apply({ op: "addMembers", groupId: "g-1", groupName: "catalog-admins", members: [{ scimId: "u-1" }] }, at);
    // nothing compacted yet: the records live in the journal only
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}.journal`, "utf8").trim().split("\n")).toHaveLength(2);
    // a crash while appending leaves a torn last line; it was never acknowledged
    writeFileSync(`${path}.journal`, readFileSync(`${path}.journal`, "utf8") + '{"operation":{"op":"dele');
    const reopened = new LedgerStore(path);
    expect(reopened.ledger.users).toEqual([{ scimId: "u-1", externalId: "e-1", target: "default", origin: "created", granted: ["g-1"] }]);
    expect(existsSync(`${path}.journal`)).toBe(false);
    expect(readLedger(path).users).toHaveLength(1);
  });

  it("by default a run of a thousand users is not folded in mid-run: the ledger file is written once, at the end", () => {
    const path = join(tempDir(), "ledger.json");
    const store = new LedgerStore(path);
    expect(store.compactEvery).toBe(LEDGER_COMPACT_EVERY);
    const at = { target: "default", now: "2026-01-01T00:00:00.000Z" };
    const creates = (from: number, n: number) =>
      Array.from({ length: n }, (_, k) => ({
        operation: { op: "createUser" as const, externalId: `e-${from + k}`, user: { userName: `u${from + k}@example.com` } },
        result: { ...at, scimId: `u-${from + k}` },
      }));
    store.applyMany(creates(0, 1_000));
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}.journal`, "utf8").trim().split("\n")).toHaveLength(1_000);
    // past the default, the journal is folded in
    store.applyMany(creates(1_000, LEDGER_COMPACT_EVERY - 1_000));
    expect(readLedger(path).users).toHaveLength(LEDGER_COMPACT_EVERY);
    expect(existsSync(`${path}.journal`)).toBe(false);
    store.applyMany(creates(LEDGER_COMPACT_EVERY, 10));
    store.flush();
    expect(readLedger(path).users).toHaveLength(LEDGER_COMPACT_EVERY + 10);
  });

  it("compacts the journal into the ledger file every N records and on flush", () => {
    const path = join(tempDir(), "ledger.json");
    const store = new LedgerStore(path, { compactEvery: 2 });
    const at = { target: "default", now: "2026-01-01T00:00:00.000Z" };
    store.apply({ op: "adoptUser", scimId: "u-1", externalId: "e-1", patch: [] }, at);
    store.apply({ op: "adoptUser", scimId: "u-2", externalId: "e-2", patch: [] }, at);
    expect(readLedger(path).users).toHaveLength(2);
    expect(existsSync(`${path}.journal`)).toBe(false);
    store.apply({ op: "deactivateUser", scimId: "u-2", externalId: "e-2" }, at);
    store.flush();
    expect(readLedger(path).users.find((u) => u.scimId === "u-2")!.deactivatedAt).toBe(at.now);
  });
});

describe("readTextFile", () => {
  it("decodes like readFileSync(path, \"utf8\"): multi-byte characters, a byte-order mark kept, malformed bytes replaced", () => {
    const path = join(tempDir(), "text.json");
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"externalId":"Zoë 🚀 Łódź"}', "utf8"), Buffer.from([0xc3, 0x28, 0xff])]);
    writeFileSync(path, bytes);
    const text = readTextFile(path);
    expect(text).toBe(readFileSync(path, "utf8"));
    expect(text.startsWith("\uFEFF{\"externalId\":\"Zoë 🚀 Łódź\"}")).toBe(true);
    expect(text.endsWith("\uFFFD(\uFFFD")).toBe(true);
  });

  it("throws ENOENT for a missing file (a missing ledger is read as empty on that code)", () => {
    expect(() => readTextFile(join(tempDir(), "none.json"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});
