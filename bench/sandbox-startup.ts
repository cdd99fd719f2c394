/**
 * Sandbox start-up: the time from `startSandboxServer(...)` to listening, in this process
 * (no tsx start-up), with `:memory:` and with a fresh database file; and, for information, the
 * whole process start through `spawnSandbox` (what `npm run sandbox` runs: node + tsx +
 * scripts/sandbox.ts, until it prints its base URL). Median of several runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startSandboxServer } from "../src/sandbox/server.js";
import { spawnSandbox } from "../src/sandbox/process.js";
import type { Figure } from "./run.js";

const GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function load(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

export async function benchSandboxStartup(options: { quick?: boolean; log?: (s: string) => void } = {}): Promise<Figure[]> {
  const log = options.log ?? (() => {});
  const runs = options.quick ? 5 : 11;
  const dir = mkdtempSync(join(tmpdir(), "bench-sandbox-"));
  const figures: Figure[] = [];
  try {
    // the first start in this process also opens better-sqlite3's native binding: reported apart
    const f0 = performance.now();
    const first = await startSandboxServer({ apiKey: "bench", groups: GROUPS, host: "127.0.0.1", port: 0 });
    const firstMs = performance.now() - f0;
    await first.close();
    figures.push({
      scenario: "sandbox start-up",
      metric: "startSandboxServer to listening, :memory:, first start in the process",
      conditions: `in-process, modules imported, first SQLite database of the process, one run; ${load()}`,
      value: +firstMs.toFixed(1),
      unit: "ms",
    });
    for (const db of [":memory:", "file"] as const) {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const path = db === "file" ? join(dir, `sandbox-${i}.db`) : db;
        const t0 = performance.now();
        const server = await startSandboxServer({ apiKey: "bench", groups: GROUPS, db: path, host: "127.0.0.1", port: 0 });
        ms.push(performance.now() - t0);
        await server.close();
      }
      const value = median(ms);
      figures.push({
        scenario: "sandbox start-up",
        metric: `startSandboxServer to listening, ${db === "file" ? "fresh database file" : ":memory:"}`,
        conditions: `in-process (modules already loaded), ${GROUPS.length} groups seeded, profile full, port 0, median of ${runs} (${ms.map((v) => v.toFixed(1)).join(", ")} ms); ${load()}`,
        target: "< 1000 ms",
        value: +value.toFixed(1),
        unit: "ms",
        pass: value < 1000,
      });
    }
    const procRuns = options.quick ? 3 : 5;
    for (const db of [":memory:", "file"] as const) {
      const ms: number[] = [];
      for (let i = 0; i < procRuns; i++) {
        const t0 = performance.now();
        const sb = await spawnSandbox({ groups: GROUPS, ...(db === "file" ? { db: join(dir, `process-${i}.db`) } : {}) });
        ms.push(performance.now() - t0);
        await sb.stop();
      }
      figures.push({
        scenario: "sandbox start-up",
        metric: `whole process (spawnSandbox: node + tsx + scripts/sandbox.ts), ${db === "file" ? "fresh database file" : ":memory:"}`,
        conditions: `spawn to the printed base URL, ${GROUPS.length} groups, median of ${procRuns} (${ms.map((v) => v.toFixed(0)).join(", ")} ms), for information; ${load()}`,
        value: Math.round(median(ms)),
        unit: "ms",
      });
    }
    log("sandbox start-up: done");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
