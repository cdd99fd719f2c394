/**
 * Printing what one harness run did: the SCIM requests, the `api` calls, the claims, the log line.
 */
import type { RunResult } from "./harness.js";

const MAX_ARG_CHARS = 120;

function short(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > MAX_ARG_CHARS ? `${s.slice(0, MAX_ARG_CHARS - 1)}…` : s;
}

/** The JSON form of a run, for `--json` output. */
export function runJson(r: RunResult): Record<string, unknown> {
  return {
    outcome: r.outcome,
    ...(r.failure ? { failure: r.failure } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.deniedReason !== undefined ? { deniedReason: r.deniedReason } : {}),
    durationMs: r.durationMs,
    requests: r.requests.map(({ method, path, status, ms }) => ({ method, path, status, ms })),
    calls: r.calls,
    claims: r.claims,
    appMetadata: r.appMetadata,
    log: r.persistedLog,
  };
}

/** A readable report of one run. */
export function formatRun(r: RunResult, label: string): string {
  const out: string[] = [];
  const how = r.outcome === "failed" ? `failed (${r.failure}${r.error ? `: ${r.error}` : ""})` : r.outcome === "denied" ? `denied: ${r.deniedReason}` : "success";
  out.push(`${label}: ${how} in ${r.durationMs} ms, ${r.requests.length} catalog request${r.requests.length === 1 ? "" : "s"}`);
  if (r.requests.length > 0) {
    const rows = r.requests.map((q) => [q.method, q.path.length > 90 ? `${q.path.slice(0, 89)}…` : q.path, q.status === 0 ? `- (${q.error ?? "no response"})` : String(q.status), `${q.ms} ms`]);
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) out.push(`  ${row[0]!.padEnd(w[0]!)}  ${row[1]!.padEnd(w[1]!)}  ${row[2]!.padEnd(w[2]!)}  ${row[3]}`);
  }
  const calls = r.calls.filter((c) => !c.name.startsWith("cache."));
  const cacheCalls = r.calls.length - calls.length;
  out.push(`  api calls: ${calls.length}${cacheCalls > 0 ? ` (and ${cacheCalls} api.cache)` : ""}`);
  for (const c of calls) out.push(`    api.${c.name}(${c.args.map(short).join(", ")})`);
  const claims = [...Object.entries(r.claims.idToken).map(([k, v]) => `id_token ${k} = ${short(v)}`), ...Object.entries(r.claims.accessToken).map(([k, v]) => `access_token ${k} = ${short(v)}`)];
  out.push(`  claims: ${claims.length === 0 ? "none" : claims.join("; ")}`);
  out.push(`  log: ${r.persistedLog === "" ? "(none)" : r.persistedLog.replace(/\n/g, " | ")}`);
  return out.join("\n");
}
