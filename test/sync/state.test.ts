import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProvisioningError } from "../../src/errors.js";
import { SnapshotState, type StateBinding } from "../../src/sync/state.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sync-state-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const binding: StateBinding = { target: "default", catalogUrl: "http://127.0.0.1:1/scim/v2", sourceFingerprint: "file:a", mappingHash: "m1" };
const catalog = {
  users: [{ id: "u1", userName: "a@example.com", externalId: "e1", active: true, name: { givenName: "A" } }],
  groups: [{ id: "g1", displayName: "catalog-admins", members: ["u1"] }],
};

describe("snapshot state", () => {
  it("starts fresh and unpopulated when missing, then records a live read", () => {
    const path = join(tempDir(), "state.sqlite");
    const s = SnapshotState.open(path, binding);
    expect(s.fresh).toBe(true);
    expect(s.populated).toBe(false);
    s.replaceAll(catalog, "2026-01-01T00:00:00.000Z");
    s.close();
    const again = SnapshotState.open(path, binding);
    expect(again.fresh).toBe(false);
    expect(again.populated).toBe(true);
    expect(again.lastAudit).toBe("2026-01-01T00:00:00.000Z");
    expect(again.catalog()).toEqual(catalog);
    again.close();
  });

  it("refuses a state bound to another Catalog, source or mapping with SYNC_STATE_MISMATCH", () => {
    const path = join(tempDir(), "state.sqlite");
    SnapshotState.open(path, binding).close();
    for (const change of [{ catalogUrl: "http://127.0.0.1:2/scim/v2" }, { sourceFingerprint: "file:b" }, { mappingHash: "m2" }]) {
      try {
        SnapshotState.open(path, { ...binding, ...change });
        expect.unreachable();
      } catch (e) {
        expect((e as ProvisioningError).code).toBe("SYNC_STATE_MISMATCH");
        expect((e as ProvisioningError).exitCode).toBe(3);
        expect((e as ProvisioningError).hint).toMatch(/--rebuild-state/);
      }
    }
  });

  it("reports a corrupt file as SYNC_STATE_CORRUPT and rebuilds it with rebuild", () => {
    const path = join(tempDir(), "state.sqlite");
    writeFileSync(path, "this is not a database, it is garbage ".repeat(200));
    try {
      SnapshotState.open(path, binding);
      expect.unreachable();
    } catch (e) {
      expect((e as ProvisioningError).code).toBe("SYNC_STATE_CORRUPT");
      expect((e as ProvisioningError).hint).toMatch(/--rebuild-state/);
    }
    const rebuilt = SnapshotState.open(path, binding, { rebuild: true });
    expect(rebuilt.fresh).toBe(true);
    rebuilt.close();
  });

  it("keeps an intent pending until its effect is recorded with it", () => {
    const path = join(tempDir(), "state.sqlite");
    const s = SnapshotState.open(path, binding);
    s.replaceAll(catalog, "2026-01-01T00:00:00.000Z");
    const seq = s.recordIntent({ op: "addMembers", groupId: "g1", groupName: "catalog-admins", members: [{ scimId: "u2" }] }, "2026-01-01T00:00:01.000Z");
    const seq2 = s.recordIntent({ op: "deactivateUser", scimId: "u1", externalId: "e1" }, "2026-01-01T00:00:01.000Z");
    expect(s.pendingIntents().map((i) => i.seq)).toEqual([seq, seq2]);
    s.recordDone(seq, [{ kind: "members", groupId: "g1", added: ["u2"], removed: [] }]);
    s.close();
    const again = SnapshotState.open(path, binding);
    expect(again.pendingIntents().map((i) => i.operation.op)).toEqual(["deactivateUser"]);
    expect(again.catalog().groups[0]!.members).toEqual(["u1", "u2"]);
    again.close();
  });
});
