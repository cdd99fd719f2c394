/**
 * The sync from OpenLDAP: a generated directory written as LDIF, loaded offline with slapadd
 * into a local slapd (`test/setup/slapd-server.ts`), then the `ldap` source → `runSync` in a
 * child process → the sandbox (full profile, Bulk on), snapshot mode. Skipped with a note
 * when slapd is not installed.
 */
import { loadavg } from "node:os";
import { generateDirectory, minimumInitialWrites, type GeneratedDirectory } from "./generate.js";
import { createSyncWorkspace, measureSync } from "./sync-bench.js";
import type { Figure } from "./run.js";
import { SLAPD_BASE_DN, startSlapd } from "../test/setup/slapd-server.js";

const BATCH = 100;

/** LDIF of the generated directory: `inetOrgPerson` users (entryUUID = the generated id) and `groupOfNames` groups */
export function directoryLdif(g: GeneratedDirectory, base = SLAPD_BASE_DN): string {
  const out: string[] = [
    `dn: ${base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Bench\ndc: ${base.split(",")[0]!.split("=")[1]}\n`,
    `dn: ou=people,${base}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${base}\nobjectClass: organizationalUnit\nou: groups\n`,
  ];
  const dnOf = new Map<string, string>();
  g.directory.users.forEach((u, i) => {
    const uid = `user${String(i).padStart(6, "0")}`;
    const dn = `uid=${uid},ou=people,${base}`;
    dnOf.set(u.id, dn);
    out.push(
      `dn: ${dn}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${u.displayName}\nsn: ${u.familyName}\ngivenName: ${u.givenName}\ndisplayName: ${u.displayName}\nmail: ${u.email}\nentryUUID: ${u.id}\n`,
    );
  });
  for (const grp of g.directory.groups) {
    out.push(`dn: cn=${grp.name},ou=groups,${base}\nobjectClass: groupOfNames\ncn: ${grp.name}\nentryUUID: ${grp.id}\n${grp.members.map((m) => `member: ${dnOf.get(m)!}`).join("\n")}\n`);
  }
  return out.join("\n");
}

export async function benchLdap(users: number, log: (s: string) => void): Promise<Figure[]> {
  const scenario = `sync from OpenLDAP ${users.toLocaleString("en")}`;
  const g = generateDirectory({ users, groups: Math.max(10, Math.round(users / 100)), memberships: users * 5, seed: 1 });
  log(`sync ${users} users from OpenLDAP (slapadd offline load)`);
  let slapd;
  try {
    slapd = await startSlapd({ ldif: directoryLdif(g), extraConfig: "sizelimit unlimited" });
  } catch (e) {
    log(`  skipped: ${e instanceof Error ? e.message : String(e)}`);
    return [{ scenario, metric: "run", conditions: "slapd not available", value: "skipped", unit: "" }];
  }
  const sourceYaml = [
    "  source:",
    "    type: ldap",
    `    url: ${slapd.url}`,
    `    bindDn: "${slapd.bindDn}"`,
    "    bindPasswordEnv: LDAP_BIND_PASSWORD",
    "    users:",
    `      baseDn: "ou=people,${slapd.baseDn}"`,
    "    groups:",
    `      baseDn: "ou=groups,${slapd.baseDn}"`,
  ].join("\n");
  const ws = await createSyncWorkspace({ mapping: g.mapping, catalogGroups: g.catalogGroups, profile: "full", mode: "snapshot", batchSize: BATCH, sourceYaml });
  try {
    const load0 = loadavg().map((l) => l.toFixed(2)).join(" ");
    const initial = await measureSync(ws, { extraEnv: { LDAP_BIND_PASSWORD: slapd.password } });
    log(`  initial: ${(initial.wallMs / 1000).toFixed(1)} s, ${initial.requests} requests, ${initial.writes} writes${initial.ok ? "" : `, FAILED: ${initial.error ?? JSON.stringify(initial.summary)}`}`);
    const second = await measureSync(ws, { extraEnv: { LDAP_BIND_PASSWORD: slapd.password } });
    log(`  second:  ${(second.wallMs / 1000).toFixed(1)} s, ${second.writes} writes`);
    const min = minimumInitialWrites(g, BATCH, 1000);
    const cond = `ldap source (OpenLDAP, slapadd), ${users} users / ${g.directory.groups.length} groups / ${users * 5} memberships, sandbox full, Bulk on, 0 ms delay, batch ${BATCH}, concurrency 8, snapshot mode; load average ${load0} before, ${loadavg().map((l) => l.toFixed(2)).join(" ")} after`;
    return [
      { scenario, metric: "runs succeeded", conditions: cond, target: "all", value: initial.ok && second.ok ? "yes" : "no", unit: "", pass: initial.ok && second.ok },
      { scenario, metric: "initial sync time", conditions: cond, value: +(initial.wallMs / 1000).toFixed(1), unit: "s" },
      { scenario, metric: "initial: writes / minimum", conditions: `${cond}, minimum ${min}`, target: "≤ 1.05", value: +(initial.writes / min).toFixed(3), unit: "×", pass: initial.writes <= 1.05 * min },
      { scenario, metric: "initial: client CPU (sync process)", conditions: cond, value: Math.round(initial.clientCpuMs), unit: "ms" },
      { scenario, metric: "initial: peak RSS of the sync", conditions: cond, target: "≤ 400 MB", value: Math.round(initial.maxRss / 1048576), unit: "MB", pass: initial.maxRss <= 400 * 1048576 },
      { scenario, metric: "no-change run: writes", conditions: cond, target: "0", value: second.writes, unit: "requests", pass: second.writes === 0 },
      { scenario, metric: "no-change run: time", conditions: cond, target: "≤ 10 s", value: +(second.wallMs / 1000).toFixed(2), unit: "s", pass: second.wallMs <= 10_000 },
    ];
  } finally {
    await ws.close();
    await slapd.stop();
  }
}
