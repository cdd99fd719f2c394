/**
 * The first target's Catalog read goes out while the source is being read, when the source
 * tells its fingerprint up front; the snapshot state is then opened before the read, and let go
 * cleanly when the read fails.
 */
import Database from "better-sqlite3";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ProvisioningError } from "../../src/errors.js";
import type { DirectorySource, SourceRead } from "../../src/sync/directory.js";
import { createSource } from "../../src/sync/sources/index.js";
import { SnapshotState } from "../../src/sync/state.js";
import { startSandbox, type SandboxHandle } from "../helpers/sandbox.js";
import { CATALOG_GROUPS, createWorkspace, makeDirectory, writesSince, type Workspace } from "./harness.js";

/** a fetch that counts the Catalog requests issued */
function countingFetch(): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const f = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    calls.push(`${init?.method ?? "GET"} ${String(input instanceof Request ? input.url : input)}`);
    return fetch(input, init);
  }) as typeof fetch;
  return { fetch: f, calls };
}

/**
 * A source whose read lets the event loop turn (a bounded number of times, no timer) until a
 * Catalog request has been issued, and records whether one was.
 */
function watchingSource(calls: readonly string[], fingerprint: string | undefined, result: () => SourceRead | Promise<SourceRead>): DirectorySource & { sawCatalogRequest?: boolean } {
  const source: DirectorySource & { sawCatalogRequest?: boolean } = {
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    async read() {
      for (let turn = 0; turn < 200 && calls.length === 0; turn++) await new Promise<void>((r) => setImmediate(r));
      source.sawCatalogRequest = calls.length > 0;
      return result();
    },
  };
  return source;
}

describe("the Catalog read overlaps the source read", () => {
  let sandbox: SandboxHandle;
  let ws: Workspace;
  beforeAll(async () => {
    sandbox = await startSandbox({ profile: "full", groups: CATALOG_GROUPS });
  });
  afterAll(async () => {
    await sandbox.stop();
  });
  beforeEach(async () => {
    await ws?.close();
    await sandbox.reset(CATALOG_GROUPS);
    ws = await createWorkspace({ sandbox, mode: "snapshot" });
  });

  it("a source that tells its fingerprint: the Catalog is read while the source is read, and the run converges", async () => {
    const { fetch: f, calls } = countingFetch();
    const source = watchingSource(calls, "test source", () => ({ directory: makeDirectory(), complete: true, fingerprint: "test source" }));
    const r = await ws.run({ source, fetch: f });
    expect(source.sawCatalogRequest).toBe(true);
    expect(r.summary.ok).toBe(true);
    expect(r.summary.created).toBe(12);
    // the state is bound to that fingerprint: the next run (same source) plans nothing and sends
    // nothing, and reads the recorded state back only once the source is read (not alongside it)
    const again = countingFetch();
    const readBack = vi.spyOn(SnapshotState.prototype, "catalog");
    let readBackDuringSource = -1;
    const second = await ws.run({
      source: watchingSource(again.calls, "test source", () => {
        readBackDuringSource = readBack.mock.calls.length;
        return { directory: makeDirectory(), complete: true, fingerprint: "test source" };
      }),
      fetch: again.fetch,
    });
    expect(readBackDuringSource).toBe(0);
    expect(readBack).toHaveBeenCalledTimes(1);
    readBack.mockRestore();
    expect(second.summary.created + second.summary.membershipsAdded).toBe(0);
    expect(again.calls).toEqual([]);
  });

  it("a source that does not tell it: nothing is sent to the Catalog before the source is read", async () => {
    const { fetch: f, calls } = countingFetch();
    const source = watchingSource(calls, undefined, () => ({ directory: makeDirectory(), complete: true, fingerprint: "test source" }));
    const r = await ws.run({ source, fetch: f });
    expect(source.sawCatalogRequest).toBe(false);
    expect(r.summary.created).toBe(12);
  });

  it("the file source tells its fingerprint up front, as its reads carry it", async () => {
    const source = createSource({ type: "file", path: "directory.json" } as never, { env: {}, baseDir: ws.dir });
    expect(source.fingerprint).toBe(`file ${ws.directoryFile}`);
    expect((await source.read()).fingerprint).toBe(source.fingerprint);
  });

  it("a failed source read after the early open: the refusal stands, the state is closed and nothing was written", async () => {
    const { fetch: f, calls } = countingFetch();
    const source = watchingSource(calls, "test source", () => Promise.reject(new Error("connection reset")));
    const failed = await ws.run({ source, fetch: f }).catch((e: unknown) => e);
    expect(source.sawCatalogRequest).toBe(true);
    expect((failed as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect(await writesSince(sandbox)).toEqual([]);
    // closed cleanly: the state carries the clean-close mark, and holds the live read it took
    const db = new Database(join(ws.dir, ".provisioning-state.sqlite"), { readonly: true, fileMustExist: true });
    try {
      const meta = (key: string) => (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
      expect(meta("clean_close")).toBe("1");
      expect(meta("source_fingerprint")).toBe("test source");
      expect(meta("populated")).toBe("1");
    } finally {
      db.close();
    }
    // and the next run, with the source back, goes through
    const r = await ws.run({ source: watchingSource(calls, "test source", () => ({ directory: makeDirectory(), complete: true, fingerprint: "test source" })) });
    expect(r.summary.created).toBe(12);
  });

  it("a read that carries another fingerprint than announced is refused, with nothing written", async () => {
    const { fetch: f, calls } = countingFetch();
    const source = watchingSource(calls, "announced", () => ({ directory: makeDirectory(), complete: true, fingerprint: "actual" }));
    const refused = await ws.run({ source, fetch: f }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProvisioningError);
    expect((refused as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect((refused as ProvisioningError).message).toContain('"actual"');
    expect(await writesSince(sandbox)).toEqual([]);
  });

  it("with --rebuild-state a failed source read leaves the state where it was: nothing is read or moved first", async () => {
    const first = await ws.run({ source: watchingSource([], "test source", () => ({ directory: makeDirectory(), complete: true, fingerprint: "test source" })) });
    expect(first.summary.created).toBe(12);
    const { fetch: f, calls } = countingFetch();
    const source = watchingSource(calls, "test source", () => Promise.reject(new Error("connection reset")));
    const failed = await ws.run({ source, fetch: f, rebuildState: true }).catch((e: unknown) => e);
    expect((failed as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect(source.sawCatalogRequest).toBe(false);
    expect(calls).toEqual([]);
    expect(readdirSync(ws.dir).filter((f) => f.includes(".broken-"))).toEqual([]);
  });
});
