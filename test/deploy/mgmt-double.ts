/**
 * A local Auth0 Management API double (node:http on 127.0.0.1) that behaves as Auth0
 * documents for Actions: client-credentials tokens, paged lists that end on an empty page,
 * PATCH rejecting unknown properties and replacing the whole secrets list, write-only secret
 * values, asynchronous builds (advanced per poll), 400 on a deploy before `built`, versions
 * with the 50-version cap, whole-list trigger bindings, and 429 with `Retry-After` on demand.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export const BUILD_FAIL_MARKER = "__DOUBLE_BUILD_FAILS__";
export const VERSION_CAP = 50;

interface Secret {
  name: string;
  value: string;
  updated_at: string;
}
interface Version {
  id: string;
  action_id: string;
  number: number;
  code: string;
  dependencies: unknown[];
  runtime: string;
  secrets: { name: string; updated_at: string }[];
  supported_triggers: unknown[];
  status: "built";
  deployed: boolean;
  created_at: string;
  built_at: string;
  updated_at: string;
}
interface ActionRecord {
  id: string;
  name: string;
  supported_triggers: unknown[];
  code: string;
  dependencies: unknown[];
  runtime: string;
  secrets: Secret[];
  status: "pending" | "building" | "built" | "failed";
  pollsToBuild: number;
  created_at: string;
  updated_at: string;
  built_at?: string;
  versions: Version[];
  deployedVersionId?: string;
  nextNumber: number;
}
interface Binding {
  id: string;
  trigger_id: string;
  display_name: string;
  actionId: string;
  created_at: string;
  updated_at: string;
}
export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
}
interface Fault {
  method: string;
  path: RegExp;
  status: number;
  retryAfter?: number;
  times: number;
}

const CREATE_KEYS = new Set(["name", "supported_triggers", "code", "dependencies", "runtime", "secrets", "modules", "deploy"]);
const UPDATE_KEYS = new Set(["name", "supported_triggers", "code", "dependencies", "runtime", "secrets", "modules"]);

export interface MgmtDoubleOptions {
  domain?: string;
  clientId?: string;
  clientSecret?: string;
  /** GET polls a draft stays `pending`/`building` before it is built */
  pollsToBuild?: number;
}

export class MgmtDouble {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: LoggedRequest[] = [];
  readonly actions = new Map<string, ActionRecord>();
  readonly bindings = new Map<string, Binding[]>();
  private server?: Server;
  private port = 0;
  private seq = 0;
  private clock = Date.parse("2026-01-01T00:00:00.000Z");
  private readonly tokens = new Set<string>();
  private readonly faults: Fault[] = [];
  private readonly pollsToBuild: number;

  constructor(options: MgmtDoubleOptions = {}) {
    this.domain = options.domain ?? "tenant.test";
    this.clientId = options.clientId ?? "deploy-client";
    this.clientSecret = options.clientSecret ?? "deploy-client-secret";
    this.pollsToBuild = options.pollsToBuild ?? 2;
  }

  private tls = false;

