/**
 * The Action benchmark: the built bundle (same build as `npm run build`, with a bench
 * mapping of 20 groups) in the local Post-Login harness, against the sandbox in its own
 * process. A fetch wrapper counts requests and sequential round trips (a request started
 * while another is in flight belongs to the same round trip).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ActionHarness, type HarnessEvent, type RunResult } from "../src/action-harness/index.js";
import { BUNDLE_BUDGET, buildActionBundle } from "../src/deploy/bundle.js";
import { startSandbox, type SandboxHandle } from "../test/helpers/sandbox.js";
import { catalogGroupName, idpGroupName } from "./generate.js";
import type { Figure } from "./run.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const K_MAX = 20;

/** counts requests and round trips of whatever runs through it */
export function roundTripFetch(base: typeof fetch = globalThis.fetch): { fetch: typeof fetch; reset(): void; readonly requests: number; readonly roundTrips: number } {
  let inFlight = 0;
  let requests = 0;
  let roundTrips = 0;
  return {
    fetch: async (input, init) => {
      if (inFlight === 0) roundTrips++;
      inFlight++;
      requests++;
      try {
        return await base(input, init);
      } finally {
        inFlight--;
      }
    },
    reset() {
      requests = 0;
      roundTrips = 0;
    },
    get requests() {
      return requests;
    },
    get roundTrips() {
      return roundTrips;
    },
  };
}

function person(n: number, k: number): HarnessEvent {
  const e = JSON.parse(readFileSync(join(root, "examples/events/entra-waad.json"), "utf8")) as HarnessEvent;
  e.user.user_id = `waad|contoso-entra|bench-${n}`;
  e.user.email = `bench-${n}@contoso.example`;
  e.user["oid"] = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  e.user["groups"] = Array.from({ length: k }, (_, i) => idpGroupName(i));
  (e.user["identities"] as { user_id: string }[])[0]!.user_id = `bench-${n}`;
  return e;
}

