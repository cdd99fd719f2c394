/**
 * Profiles one initial sync (and a no-change run) with `node --cpu-prof` in the sync child and
 * in the sandbox (the Catalog's side, written when the sandbox stops):
 *
 *   tsx bench/profile-sync.ts --users 5000 --profile minimal --dir /tmp/prof
 *
 * Writes `.cpuprofile` files to `--dir` (open them in Chrome DevTools) and prints the top
 * self-time functions of each, plus the figures of `measureSync`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateDirectory } from "./generate.js";
import { createSyncWorkspace, measureSync } from "./sync-bench.js";
import { startSandbox } from "../test/helpers/sandbox.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function topSelfTime(profile: CpuProfile, n = 25): string[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const f = node.callFrame;
    const k = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules|src|bench)\//, "$1/")}:${f.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { users: { type: "string" }, profile: { type: "string" }, dir: { type: "string" } } });
  const users = Number(values.users ?? 5000);
  const profile = values.profile === "full" ? "full" : "minimal";
  const dir = values.dir ?? "/tmp/sync-prof";
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const g = generateDirectory({ users, groups: Math.max(10, Math.round(users / 100)), memberships: users * 5, seed: 1 });
  const serverDir = join(dir, "sandbox");
  mkdirSync(serverDir);
  const sandbox = await startSandbox({ profile, groups: g.catalogGroups, nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${serverDir}`] });
  const ws = await createSyncWorkspace({ mapping: g.mapping, catalogGroups: g.catalogGroups, profile, mode: "snapshot", sandbox });
  try {
    ws.writeDirectory(g.directory);
    for (const run of ["initial", "second"]) {
      const runDir = join(dir, run);
      mkdirSync(runDir);
      const m = await measureSync(ws, { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${runDir}`] });
      process.stdout.write(`${run}: ${(m.wallMs / 1000).toFixed(1)} s, client CPU ${m.clientCpuMs.toFixed(0)} ms, server CPU ${m.serverCpuMs.toFixed(0)} ms, ${m.requests} requests, ${m.writes} writes\n`);
      for (const f of readdirSync(runDir)) {
        const p = JSON.parse(readFileSync(join(runDir, f), "utf8")) as CpuProfile;
        if (p.samples.length < 100) continue;
        process.stdout.write(`${topSelfTime(p).join("\n")}\n`);
      }
    }
  } finally {
    await ws.close();
    await sandbox.stop();
  }
  process.stdout.write("sandbox (both runs):\n");
  for (const f of readdirSync(serverDir)) {
    const p = JSON.parse(readFileSync(join(serverDir, f), "utf8")) as CpuProfile;
    if (p.samples.length < 100) continue;
    process.stdout.write(`${topSelfTime(p).join("\n")}\n`);
  }
}

void main();
