/**
 * npm run bench -- [--quick] [--only action|sync] [--users N[,N…]] [--runs N] [--scaling-rounds N|0] [--naive N|0] [--ldap N|0] [--variants full-bulk,full,minimal] [--json]
 *
 * Reproducible benchmarks against the sandbox on loopback (its own process). Client and
 * server CPU are reported apart. Each figure carries its conditions. Exit 0 when every
 * target holds, 1 otherwise.
 */
import { parseArgs } from "node:util";
import { changeDirectory, generateDirectory, minimumChangeWrites, minimumInitialWrites, type GeneratedDirectory } from "./generate.js";
import { createSyncWorkspace, firstTouchCost, measureSync, type SyncMeasurement } from "./sync-bench.js";
import { runNaive } from "./naive.js";
import { startSandbox, type SandboxHandle } from "../test/helpers/sandbox.js";
import { runActionBench } from "./action-bench.js";
import { benchSandboxStartup } from "./sandbox-startup.js";
import { benchLdap } from "./ldap-bench.js";
import { loadavg } from "node:os";

/** the 1, 5 and 15 minute load averages, for the conditions of each figure */
export function loadAverage(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

export interface Figure {
  scenario: string;
  metric: string;
  conditions: string;
  target?: string;
  value: number | string;
  unit: string;
  pass?: boolean;
}

const BATCH = 100;
const BULK_MAX_OPERATIONS = 1000;
/** the unmeasured sync that warms each row's Catalog process */
const WARM_UP_USERS = 5_000;
/** the scaling pass also warms a size's Catalog with one unmeasured run of its own directory up to this size */
const SCALING_WARM_UP_MAX_USERS = 10_000;
/**
 * the scaling pass also measures, in the same rounds, an initial sync this small: the same shape
 * as the smallest size (10 groups, the same mapping), so its time is what any run pays before
 * and after its users (start, config, lock, snapshot, first requests, close)
 */
const FIXED_COST_USERS = 10;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function sizes(users: number): { users: number; groups: number; memberships: number } {
  return { users, groups: Math.max(10, Math.round(users / 100)), memberships: users * 5 };
}

interface SyncRunSet {
  initial: SyncMeasurement;
  second: SyncMeasurement;
  change: SyncMeasurement;
  minimum: number;
  changeMinimum: number;
}

async function syncOnce(
  g: GeneratedDirectory,
  profile: "full" | "minimal",
  latencyMs: number,
  log: (s: string) => void,
  useBulk = profile === "full",
  /** a running sandbox of this profile, reset here to the directory's Catalog groups (default: a new one) */
  sandbox?: SandboxHandle,
): Promise<SyncRunSet> {
  if (sandbox) await sandbox.reset(g.catalogGroups);
  const ws = await createSyncWorkspace({ mapping: g.mapping, catalogGroups: g.catalogGroups, profile, mode: "snapshot", batchSize: BATCH, ...(sandbox ? { sandbox } : {}) });
  const env = useBulk ? {} : { extraEnv: { BENCH_BULK: "off" } };
  try {
    if (latencyMs > 0) await ws.sandbox.setFaults([{ kind: "latency", latencyMs }]);
    ws.writeDirectory(g.directory);
    const initial = await measureSync(ws, env);
    log(`  initial: ${(initial.wallMs / 1000).toFixed(2)} s (process ${((initial.processWallMs ?? Number.NaN) / 1000).toFixed(2)} s), ${initial.requests} requests, ${initial.writes} writes, client CPU ${Math.round(initial.clientCpuMs)} ms, server CPU ${Math.round(initial.serverCpuMs)} ms, RSS ${Math.round(initial.maxRss / 1048576)} MB, ${loadAverage()}${initial.ok ? "" : `, FAILED: ${initial.error ?? JSON.stringify(initial.summary)}`}`);
    const second = await measureSync(ws, env);
    log(`  second:  ${(second.wallMs / 1000).toFixed(1)} s, ${second.writes} writes, ${loadAverage()}`);
    const { directory, changes } = changeDirectory(g.directory, 0.01);
    ws.writeDirectory(directory);
    const change = await measureSync(ws, env);
    log(`  1 %:     ${(change.wallMs / 1000).toFixed(1)} s, ${change.writes} writes, ${loadAverage()}`);
    const bulk = useBulk ? BULK_MAX_OPERATIONS : undefined;
    return { initial, second, change, minimum: minimumInitialWrites(g, BATCH, bulk), changeMinimum: minimumChangeWrites(changes, BATCH, bulk) };
  } finally {
    await ws.close();
  }
}

const VARIANTS: Record<string, { profile: "full" | "minimal"; bulk: boolean }> = {
  "full-bulk": { profile: "full", bulk: true },
  full: { profile: "full", bulk: false },
  minimal: { profile: "minimal", bulk: false },
};

async function benchSync(userSizes: number[], runsFor: (n: number) => number, log: (s: string) => void, only?: string[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  // another directory (seed 2) whose groups are among every size's first Catalog groups
  const warmUp = generateDirectory({ ...sizes(WARM_UP_USERS), seed: 2 });
  for (const n of userSizes) {
    const s = sizes(n);
    const g = generateDirectory({ ...s, seed: 1 });
    const variants = (only ?? Object.keys(VARIANTS)).map((v) => VARIANTS[v]!);
    const latencies = n <= 1_000 ? [0, 20] : [0];
    for (const { profile, bulk: useBulk } of variants) {
      for (const latency of latencies) {
        const runs = runsFor(n);
        const load0 = loadAverage();
        log(`sync ${n} users, ${profile}, Bulk ${useBulk ? "on" : "off"}, ${latency} ms (${runs} run${runs > 1 ? "s" : ""}), ${load0}`);
        const sets: SyncRunSet[] = [];
        // one Catalog process for the runs of this row, as a Catalog serves many syncs: warmed by an
        // unmeasured sync of another directory, then emptied (reset) before each measured run
        const sandbox = await startSandbox({ profile, groups: g.catalogGroups });
        try {
          await syncOnce(warmUp, profile, 0, () => undefined, useBulk, sandbox);
          for (let i = 0; i < runs; i++) sets.push(await syncOnce(g, profile, latency, log, useBulk, sandbox));
        } finally {
          await sandbox.stop();
        }
        const cond = `file source, ${s.users} users / ${s.groups} groups / ${s.memberships} memberships, sandbox ${profile} (one process per row, warmed by an unmeasured ${WARM_UP_USERS.toLocaleString("en")}-user sync, reset before each run), Bulk ${useBulk ? "on" : "off"}, ${latency} ms delay, batch ${BATCH}, concurrency 8, snapshot mode, median of ${runs}; ${load0} before, ${loadAverage()} after`;
        const med = (f: (r: SyncRunSet) => number): number => median(sets.map(f));
        const scenario = `sync ${n.toLocaleString("en")} ${profile}${useBulk ? " + Bulk" : ""}`;
        const ok = sets.every((r) => r.initial.ok && r.second.ok && r.change.ok);
        const initialMs = med((r) => r.initial.wallMs);
        const min = sets[0]!.minimum;
        const writes = med((r) => r.initial.writes);
        const requests = med((r) => r.initial.requests);
        figures.push(
          { scenario, metric: "runs succeeded", conditions: cond, target: "all", value: ok ? "yes" : "no", unit: "", pass: ok },
          {
            scenario,
            metric: "initial sync time",
            conditions: cond,
            ...(n === 100_000 && latency === 0 ? { target: "≤ 180 s", pass: initialMs <= 180_000 } : {}),
            value: +(initialMs / 1000).toFixed(1),
            unit: "s",
          },
          { scenario, metric: "initial: minimum writes", conditions: cond, value: min, unit: "requests" },
          { scenario, metric: "initial: writes / minimum", conditions: cond, target: "≤ 1.05", value: +(writes / min).toFixed(3), unit: "×", pass: writes <= 1.05 * min },
          { scenario, metric: "initial: all requests (reads too) / minimum", conditions: cond, target: "≤ 1.05", value: +(requests / min).toFixed(3), unit: "×", pass: requests <= 1.05 * min },
          { scenario, metric: "initial: client CPU (sync process)", conditions: cond, value: Math.round(med((r) => r.initial.clientCpuMs)), unit: "ms" },
          { scenario, metric: "initial: server CPU (sandbox process)", conditions: cond, value: Math.round(med((r) => r.initial.serverCpuMs)), unit: "ms" },
          { scenario, metric: "initial: peak RSS of the sync", conditions: cond, target: "≤ 400 MB", value: Math.round(med((r) => r.initial.maxRss) / 1048576), unit: "MB", pass: med((r) => r.initial.maxRss) <= 400 * 1048576 },
          { scenario, metric: "no-change run: peak RSS of the sync", conditions: cond, target: "≤ 400 MB", value: Math.round(med((r) => r.second.maxRss) / 1048576), unit: "MB", pass: med((r) => r.second.maxRss) <= 400 * 1048576 },
          { scenario, metric: "1 % change: peak RSS of the sync", conditions: cond, target: "≤ 400 MB", value: Math.round(med((r) => r.change.maxRss) / 1048576), unit: "MB", pass: med((r) => r.change.maxRss) <= 400 * 1048576 },
          { scenario, metric: "no-change run: writes", conditions: cond, target: "0", value: med((r) => r.second.writes), unit: "requests", pass: sets.every((r) => r.second.writes === 0) },
          { scenario, metric: "no-change run: time", conditions: cond, target: "≤ 10 s", value: +(med((r) => r.second.wallMs) / 1000).toFixed(2), unit: "s", pass: med((r) => r.second.wallMs) <= 10_000 },
          {
            scenario,
            metric: "1 % change: writes / minimum",
            conditions: `${cond}, minimum ${sets[0]!.changeMinimum}`,
            target: "≤ 1.05",
            value: +(med((r) => r.change.writes) / sets[0]!.changeMinimum).toFixed(3),
            unit: "×",
            pass: med((r) => r.change.writes) <= 1.05 * sets[0]!.changeMinimum,
          },
        );
      }
    }
  }
  return figures;
}

/** 4 KiB: the page size of x86-64 and of most arm64 Linux kernels (a minor fault maps one page) */
const PAGE_BYTES = 4096;

/**
 * Time per user across sizes, measured interleaved: one warmed Catalog process per size, then
 * rounds of one initial sync per size, in ascending order and then descending (1k, 10k, 100k,
 * 100k, 10k, 1k, …), so that a machine getting slower or faster during the bench weighs on every
 * size alike. On these shared machines a run moves by ±15–25 % between runs minutes apart; sizes
 * measured in rows minutes apart would compare the machine, not the sync. A 10-user run of the
 * smallest size's shape takes part in the same rounds: its time is the fixed cost of any run,
 * reported beside the ratios with the least ratio it leaves each size.
 */
async function benchScaling(userSizes: number[], rounds: number, log: (s: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  const warmUp = generateDirectory({ ...sizes(WARM_UP_USERS), seed: 2 });
  const load0 = loadAverage();
  log(`sync scaling: ${userSizes.join(", ")} users and ${FIXED_COST_USERS} (the fixed cost), ${rounds} interleaved rounds, ${load0}`);
  const rows: { users: number; g: GeneratedDirectory; sandbox: SandboxHandle; runs: SyncMeasurement[] }[] = [];
  try {
    for (const n of [FIXED_COST_USERS, ...userSizes]) {
      const g = generateDirectory({ ...sizes(n), seed: 1 });
      const sandbox = await startSandbox({ profile: "full", groups: g.catalogGroups });
      rows.push({ users: n, g, sandbox, runs: [] });
      await syncOnce(warmUp, "full", 0, () => undefined, true, sandbox);
      // and, where it takes seconds, by one unmeasured run of the measured directory itself: the
      // first run of a shape costs the Catalog up to 50 % more CPU (about 60 ms at 1,000 users),
      // a cost a Catalog serving many syncs has paid long before
      if (n <= SCALING_WARM_UP_MAX_USERS) await syncOnce(g, "full", 0, () => undefined, true, sandbox);
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? rows : [...rows].reverse();
      for (const row of order) {
        await row.sandbox.reset(row.g.catalogGroups);
        const ws = await createSyncWorkspace({ mapping: row.g.mapping, catalogGroups: row.g.catalogGroups, profile: "full", mode: "snapshot", batchSize: BATCH, sandbox: row.sandbox });
        try {
          ws.writeDirectory(row.g.directory);
          const m = await measureSync(ws);
          if (!m.ok) throw new Error(`the scaling run at ${row.users} users failed: ${m.error ?? JSON.stringify(m.summary)}`);
          row.runs.push(m);
          log(`  round ${round + 1}, ${row.users} users: ${(m.wallMs / 1000).toFixed(2)} s (process ${((m.processWallMs ?? Number.NaN) / 1000).toFixed(2)} s), client CPU ${Math.round(m.clientCpuMs)} ms, server CPU ${Math.round(m.serverCpuMs)} ms, ${m.minorPageFaults ?? "?"} page faults, ${loadAverage()}`);
        } finally {
          await ws.close();
        }
      }
    }
  } finally {
    for (const row of rows) await row.sandbox.stop();
  }
  const touch = firstTouchCost();
  const probe = rows.find((row) => row.users === FIXED_COST_USERS)!;
  const fixedMs = median(probe.runs.map((m) => m.wallMs));
  const perUser = rows.filter((row) => row !== probe).map((row) => ({
    users: row.users,
    ms: median(row.runs.map((m) => m.wallMs)) / row.users,
    processMs: median(row.runs.map((m) => m.processWallMs ?? m.wallMs)) / row.users,
    /** time per user of each round, for the ratio round by round */
    rounds: row.runs.map((m) => m.wallMs / row.users),
  }));
  const conditionsBase = `file source, sandbox full (one process per size and one for the ${FIXED_COST_USERS}-user run of the same rounds, warmed by an unmeasured ${WARM_UP_USERS.toLocaleString("en")}-user sync and, up to ${SCALING_WARM_UP_MAX_USERS.toLocaleString("en")} users, an unmeasured run of the same directory; reset before each run), Bulk on, 0 ms delay, batch ${BATCH}, concurrency 8, snapshot mode, initial sync, median of ${rounds} interleaved rounds (sizes ascending, then descending); ${load0} before, ${loadAverage()} after`;
  /** the largest size: the one every ratio is taken against */
  const ref = perUser.length >= 2 ? perUser[perUser.length - 1]! : undefined;
  if (ref) {
    for (const p of perUser) {
      const ratio = p.ms / ref.ms;
      figures.push({
        scenario: "sync scaling",
        metric: `time per user at ${p.users.toLocaleString("en")} vs ${ref.users.toLocaleString("en")}`,
        conditions: conditionsBase,
        target: "0.75–1.25",
        value: +ratio.toFixed(3),
        unit: `× (${p.ms.toFixed(3)} ms/user; rounds ${p.rounds.map((v, k) => (v / ref.rounds[k]!).toFixed(2)).join(", ")})`,
        pass: ratio >= 0.75 && ratio <= 1.25,
      });
      // the same with the process start-up (node, module loading) counted in
      const processRatio = p.processMs / ref.processMs;
      figures.push({
        scenario: "sync scaling",
        metric: `time per user at ${p.users.toLocaleString("en")} vs ${ref.users.toLocaleString("en")}, process start-up included`,
        conditions: `${conditionsBase}; wall time from process start to exit`,
        target: "0.75–1.25",
        value: +processRatio.toFixed(3),
        unit: `× (${p.processMs.toFixed(3)} ms/user)`,
        pass: processRatio >= 0.75 && processRatio <= 1.25,
      });
    }
  }
  // report-only: the fixed cost measured directly, and the least ratio it leaves each size: the
  // ratio a run would show if its users cost exactly what they cost in the largest run
  figures.push({
    scenario: "sync scaling",
    metric: `fixed cost of a sync run, measured: an initial sync of ${FIXED_COST_USERS} users`,
    conditions: `${conditionsBase}; ${sizes(FIXED_COST_USERS).groups} groups and the same mapping as the ${userSizes[0]!.toLocaleString("en")}-user run; report only`,
    value: Math.round(fixedMs),
    unit: `ms (rounds ${probe.runs.map((m) => Math.round(m.wallMs)).join(", ")})`,
  });
  if (ref) {
    for (const p of perUser.slice(0, -1)) {
      figures.push({
        scenario: "sync scaling",
        metric: `least ratio at ${p.users.toLocaleString("en")} vs ${ref.users.toLocaleString("en")} that the fixed cost leaves`,
        conditions: `1 + ${Math.round(fixedMs)} ms / (${p.users} × ${ref.ms.toFixed(3)} ms/user at ${ref.users.toLocaleString("en")}): the ratio of a run whose users cost what they cost at ${ref.users.toLocaleString("en")}, plus the fixed cost above; report only`,
        value: +(1 + fixedMs / (p.users * ref.ms)).toFixed(3),
        unit: "×",
      });
    }
  }
  // report-only: the memory each run touches for the first time (its minor page faults), and
  // what that costs at this machine's rate
  figures.push({
    scenario: "sync scaling",
    metric: "first touch of fresh memory, this machine",
    conditions: `a fresh 64 MiB buffer written once, then again, in the bench process, after the rounds; ${loadAverage()}; report only`,
    value: +touch.firstMsPerMib.toFixed(2),
    unit: `ms per MiB (written again: ${touch.againMsPerMib.toFixed(2)} ms per MiB)`,
  });
  for (const row of rows) {
    const faults = row.runs.map((m) => m.minorPageFaults).filter((f): f is number => f !== undefined);
    if (faults.length === 0) continue;
    const mib = (median(faults) * PAGE_BYTES) / 2 ** 20;
    figures.push({
      scenario: "sync scaling",
      metric: `memory touched for the first time during the run at ${row.users.toLocaleString("en")} users`,
      conditions: `the sync child's minor page faults during the run (process.resourceUsage().minorPageFault) × 4 KiB, median of ${faults.length}; at the rate above about ${Math.round(mib * touch.firstMsPerMib)} ms of the run; report only`,
      value: +mib.toFixed(1),
      unit: `MiB (${Math.round(median(faults)).toLocaleString("en")} page faults)`,
    });
  }
  // report-only: the cost of each added user between consecutive sizes (what stays when a run's
  // fixed cost, paid once at any size, is set apart), and that fixed cost
  for (let i = 1; i < perUser.length; i++) {
    const a = perUser[i - 1]!;
    const b = perUser[i]!;
    const marginal = (b.ms * b.users - a.ms * a.users) / (b.users - a.users);
    figures.push({
      scenario: "sync scaling",
      metric: `time per added user, ${a.users.toLocaleString("en")} → ${b.users.toLocaleString("en")}`,
      conditions: `${conditionsBase}; (run at ${b.users} − run at ${a.users}) / ${b.users - a.users}; report only`,
      value: +marginal.toFixed(3),
      unit: "ms/user",
    });
    if (i === 1) {
      figures.push({
        scenario: "sync scaling",
        metric: "fixed cost of a sync run (any size)",
        conditions: `run at ${a.users} users − ${a.users} × the time per added user above; report only`,
        value: Math.round(a.ms * a.users - marginal * a.users),
        unit: "ms",
      });
    }
  }
  return figures;
}

async function benchNaive(n: number, log: (s: string) => void): Promise<Figure[]> {
  const s = sizes(n);
  const g = generateDirectory({ ...s, seed: 1 });
  log(`naive ${n} users vs sync`);
  const sandbox = await startSandbox({ profile: "full", groups: g.catalogGroups });
  let naive;
  try {
    const before = await sandbox.stats();
    naive = await runNaive(g, sandbox.baseUrl, sandbox.apiKey);
    const after = await sandbox.stats();
    naive = { ...naive, serverCpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000 };
  } finally {
    await sandbox.stop();
  }
  const sync = await syncOnce(g, "full", 0, log);
  const syncMinimal = await syncOnce(g, "minimal", 0, log);
  const cond = `file source, ${s.users} users / ${s.groups} groups / ${s.memberships} memberships, sandbox full, 0 ms delay, naive: sequential, one request per user and per membership; ${loadAverage()}`;
  const scenario = `naive vs sync ${n.toLocaleString("en")}`;
  return [
    { scenario, metric: "naive: requests", conditions: cond, value: naive.requests, unit: "requests" },
    { scenario, metric: "naive: time", conditions: cond, value: +(naive.wallMs / 1000).toFixed(1), unit: "s" },
    { scenario, metric: "naive: server CPU", conditions: cond, value: Math.round(naive.serverCpuMs), unit: "ms" },
    { scenario, metric: "sync (Bulk on): requests", conditions: cond, value: sync.initial.requests, unit: "requests" },
    { scenario, metric: "sync (Bulk on): time", conditions: cond, value: +(sync.initial.wallMs / 1000).toFixed(1), unit: "s" },
    { scenario, metric: "sync (Bulk off, minimal): requests", conditions: cond, value: syncMinimal.initial.requests, unit: "requests" },
    { scenario, metric: "requests naive / sync (Bulk on)", conditions: cond, value: +(naive.requests / sync.initial.requests).toFixed(1), unit: "×" },
    { scenario, metric: "requests naive / sync (Bulk off)", conditions: cond, value: +(naive.requests / syncMinimal.initial.requests).toFixed(1), unit: "×" },
    { scenario, metric: "time naive / sync (Bulk on)", conditions: cond, value: +(naive.wallMs / sync.initial.wallMs).toFixed(1), unit: "×" },
  ];
}

export function formatTable(figures: Figure[]): string {
  const rows = figures.map((f) => [f.scenario, f.metric, `${f.value}${f.unit ? ` ${f.unit}` : ""}`, f.target ?? "", f.pass === undefined ? "" : f.pass ? "pass" : "FAIL"]);
  const head = ["scenario", "metric", "measured", "target", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const conditions = [...new Set(figures.map((f) => `${f.scenario}: ${f.conditions}`))];
  return [line(head), ...rows.map(line), "", "conditions:", ...conditions.map((c) => `  ${c}`)].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      users: { type: "string" },
      runs: { type: "string" },
      naive: { type: "string" },
      ldap: { type: "string" },
      json: { type: "boolean", default: false },
      variants: { type: "string" },
      "scaling-rounds": { type: "string" },
    },
    strict: true,
  });
  if (values.only !== undefined && values.only !== "action" && values.only !== "sync") {
    process.stderr.write(`bench: "--only" must be "action" or "sync"\n`);
    return 2;
  }
  const log = (s: string): void => {
    process.stderr.write(`${s}\n`);
  };
  const userSizes = values.users !== undefined ? values.users.split(",").map(Number) : values.quick ? [1_000, 5_000] : [1_000, 10_000, 100_000];
  if (userSizes.some((n) => !Number.isInteger(n) || n < 10)) {
    process.stderr.write(`bench: "--users" must be an integer of at least 10\n`);
    return 2;
  }
  const runs = values.runs !== undefined ? Number(values.runs) : undefined;
  const runsFor = (n: number): number => runs ?? (n >= 100_000 ? 1 : values.quick ? 1 : 3);
  const naiveUsers = values.naive !== undefined ? Number(values.naive) : values.quick ? 500 : 2_000;
  const scalingRounds = values["scaling-rounds"] !== undefined ? Number(values["scaling-rounds"]) : values.quick ? 2 : 3;
  if (!Number.isInteger(scalingRounds) || scalingRounds < 0) {
    process.stderr.write(`bench: "--scaling-rounds" must be a whole number\n`);
    return 2;
  }

  const figures: Figure[] = [];
  if (values.only !== "sync") {
    figures.push(...(await runActionBench({ quick: values.quick, log })));
    figures.push(...(await benchSandboxStartup({ quick: values.quick, log })));
  }
  if (values.only !== "action") {
    const only = values.variants?.split(",").map((v) => v.trim());
    if (only?.some((v) => !(v in VARIANTS))) {
      process.stderr.write(`bench: "--variants" takes ${Object.keys(VARIANTS).map((v) => `"${v}"`).join(", ")}\n`);
      return 2;
    }
    figures.push(...(await benchSync(userSizes, runsFor, log, only)));
    if (userSizes.length >= 2 && scalingRounds > 0) figures.push(...(await benchScaling(userSizes, scalingRounds, log)));
    if (naiveUsers > 0) figures.push(...(await benchNaive(naiveUsers, log)));
    if (values.ldap !== "0") figures.push(...(await benchLdap(Number(values.ldap ?? (values.quick ? 1_000 : 10_000)), log)));
  }
  const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim();
  if (values.json) process.stdout.write(`${JSON.stringify({ command, node: process.version, figures })}\n`);
  else process.stdout.write(`${command}\n\n${formatTable(figures)}\n`);
  return figures.every((f) => f.pass !== false) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