function loadAverage(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * CPU per login with the network excluded: the built bundle in the harness against
 * {@link inMemoryCatalogFetch}, `process.cpuUsage()` over many logins, median of several runs.
 * Events are made before the clock starts; 50 untimed first logins warm the instance up. The
 * fake's own CPU is measured apart (the same requests replayed into a fresh fake) and taken out;
 * the harness (vm context, recording fetch, event completion) stays in.
 */
export async function inProcessCpu(code: string, catalogGroups: string[], quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  const runs = quick ? 3 : 5;
  const iterations = 500;
  const warmup = 50;
  const baseUrl = "https://catalog.invalid/scim/v2";
  const secrets = { CATALOG_SCIM_URL: baseUrl, CATALOG_API_KEY: "bench-key" };
  let n = 1_000_000;
  for (const bulk of [false, true]) {
    const scenario = `action in-process (Bulk ${bulk ? "on" : "off"})`;
    const measure = async (label: string, k: number, repeat: boolean): Promise<void> => {
      const perLogin: number[] = [];
      const gross: number[] = [];
      let requests = 0;
      for (let r = 0; r < runs; r++) {
        // The fake answers synchronously (no await inside). Its own CPU is taken out by replaying
        // the same requests, in the same order, into a fresh fake after the timed logins, under
        // one clock of its own: a clock read around every call would cost more than some calls.
        const catalog = inMemoryCatalogFetch({ groups: catalogGroups, bulk });
        const sent: [Parameters<typeof fetch>[0], Parameters<typeof fetch>[1]][] = [];
        const measured: typeof fetch = (input, init) => {
          sent.push([input, init]);
          return catalog(input, init);
        };
        const h = new ActionHarness({ code, secrets, baseUrl, fetch: measured });
        const login = async (e: HarnessEvent): Promise<RunResult> => {
          const res = await h.run(e);
          if (res.outcome !== "success" || res.logs.some((l) => / error=/.test(l))) throw new Error(`login failed: ${res.error ?? res.deniedReason ?? res.logs.join(" ")}`);
          return res;
        };
        for (let i = 0; i < warmup; i++) await login(person(++n, k));
        const one = person(++n, k);
        if (repeat) await login(one);
        const events = Array.from({ length: iterations }, () => (repeat ? one : person(++n, k)));
        let req = 0;
        const before = sent.length;
        const c0 = process.cpuUsage();
        for (const e of events) req += (await login(e)).requests.length;
        const c = process.cpuUsage(c0);
        const replay = inMemoryCatalogFetch({ groups: catalogGroups, bulk });
        for (let i = 0; i < before; i++) void replay(...sent[i]!);
        const r0 = process.cpuUsage();
        for (let i = before; i < sent.length; i++) void replay(...sent[i]!);
        const rc = process.cpuUsage(r0);
        const catalogUs = rc.user + rc.system;
        gross.push((c.user + c.system) / 1000 / iterations);
        perLogin.push((c.user + c.system - catalogUs) / 1000 / iterations);
        requests = req / iterations;
        if (repeat ? requests !== 0 : requests === 0) throw new Error(`${label}: ${requests} requests per login`);
      }
      const value = median(perLogin);
      figures.push({
        scenario,
        metric: `CPU per login, ${label}, with the in-process Catalog's own CPU`,
        conditions: `the same logins, nothing taken out; median of ${runs} runs (${gross.map((v) => v.toFixed(3)).join(", ")}); ${loadAverage()}`,
        value: +median(gross).toFixed(3),
        unit: "ms",
      });
      figures.push({
        scenario,
        metric: `CPU per login, ${label} (network excluded)`,
        conditions: `built bundle in the harness, in-process Catalog fetch answering from memory, Bulk ${bulk ? "on" : "off"}, ${iterations} logins per run after ${warmup} untimed, median of ${runs} runs (${perLogin.map((v) => v.toFixed(3)).join(", ")}), ${requests} requests per login, harness included, the in-process Catalog's own CPU (measured by replaying the same requests into a fresh fake) taken out; ${loadAverage()}`,
        target: "< 2 ms",
        value: +value.toFixed(3),
        unit: "ms",
        pass: value < 2,
      });
    };
    for (const k of [1, 5, 20]) await measure(`first login k=${k} (group ids known)`, k, false);
    await measure("unchanged repeat login k=5", 5, true);
    log(`action in-process CPU, Bulk ${bulk ? "on" : "off"}: done`);
  }
  return figures;
}

export async function runActionBench(options: { quick?: boolean; log?: (s: string) => void } = {}): Promise<Figure[]> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "bench-action-"));
  const figures: Figure[] = [];
  try {
    const catalogGroups = Array.from({ length: K_MAX }, (_, i) => catalogGroupName(i));
    const configFile = join(dir, "provisioning.yaml");
    writeFileSync(
      configFile,
      ["catalog:", "  url: http://127.0.0.1:1/scim/v2", "groups:", ...catalogGroups.map((c, i) => `  ${idpGroupName(i)}: ${c}`), ""].join("\n"),
    );
    const bundle = await buildActionBundle({ configFile });
    const bundleFile = join(dir, "bench.js");
    writeFileSync(bundleFile, bundle.code);
    // the same build as `npm run build` (provisioning.yaml, or PROVISIONING_CONFIG), built now
    const shipped = await buildActionBundle(process.env["PROVISIONING_CONFIG"] ? { configFile: process.env["PROVISIONING_CONFIG"] } : {});
    for (const [what, b] of [
      ["npm run build (provisioning.yaml)", shipped],
      ["20-group bench mapping", bundle],
    ] as const) {
      const codeBytes = b.bytes - b.configBytes;
      const cond = `built by buildActionBundle in this run, minified, ${what}`;
      figures.push({ scenario: "action", metric: `bundle size, ${what}: total`, conditions: cond, value: b.bytes, unit: "B" });
      figures.push({ scenario: "action", metric: `bundle size, ${what}: compiled mapping`, conditions: cond, value: b.configBytes, unit: "B" });
      figures.push({
        scenario: "action",
        metric: `bundle size, ${what}: code (total less mapping)`,
        conditions: cond,
        target: `≤ ${BUNDLE_BUDGET} B`,
        value: codeBytes,
        unit: "B",
        pass: codeBytes <= BUNDLE_BUDGET,
      });
    }
    figures.push(...(await inProcessCpu(bundle.code, catalogGroups, options.quick === true, log)));

    let n = 0;
    for (const profile of ["full", "minimal"] as const) {
      const bulk = profile === "full";
      const sb: SandboxHandle = await startSandbox({ profile, groups: catalogGroups });
      try {
        const counter = roundTripFetch();
        const secrets = { CATALOG_SCIM_URL: sb.baseUrl, CATALOG_API_KEY: sb.apiKey };
        const harness = (): ActionHarness => new ActionHarness({ bundleFile, secrets, baseUrl: sb.baseUrl, fetch: counter.fetch });
        const run = async (h: ActionHarness, e: HarnessEvent): Promise<{ r: RunResult; requests: number; roundTrips: number }> => {
          counter.reset();
          const r = await h.run(e);
          if (r.outcome !== "success") throw new Error(`login failed: ${r.error ?? r.deniedReason ?? r.persistedLog}`);
          return { r, requests: counter.requests, roundTrips: counter.roundTrips };
        };
        const cond = (extra: string): string => `built bundle in the harness, sandbox ${profile}, Bulk ${bulk ? "on" : "off"}, 0 ms delay, ${extra}`;
        const scenario = `action (${profile})`;
        for (const k of [1, 5, 20]) {
          const h = harness();
          // cold cache: the first login on this instance also resolves the group ids
          const cold = await run(h, person(++n, k));
          figures.push({ scenario, metric: `cold cache, first login k=${k}: requests / round trips`, conditions: cond("fresh api.cache"), value: `${cold.requests} / ${cold.roundTrips}`, unit: "" });
          const warm = await run(h, person(++n, k));
          const maxRounds = bulk ? 2 : 3;
          figures.push({
            scenario,
            metric: `first login k=${k} (group ids known): requests`,
            conditions: cond("group ids in api.cache"),
            target: `≤ ${k + 2}`,
            value: warm.requests,
            unit: "",
            pass: warm.requests <= k + 2,
          });
          figures.push({
            scenario,
            metric: `first login k=${k} (group ids known): round trips`,
            conditions: cond("group ids in api.cache"),
            target: `≤ ${maxRounds}`,
            value: warm.roundTrips,
            unit: "",
            pass: warm.roundTrips <= maxRounds,
          });
          const again = await run(h, person(n, k));
          figures.push({ scenario, metric: `unchanged repeat login k=${k}: requests`, conditions: cond("same user, same groups"), target: "0", value: again.requests, unit: "", pass: again.requests === 0 });
        }
        // adoption: the Catalog already has the person by userName, without externalId
        {
          const h = harness();
          await run(h, person(++n, 5));
          const e = person(++n, 5);
          await sb.seedUser({ userName: e.user.email, emails: [{ value: e.user.email, primary: true }], active: true });
          const adopt = await run(h, e);
          figures.push({ scenario, metric: "adoption login k=5: requests / round trips", conditions: cond("existing Catalog user, empty externalId"), value: `${adopt.requests} / ${adopt.roundTrips}`, unit: "" });
        }
        // CPU per login, in this process (the Catalog is another process): the unchanged path
        // makes no request at all; first logins include the HTTP client's own CPU
        {
          const h = harness();
          const iterations = options.quick ? 200 : 1000;
          const e = person(++n, 5);
          await run(h, e);
          const c0 = process.cpuUsage();
          for (let i = 0; i < iterations; i++) await run(h, e);
          const c = process.cpuUsage(c0);
          const perLogin = (c.user + c.system) / 1000 / iterations;
          figures.push({
            scenario,
            metric: "CPU per login, unchanged repeat (no request)",
            conditions: cond(`${iterations} iterations, harness overhead included`),
            target: "< 2 ms",
            value: +perLogin.toFixed(3),
            unit: "ms",
            pass: perLogin < 2,
          });
          const first = options.quick ? 50 : 200;
          let cpu = 0;
          let srv = 0;
          for (let i = 0; i < first; i++) {
            const ev = person(++n, 5);
            const s0 = await sb.stats();
            const c1 = process.cpuUsage();
            await run(h, ev);
            const d = process.cpuUsage(c1);
            const s1 = await sb.stats();
            cpu += (d.user + d.system) / 1000;
            srv += (s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system) / 1000;
          }
          figures.push({
            scenario,
            metric: "CPU per login, first login k=5 (client, over loopback, includes the HTTP client)",
            // for information: sockets and the HTTP client are the network the target excludes (its measure is the in-process row)
            conditions: cond(`${first} logins, includes the HTTP client's CPU and the sockets: reported, the < 2 ms target is measured in-process, network excluded`),
            value: +(cpu / first).toFixed(3),
            unit: "ms",
          });
          figures.push({ scenario, metric: "server CPU per first login k=5 (sandbox)", conditions: cond(`${first} logins`), value: +(srv / first).toFixed(3), unit: "ms" });
        }
        log(`action ${profile}: done`);
      } finally {
        await sb.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

/**
 * An in-process Catalog: a `fetch` that answers at once from memory with SCIM responses of the
 * shapes the sandbox returns (ListResponse for lookups, 201 User on create, 204 on group PATCH,
 * 200 Bulk, ServiceProviderConfig), so that a CPU figure holds only the Action and the harness.
 */
export function inMemoryCatalogFetch(options: { groups: string[]; bulk: boolean; baseUrl?: string }): typeof fetch {
  const base = options.baseUrl ?? "https://catalog.invalid/scim/v2";
  const origin = new URL(base).pathname;
  const groups = new Map<string, { id: string; displayName: string; members: Set<string> }>();
  options.groups.forEach((displayName, i) => {
    const id = `g-${String(i).padStart(4, "0")}`;
    groups.set(id, { id, displayName, members: new Set() });
  });
  const users = new Map<string, Record<string, unknown>>();
  const byExternalId = new Map<string, Record<string, unknown>>();
  const byUserName = new Map<string, Record<string, unknown>>();
  let seq = 0;
  const scim = "application/scim+json; charset=utf-8";
  const reply = (status: number, body?: unknown): Response =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: body === undefined ? {} : { "content-type": scim } });
  const list = (resources: unknown[]): unknown => ({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  });
  const groupOut = (g: { id: string; displayName: string }): unknown => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    id: g.id,
    displayName: g.displayName,
    meta: { resourceType: "Group", location: `${base}/Groups/${g.id}` },
  });
  const eqFilter = (f: string | null): { attr: string; value: string } | undefined => {
    const m = f ? /^(\w+(?:\[value)?)\s+eq\s+"((?:[^"\\]|\\.)*)"\]?$/i.exec(f.trim()) : null;
    return m ? { attr: m[1]!.toLowerCase(), value: JSON.parse(`"${m[2]!}"`) as string } : undefined;
  };
  const createUser = (data: Record<string, unknown>): Record<string, unknown> => {
    const id = `u-${++seq}`;
    const now = "2026-01-01T00:00:00.000Z";
    const user = { ...data, schemas: data["schemas"] ?? ["urn:ietf:params:scim:schemas:core:2.0:User"], id, meta: { resourceType: "User", created: now, lastModified: now, location: `${base}/Users/${id}`, version: 'W/"1"' } };
    users.set(id, user);
    if (typeof data["externalId"] === "string") byExternalId.set(data["externalId"], user);
    byUserName.set(String(data["userName"]).toLowerCase(), user);
    return user;
  };
  const patchGroup = (id: string, body: { Operations?: { op: string; path?: string; value?: { value: string }[] }[] }, userIds: Map<string, string>): number => {
    const g = groups.get(id);
    if (!g) return 404;
    for (const op of body.Operations ?? []) {
      if (op.op.toLowerCase() === "add") for (const v of op.value ?? []) g.members.add(userIds.get(v.value) ?? v.value);
      else if (op.op.toLowerCase() === "remove") {
        const m = op.path ? /value eq "([^"]*)"/.exec(op.path) : null;
        if (m) g.members.delete(m[1]!);
      }
    }
    return 204;
  };
  const spc = {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    patch: { supported: true },
    bulk: { supported: options.bulk, maxOperations: options.bulk ? 1000 : 0, maxPayloadSize: options.bulk ? 1048576 : 0 },
    filter: { supported: true, maxResults: 200 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [{ type: "oauthbearertoken", name: "OAuth Bearer Token", description: "API key as a Bearer token" }],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
  return async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? "GET").toUpperCase();
    const path = url.pathname.startsWith(origin) ? url.pathname.slice(origin.length) : url.pathname;
    const [, type, rawId] = path.split("/");
    const id = rawId !== undefined ? decodeURIComponent(rawId) : undefined;
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    if (type === "ServiceProviderConfig") return reply(200, spc);
    if (type === "Users") {
      if (method === "GET" && id === undefined) {
        const f = eqFilter(url.searchParams.get("filter"));
        const u = f?.attr === "externalid" ? byExternalId.get(f.value) : f?.attr === "username" ? byUserName.get(f.value.toLowerCase()) : undefined;
        return reply(200, list(u ? [u] : []));
      }
      if (method === "GET" && id !== undefined) return users.has(id) ? reply(200, users.get(id)) : reply(404, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" });
      if (method === "POST") return reply(201, createUser(body ?? {}));
      if (method === "PATCH" && id !== undefined) return users.has(id) ? reply(204) : reply(404, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" });
    }
    if (type === "Groups") {
      if (method === "GET" && id === undefined) {
        const f = eqFilter(url.searchParams.get("filter"));
        const all = [...groups.values()];
        const found = f?.attr === "displayname" ? all.filter((g) => g.displayName.toLowerCase() === f.value.toLowerCase()) : f?.attr === "members[value" ? all.filter((g) => g.members.has(f.value)) : [];
        return reply(200, list(found.map(groupOut)));
      }
      if (method === "PATCH" && id !== undefined) {
        const status = patchGroup(id, body ?? {}, new Map());
        return status === 204 ? reply(204) : reply(404, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" });
      }
    }
    if (type === "Bulk" && method === "POST" && options.bulk) {
      const ids = new Map<string, string>();
      const out = ((body?.["Operations"] as { method: string; bulkId?: string; path: string; data?: Record<string, unknown> }[]) ?? []).map((op) => {
        if (op.method === "POST" && op.path === "/Users") {
          const u = createUser(op.data ?? {});
          if (op.bulkId) ids.set(`bulkId:${op.bulkId}`, u["id"] as string);
          return { method: "POST", bulkId: op.bulkId, location: `${base}/Users/${String(u["id"])}`, status: "201", response: u };
        }
        const gid = op.path.split("/")[2] ?? "";
        return { method: op.method, location: `${base}/Groups/${gid}`, status: String(patchGroup(gid, op.data ?? {}, ids)) };
      });
      return reply(200, { schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], Operations: out });
    }
    return reply(404, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404", detail: `no route for ${method} ${path}` });
  };
}
