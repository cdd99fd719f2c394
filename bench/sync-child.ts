/**
 * One sync run in its own process, for the benchmarks: the same `runSync` the CLI calls,
 * then one JSON line on stdout with the summary, this process's CPU time and its peak RSS
 * (`process.resourceUsage().maxRSS`, read at exit).
 *
 *   node dist/cli/bench-sync-child.js --config <provisioning.yaml> [--mode live|snapshot]
 *
 * (the compiled bundle, as `npm run sync` runs the compiled CLI; `node --import tsx
 * bench/sync-child.ts` runs the same code through the TypeScript loader)
 *
 * Reads `CATALOG_SCIM_URL` and `CATALOG_API_KEY` from the environment like the sync CLI.
 * `BENCH_BULK=off` hides the Catalog's Bulk support from the sync (the "without Bulk" figures
 * on the full sandbox profile).
 */
import { parseArgs } from "node:util";
import { loadProvisioningConfig } from "../src/config/load.js";
import { runSync, type RunSyncOptions } from "../src/sync/run.js";
import { ScimClient } from "../src/scim/client.js";
import { createCliFetch } from "../src/scim/cli-fetch.js";
import { tuneHeapForSync } from "../src/sync/heap.js";

export interface SyncChildReport {
  ok: boolean;
  summary?: Record<string, unknown>;
  error?: string;
  wallMs: number;
  /** ms since the process started (Node start-up and module loading included), at the report */
  processWallMs?: number;
  /** microseconds, the whole process (start-up included) */
  cpu: { user: number; system: number };
  /** microseconds, the run only */
  cpuRun: { user: number; system: number };
  /** bytes */
  maxRss: number;
  /** minor page faults during the run (`process.resourceUsage().minorPageFault`): memory touched for the first time */
  minorPageFaultsRun?: number;
  /** bytes, sampled every 100 ms: the V8 heap in use and the memory outside it (SQLite, buffers) */
  peakHeapUsed?: number;
  peakExternal?: number;
}

async function main(): Promise<void> {
  // as the sync command does
  tuneHeapForSync();
  const { values } = parseArgs({ options: { config: { type: "string" }, mode: { type: "string" } }, strict: true });
  const started = performance.now();
  let peakHeapUsed = 0;
  let peakExternal = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakHeapUsed = Math.max(peakHeapUsed, m.heapUsed);
    peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
  };
  const sampler = setInterval(sample, 100);
  sampler.unref();
  const cpu0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  let report: SyncChildReport;
  try {
    const config = loadProvisioningConfig({ ...(values.config !== undefined ? { file: values.config } : {}), env: process.env });
    const mode = values.mode === "live" || values.mode === "snapshot" ? values.mode : undefined;
    const withoutBulk: Pick<RunSyncOptions, "createClient"> =
      process.env.BENCH_BULK === "off"
        ? {
            createClient: (endpoint, cfg) => {
              const client = new ScimClient({
                discovery: "serviceProviderConfig",
                baseUrl: endpoint.baseUrl,
                apiKey: endpoint.apiKey,
                fetch: createCliFetch({ maxConnections: cfg.scim.maxConnections }).fetch,
                timeoutMs: cfg.scim.timeoutMs,
                retries: cfg.scim.retries,
              });
              const discovered = client.capabilities.bind(client);
              client.capabilities = async () => ({ ...(await discovered()), bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 } });
              return client;
            },
          }
        : {};
    const result = await runSync({ config, env: process.env, ...(mode ? { mode } : {}), ...withoutBulk });
    report = {
      ok: result.summary.failed === 0,
      summary: result.summary as unknown as Record<string, unknown>,
      wallMs: performance.now() - started,
      cpu: process.cpuUsage(),
      cpuRun: process.cpuUsage(cpu0),
      minorPageFaultsRun: process.resourceUsage().minorPageFault - faults0,
      maxRss: process.resourceUsage().maxRSS * 1024,
    };
  } catch (e) {
    report = {
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      wallMs: performance.now() - started,
      cpu: process.cpuUsage(),
      cpuRun: process.cpuUsage(cpu0),
      minorPageFaultsRun: process.resourceUsage().minorPageFault - faults0,
      maxRss: process.resourceUsage().maxRSS * 1024,
    };
  }
  sample();
  clearInterval(sampler);
  report = { ...report, processWallMs: performance.now(), peakHeapUsed, peakExternal };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(report.ok ? 0 : 1);
}

void main();