  /** `tls` serves HTTPS (for a CLI run in a child process with NODE_EXTRA_CA_CERTS) */
  async start(options: { tls?: { key: string; cert: string } } = {}): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    };
    this.tls = options.tls !== undefined;
    this.server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createServer(handler);
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  get baseUrl(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** `AUTH0_DOMAIN` for a client that talks to this double directly over HTTPS */
  get hostWithPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** a `fetch` that sends `https://<domain>` to this double */
  readonly fetch: typeof fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return fetch(url.replace(`https://${this.domain}`, this.baseUrl), init);
  };

  /** write requests (anything but GET) to /api/v2 */
  get writes(): LoggedRequest[] {
    return this.requests.filter((r) => r.method !== "GET" && r.path.startsWith("/api/v2"));
  }

  resetLog(): void {
    this.requests.length = 0;
  }

  /** answer the next `times` matching requests with `status` (429 carries `Retry-After`) */
  fail(method: string, path: RegExp, status: number, options: { retryAfter?: number; times?: number } = {}): void {
    this.faults.push({ method, path, status, times: options.times ?? 1, ...(options.retryAfter !== undefined ? { retryAfter: options.retryAfter } : {}) });
  }

  /** an admin edits a secret value in the dashboard: only `updated_at` changes visibly */
  editSecretInDashboard(actionName: string, secretName: string, value = "edited-in-dashboard"): void {
    const a = this.byName(actionName);
    const existing = a.secrets.find((s) => s.name === secretName);
    if (existing) {
      existing.value = value;
      existing.updated_at = this.now();
    } else a.secrets.push({ name: secretName, value, updated_at: this.now() });
  }

  /** bind an action that this project does not manage (someone else's) */
  seedForeignAction(name: string, trigger = "post-login"): string {
    const a = this.createRecord({ name, supported_triggers: [{ id: trigger, version: "v3" }], code: "exports.onExecutePostLogin = async () => {};\n" });
    a.status = "built";
    this.deployRecord(a);
    const list = this.bindings.get(trigger) ?? [];
    list.push({ id: `bnd_${++this.seq}`, trigger_id: trigger, display_name: name, actionId: a.id, created_at: this.now(), updated_at: this.now() });
    this.bindings.set(trigger, list);
    return a.id;
  }

  byName(name: string): ActionRecord {
    const a = [...this.actions.values()].find((x) => x.name === name);
    if (!a) throw new Error(`no action "${name}" in the double`);
    return a;
  }

  secretValue(actionName: string, secretName: string): string | undefined {
    return this.byName(actionName).secrets.find((s) => s.name === secretName)?.value;
  }

  boundActionNames(trigger = "post-login"): string[] {
    return (this.bindings.get(trigger) ?? []).map((b) => this.actions.get(b.actionId)?.name ?? "?");
  }

  private now(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private createRecord(body: Record<string, unknown>): ActionRecord {
    const t = this.now();
    const a: ActionRecord = {
      id: `act_${++this.seq}`,
      name: String(body.name),
      supported_triggers: (body.supported_triggers as unknown[]) ?? [],
      code: (body.code as string) ?? "",
      dependencies: (body.dependencies as unknown[]) ?? [],
      runtime: (body.runtime as string) ?? "node22",
      secrets: ((body.secrets as { name: string; value: string }[]) ?? []).map((s) => ({ name: s.name, value: s.value, updated_at: t })),
      status: "pending",
      pollsToBuild: this.pollsToBuild,
      created_at: t,
      updated_at: t,
      versions: [],
      nextNumber: 1,
    };
    this.actions.set(a.id, a);
    return a;
  }

  private deployRecord(a: ActionRecord, from?: Version): Version {
    const t = this.now();
    for (const v of a.versions) v.deployed = false;
    const v: Version = {
      id: `ver_${++this.seq}`,
      action_id: a.id,
      number: a.nextNumber++,
      code: from?.code ?? a.code,
      dependencies: from?.dependencies ?? a.dependencies,
      runtime: from?.runtime ?? a.runtime,
      secrets: from?.secrets ?? a.secrets.map((s) => ({ name: s.name, updated_at: s.updated_at })),
      supported_triggers: a.supported_triggers,
      status: "built",
      deployed: true,
      created_at: t,
      built_at: t,
      updated_at: t,
    };
    a.versions.push(v);
    a.deployedVersionId = v.id;
    // the 50-version cap: the oldest version that is not deployed goes
    while (a.versions.length > VERSION_CAP) {
      const oldest = a.versions.findIndex((x) => !x.deployed);
      a.versions.splice(oldest, 1);
    }
    return v;
  }

  private actionJson(a: ActionRecord): Record<string, unknown> {
    const deployed = a.versions.find((v) => v.id === a.deployedVersionId);
    const out: Record<string, unknown> = {
      id: a.id,
      name: a.name,
      supported_triggers: a.supported_triggers,
      code: a.code,
      dependencies: a.dependencies,
      runtime: a.runtime,
      secrets: a.secrets.map((s) => ({ name: s.name, updated_at: s.updated_at })),
      status: a.status,
      created_at: a.created_at,
      updated_at: a.updated_at,
      all_changes_deployed: deployed !== undefined && deployed.code === a.code && a.status === "built",
    };
    if (a.built_at) out.built_at = a.built_at;
    if (deployed) out.deployed_version = this.versionJson(deployed);
    if (a.status === "failed") out.errors = [{ id: "build_error", msg: `cannot compile: unexpected token near "${BUILD_FAIL_MARKER}"` }];
    return out;
  }

  private versionJson(v: Version): Record<string, unknown> {
    return { ...v, secrets: v.secrets.map((s) => ({ ...s })) };
  }

  private advanceBuild(a: ActionRecord): void {
    if (a.status === "built" || a.status === "failed") return;
    if (a.pollsToBuild > 0) {
      a.pollsToBuild--;
      a.status = "building";
      return;
    }
    if (a.code.includes(BUILD_FAIL_MARKER)) a.status = "failed";
    else {
      a.status = "built";
      a.built_at = this.now();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path: url.pathname, status });
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    const fault = this.faults.find((f) => f.times > 0 && f.method === method && f.path.test(url.pathname));
    if (fault) {
      fault.times--;
      send(fault.status, { statusCode: fault.status, error: fault.status === 429 ? "Too Many Requests" : "Error", message: "fault injected" }, fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {});
      return;
    }
    try {
      if (url.pathname === "/oauth/token" && method === "POST") {
        const form = new URLSearchParams(raw);
        const json = raw.trim().startsWith("{") ? (JSON.parse(raw) as Record<string, string>) : Object.fromEntries(form);
        if (json.grant_type !== "client_credentials" || json.client_id !== this.clientId || json.client_secret !== this.clientSecret) {
          send(401, { error: "access_denied", error_description: "Unauthorized" });
          return;
        }
        const token = `tok_${++this.seq}`;
        this.tokens.add(token);
        send(200, { access_token: token, token_type: "Bearer", expires_in: 86400, scope: "read:actions create:actions update:actions" });
        return;
      }
      if (!url.pathname.startsWith("/api/v2/")) return send(404, { statusCode: 404, message: "not found" });
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ") || !this.tokens.has(auth.slice(7))) return send(401, { statusCode: 401, error: "Unauthorized", message: "invalid token" });
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      this.route(method, url, body, send);
    } catch (e) {
      send(500, { statusCode: 500, message: String(e) });
    }
  }

  private route(method: string, url: URL, body: Record<string, unknown>, send: (s: number, b: unknown) => void): void {
    const p = url.pathname.replace(/^\/api\/v2/, "").split("/").filter(Boolean);
    const page = Number(url.searchParams.get("page") ?? "0");
    const perPage = Number(url.searchParams.get("per_page") ?? "20");
    const paged = <T>(items: T[]) => items.slice(page * perPage, page * perPage + perPage);
    const bad = (message: string) => send(400, { statusCode: 400, error: "Bad Request", message, errorCode: "invalid_body" });
    const notFound = () => send(404, { statusCode: 404, error: "Not Found", message: "That action does not exist." });

    if (p[0] === "actions" && p[1] === "actions") {
      if (p.length === 2 && method === "GET") {
        let list = [...this.actions.values()];
        const name = url.searchParams.get("actionName");
        if (name) list = list.filter((a) => a.name === name);
        const items = paged(list).map((a) => this.actionJson(a));
        return send(200, { actions: items, total: list.length, page, per_page: perPage });
      }
      if (p.length === 2 && method === "POST") {
        const unknown = Object.keys(body).filter((k) => !CREATE_KEYS.has(k));
        if (unknown.length) return bad(`Payload validation error: 'Additional properties not allowed: ${unknown.join(",")}'.`);
        if (typeof body.name !== "string" || !Array.isArray(body.supported_triggers)) return bad("Payload validation error: 'Missing required property: name'.");
        if ([...this.actions.values()].some((a) => a.name === body.name)) return send(409, { statusCode: 409, message: "An action with this name already exists." });
        return send(201, this.actionJson(this.createRecord(body)));
      }
      const a = this.actions.get(p[2] ?? "");
      if (!a) return notFound();
      if (p.length === 3 && method === "GET") {
        this.advanceBuild(a);
        return send(200, this.actionJson(a));
      }
      if (p.length === 3 && method === "PATCH") {
        const unknown = Object.keys(body).filter((k) => !UPDATE_KEYS.has(k));
        if (unknown.length) return bad(`Payload validation error: 'Additional properties not allowed: ${unknown.join(",")}'.`);
        const t = this.now();
        if (typeof body.code === "string") a.code = body.code;
        if (Array.isArray(body.dependencies)) a.dependencies = body.dependencies;
        if (typeof body.runtime === "string") a.runtime = body.runtime;
        if (Array.isArray(body.supported_triggers)) a.supported_triggers = body.supported_triggers;
        if (Array.isArray(body.secrets)) {
          // the whole list is replaced
          a.secrets = (body.secrets as { name: string; value?: string }[]).map((s) => ({
            name: s.name,
            value: s.value ?? a.secrets.find((x) => x.name === s.name)?.value ?? "",
            updated_at: t,
          }));
        }
        a.updated_at = t;
        a.status = "pending";
        a.pollsToBuild = this.pollsToBuild;
        delete a.built_at;
        return send(200, this.actionJson(a));
      }
      if (p.length === 4 && p[3] === "deploy" && method === "POST") {
        if (a.status !== "built") return bad("A draft must be in the 'built' state before it can be deployed");
        return send(200, this.versionJson(this.deployRecord(a)));
      }
      if (p[3] === "versions") {
        const newestFirst = [...a.versions].reverse();
        if (p.length === 4 && method === "GET") {
          return send(200, { versions: paged(newestFirst).map((v) => this.versionJson(v)), total: newestFirst.length, page, per_page: perPage });
        }
        const v = a.versions.find((x) => x.id === p[4]);
        if (!v) return send(404, { statusCode: 404, message: "That version does not exist." });
        if (p.length === 5 && method === "GET") return send(200, this.versionJson(v));
        if (p.length === 6 && p[5] === "deploy" && method === "POST") {
          const nv = this.deployRecord(a, v);
          if (body.update_draft === true) {
            a.code = v.code;
            a.dependencies = v.dependencies;
            a.runtime = v.runtime;
            a.status = "built";
            a.updated_at = this.now();
          }
          return send(200, this.versionJson(nv));
        }
      }
      return notFound();
    }

    if (p[0] === "actions" && p[1] === "triggers" && p[3] === "bindings") {
      const trigger = p[2]!;
      const list = this.bindings.get(trigger) ?? [];
      const bindingJson = (b: Binding) => {
        const a = this.actions.get(b.actionId)!;
        return { id: b.id, trigger_id: b.trigger_id, display_name: b.display_name, created_at: b.created_at, updated_at: b.updated_at, action: this.actionJson(a) };
      };
      if (method === "GET") return send(200, { bindings: paged(list).map(bindingJson), total: list.length, page, per_page: perPage });
      if (method === "PATCH") {
        const unknown = Object.keys(body).filter((k) => k !== "bindings");
        if (unknown.length || !Array.isArray(body.bindings)) return bad("Payload validation error: 'bindings' is required");
        const next: Binding[] = [];
        for (const item of body.bindings as { ref?: { type?: string; value?: string }; display_name?: string }[]) {
          const ref = item.ref ?? {};
          const t = this.now();
          if (ref.type === "binding_id") {
            const existing = list.find((b) => b.id === ref.value);
            if (!existing) return bad(`binding "${ref.value}" does not exist`);
            next.push({ ...existing, display_name: item.display_name ?? existing.display_name, updated_at: t });
            continue;
          }
          const action = ref.type === "action_id" ? this.actions.get(ref.value ?? "") : ref.type === "action_name" ? [...this.actions.values()].find((a) => a.name === ref.value) : undefined;
          if (!action) return bad(`That action does not exist: ${ref.type} "${ref.value}"`);
          if (!action.deployedVersionId) return bad("Trying to create a binding for an action that has not been deployed");
          const existing = list.find((b) => b.actionId === action.id);
          next.push(existing ? { ...existing, display_name: item.display_name ?? existing.display_name, updated_at: t } : { id: `bnd_${++this.seq}`, trigger_id: trigger, display_name: item.display_name ?? action.name, actionId: action.id, created_at: t, updated_at: t });
        }
        if (next.length > 20) return bad("a trigger may have at most 20 bindings");
        this.bindings.set(trigger, next);
        return send(200, { bindings: next.map(bindingJson) });
      }
    }
    return notFound();
  }
}
