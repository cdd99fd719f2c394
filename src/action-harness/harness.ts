/**
 * A local Post-Login runtime: loads a **built** Action bundle (one CommonJS file) into a
 * `node:vm` context and runs `onExecutePostLogin` with an Auth0-shaped `event` and `api`.
 *
 * - the context has CommonJS `module`/`exports`, a `require` limited to Node built-ins, global
 *   `fetch` (recorded), `AbortSignal`, timers, `crypto`, and a captured `console`;
 * - `api.user.setAppMetadata`/`setUserMetadata` are batched and applied to the user store only
 *   at the end of a completed execution, like Auth0 (also after `api.access.deny`);
 * - `api.cache` keeps Auth0's limits and persists between runs (one trigger);
 * - an execution that does not finish within 20 s is abandoned as failed.
 *
 * Module-level state of the bundle survives between runs, as on an Auth0 instance.
 */
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { resolve } from "node:path";
import vm from "node:vm";
import { TriggerCache, type Clock } from "./cache.js";
import { recordingFetch, type RecordedRequest } from "./recording-fetch.js";

export const EXECUTION_LIMIT_MS = 20_000;
/** what Auth0 persists of an Action's console output */
export const PERSISTED_LOG_CHARS = 256;
const TRANSACTION_KEY_MAX = 64;
const TRANSACTION_VALUE_MAX = 8 * 1024;
const TRANSACTION_TOTAL_MAX = 16 * 1024;

const BUILTINS = new Set(builtinModules);
/** globals left to ordinary lookup: names a parameter cannot take, the CommonJS wrapper's own, and values that never change */
const UNBOUND_GLOBALS = new Set(["eval", "arguments", "undefined", "NaN", "Infinity", "exports", "require", "module", "__filename", "__dirname"]);

export interface HarnessTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HarnessOptions {
  /** the built bundle's path (default dist/actions/catalog-provisioning.js) */
  bundleFile?: string;
  /** the bundle's code, instead of a file */
  code?: string;
  /** the network under the recording wrapper (default: global fetch) */
  fetch?: typeof fetch;
  /** base URL that recorded paths are made relative to */
  baseUrl?: string;
  /** secrets merged into every event's `event.secrets` */
  secrets?: Record<string, string>;
  /** the cache's clock (expiry); default Date.now */
  clock?: Clock;
  /** timers for the execution limit; default the global ones */
  timers?: HarnessTimers;
  /** default 20 000 ms */
  limitMs?: number;
}

export type ApiCallName =
  | "access.deny"
  | "idToken.setCustomClaim"
  | "accessToken.setCustomClaim"
  | "accessToken.addScope"
  | "accessToken.removeScope"
  | "user.setAppMetadata"
  | "user.setUserMetadata"
  | "cache.get"
  | "cache.set"
  | "cache.delete"
  | "transaction.setMetadata"
  | "multifactor.enable"
  | "redirect.sendUserTo";

export interface ApiCall {
  name: ApiCallName;
  args: unknown[];
  /** what the call returned (cache calls) */
  result?: unknown;
}

export interface StoredUser {
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
}

export interface RunResult {
  /** `failed`: the Action threw or exceeded the limit; Auth0 would fail the login */
  outcome: "success" | "denied" | "failed";
  failure?: "timeout" | "error";
  /** the thrown error's message (outcome "failed", failure "error") */
  error?: string;
  deniedReason?: string;
  calls: ApiCall[];
  claims: { idToken: Record<string, unknown>; accessToken: Record<string, unknown> };
  transactionMetadata: Record<string, unknown>;
  /** the user's app_metadata after the batched writes (unchanged when the execution failed) */
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  requests: RecordedRequest[];
  /** every console line, in full */
  logs: string[];
  /** what Auth0 would persist: the first 256 characters of the console output */
  persistedLog: string;
  durationMs: number;
}

/** Input event: anything missing gets a plausible default. */
export type HarnessEvent = Record<string, unknown> & {
  user: Record<string, unknown> & { user_id: string };
};

type AnyFn = (...args: unknown[]) => unknown;

interface RunContext {
  calls: ApiCall[];
  logs: string[];
  timers: Set<{ kind: "timeout" | "interval" | "immediate"; handle: unknown }>;
  /** one controller per request in flight, aborted when the execution is abandoned */
  inFlight: Set<AbortController>;
}

const INNER_BOOTSTRAP = `(function (hostFetch) {
  // errors and JSON bodies from the host realm are re-created in this realm, so that the
  // bundle's own instanceof checks behave as they do on Auth0
  return async function fetch(input, init) {
    let res;
    try {
      res = await hostFetch(input, init);
    } catch (e) {
      const name = e && e.name ? String(e.name) : "Error";
      const err = name === "TypeError" ? new TypeError(e && e.message) : new Error(e && e.message);
      if (name !== "TypeError") err.name = name;
      if (e && e.cause !== undefined) err.cause = e.cause;
      if (e && e.code !== undefined) err.code = e.code;
      throw err;
    }
    const text = res.text.bind(res);
    res.json = async () => JSON.parse(await text());
    return res;
  };
})`;

export class ActionHarness {
  readonly cache: TriggerCache;
  /** user_id → stored metadata, kept between runs */
  readonly users = new Map<string, StoredUser>();
  private readonly code: string;
  private readonly filename: string;
  private readonly options: HarnessOptions;
  private readonly recorder;
  private readonly limitTimers: HarnessTimers;
  private current: RunContext | undefined;
  private module: { exports: Record<string, unknown> } | undefined;
  /** `JSON.parse` of the context (objects of its realm), compiled once */
  private parseInContext: ((text: string) => unknown) | undefined;
  /** console lines written outside a run (while the bundle loads) */
  readonly loadLogs: string[] = [];

  constructor(options: HarnessOptions = {}) {
    this.options = options;
    this.filename = resolve(options.bundleFile ?? "dist/actions/catalog-provisioning.js");
    this.code = options.code ?? readFileSync(this.filename, "utf8");
    this.cache = new TriggerCache(options.clock);
    this.recorder = recordingFetch(options.fetch ?? globalThis.fetch, options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {});
    this.limitTimers = options.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
  }

  /** Loads the bundle (once) and returns its exports. @throws when it does not load */
  load(): Record<string, unknown> {
    if (this.module) return this.module.exports;
    const context = this.createContext();
    // The context's globals are bound once, as closure variables around the CommonJS wrapper:
    // in a `node:vm` context every free global lookup (`Math`, `JSON`, `fetch`, …) otherwise
    // goes through the context's property interceptor, about 0.2 µs each, a cost of the
    // harness that an Action does not have on Auth0. The values are this context's own.
    const names = (vm.runInContext("Object.getOwnPropertyNames(globalThis)", context) as string[]).filter(
      (n) => /^[A-Za-z_$][\w$]*$/.test(n) && !UNBOUND_GLOBALS.has(n),
    );
    const values = vm.runInContext("(names) => names.map((n) => globalThis[n])", context) as (n: string[]) => unknown[];
    const outer = vm.runInContext(
      `(function (${names.join(", ")}) { return function (exports, require, module, __filename, __dirname) {${this.code}\n} })`,
      context,
      { filename: this.filename },
    ) as AnyFn;
    const wrapper = outer(...values(names)) as AnyFn;
    const mod = vm.runInContext("({ exports: {} })", context) as { exports: Record<string, unknown> };
    wrapper(mod.exports, this.restrictedRequire, mod, this.filename, resolve(this.filename, ".."));
    if (typeof mod.exports["onExecutePostLogin"] !== "function") throw new Error(`bundle "${this.filename}" does not export "onExecutePostLogin"`);
    this.module = mod;
    this.parseInContext = vm.runInContext("(text) => JSON.parse(text)", context) as (text: string) => unknown;
    return mod.exports;
  }

  /** Forget the cache's entries (the stored users stay). */
  clearCache(): void {
    this.cache.clear();
  }

  /** Run one login. Never throws for what the Action does; throws only when the bundle does not load. */
  async run(input: HarnessEvent): Promise<RunResult> {
    const exports = this.load();
    const userId = input.user.user_id;
    const stored = this.users.get(userId) ?? {
      app_metadata: structuredClone((input.user.app_metadata as Record<string, unknown> | undefined) ?? {}),
      user_metadata: structuredClone((input.user.user_metadata as Record<string, unknown> | undefined) ?? {}),
    };
    const event = this.completeEvent(input, stored);
    const run: RunContext = { calls: [], logs: [], timers: new Set(), inFlight: new Set() };
    this.current = run;
    this.recorder.clear();

    const claims = { idToken: {} as Record<string, unknown>, accessToken: {} as Record<string, unknown> };
    const transactionMetadata: Record<string, unknown> = {};
    const appChanges = new Map<string, unknown>();
    const userChanges = new Map<string, unknown>();
    let deniedReason: string | undefined;
    const record = (name: ApiCallName, args: unknown[], result?: unknown): void => {
      run.calls.push(result === undefined ? { name, args: structuredCloneSafe(args) } : { name, args: structuredCloneSafe(args), result });
    };

    const api = {
      access: {
        deny: (reason: unknown) => {
          record("access.deny", [reason]);
          deniedReason ??= String(reason);
          return api;
        },
      },
      idToken: {
        setCustomClaim: (key: unknown, value: unknown) => {
          record("idToken.setCustomClaim", [key, value]);
          claims.idToken[String(key)] = structuredCloneSafe(value);
          return api;
        },
      },
      accessToken: {
        setCustomClaim: (key: unknown, value: unknown) => {
          record("accessToken.setCustomClaim", [key, value]);
          claims.accessToken[String(key)] = structuredCloneSafe(value);
          return api;
        },
        addScope: (scope: unknown) => {
          record("accessToken.addScope", [scope]);
          return api;
        },
        removeScope: (scope: unknown) => {
          record("accessToken.removeScope", [scope]);
          return api;
        },
      },
      user: {
        setAppMetadata: (key: unknown, value: unknown) => {
          record("user.setAppMetadata", [key, value]);
          appChanges.set(String(key), structuredCloneSafe(value));
          return api;
        },
        setUserMetadata: (key: unknown, value: unknown) => {
          record("user.setUserMetadata", [key, value]);
          userChanges.set(String(key), structuredCloneSafe(value));
          return api;
        },
      },
      cache: {
        get: (key: unknown) => {
          const r = this.cache.get(key as string);
          record("cache.get", [key], r ?? null);
          return r;
        },
        set: (key: unknown, value: unknown, options?: { ttl?: number; expires_at?: number }) => {
          const r = this.cache.set(key as string, value as string, options);
          record("cache.set", options === undefined ? [key, value] : [key, value, options], r);
          return r;
        },
        delete: (key: unknown) => {
          const r = this.cache.delete(key as string);
          record("cache.delete", [key], r);
          return r;
        },
      },
      transaction: {
        setMetadata: (key: unknown, value: unknown) => {
          record("transaction.setMetadata", [key, value]);
          const k = String(key);
          const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? "", "utf8");
          if (k.length > TRANSACTION_KEY_MAX) throw new Error(`transaction metadata key "${k.slice(0, 16)}…" is over ${TRANSACTION_KEY_MAX} characters`);
          if (size(value) > TRANSACTION_VALUE_MAX) throw new Error(`transaction metadata value for "${k}" is over ${TRANSACTION_VALUE_MAX} bytes`);
          const next = { ...transactionMetadata, [k]: value };
          if (size(next) > TRANSACTION_TOTAL_MAX) throw new Error(`transaction metadata is over ${TRANSACTION_TOTAL_MAX} bytes in all`);
          transactionMetadata[k] = structuredCloneSafe(value);
          return api;
        },
      },
      multifactor: {
        enable: (...args: unknown[]) => {
          record("multifactor.enable", args);
          return api;
        },
      },
      redirect: {
        sendUserTo: (...args: unknown[]) => {
          record("redirect.sendUserTo", args);
          return api;
        },
      },
    };

    const innerEvent = this.parseInContext!(JSON.stringify(event));
    const started = this.now();
    let limitHandle: unknown;
    const limit = new Promise<"timeout">((res) => {
      limitHandle = this.limitTimers.setTimeout(() => res("timeout"), this.options.limitMs ?? EXECUTION_LIMIT_MS);
    });
    let outcome: RunResult["outcome"] = "success";
    let failure: RunResult["failure"];
    let error: string | undefined;
    try {
      const execution = Promise.resolve()
        .then(() => (exports["onExecutePostLogin"] as AnyFn)(innerEvent, api))
        .then(() => "done" as const);
      const settled = await Promise.race([execution, limit]);
      if (settled === "timeout") {
        outcome = "failed";
        failure = "timeout";
        error = `the action did not finish within ${this.options.limitMs ?? EXECUTION_LIMIT_MS} ms`;
        execution.catch(() => undefined);
      }
    } catch (e) {
      outcome = "failed";
      failure = "error";
      error = e instanceof Error || (e && typeof e === "object" && "message" in e) ? String((e as Error).message) : String(e);
    } finally {
      this.limitTimers.clearTimeout(limitHandle);
      if (failure === "timeout") this.abandon(run);
      this.current = undefined;
    }

    if (outcome !== "failed") {
      // batched: applied once, at the end of the execution (kept after a deny, as on Auth0)
      for (const [k, v] of appChanges) v === null ? delete stored.app_metadata[k] : (stored.app_metadata[k] = v);
      for (const [k, v] of userChanges) v === null ? delete stored.user_metadata[k] : (stored.user_metadata[k] = v);
      this.users.set(userId, stored);
      if (deniedReason !== undefined) outcome = "denied";
    }
    const logs = [...run.logs];
    return {
      outcome,
      ...(failure ? { failure } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(deniedReason !== undefined ? { deniedReason } : {}),
      calls: run.calls,
      claims,
      transactionMetadata,
      appMetadata: structuredClone(stored.app_metadata),
      userMetadata: structuredClone(stored.user_metadata),
      requests: this.recorder.requests.map((r) => ({ ...r })),
      logs,
      persistedLog: logs.join("\n").slice(0, PERSISTED_LOG_CHARS),
      durationMs: Math.max(0, Math.round(this.now() - started)),
    };
  }

  private now(): number {
    return this.options.clock ? this.options.clock.now() : performance.now();
  }

  /** stop what an abandoned execution left behind: its timers and its requests */
  private abandon(run: RunContext): void {
    const reason = new Error("the execution was abandoned");
    for (const c of run.inFlight) c.abort(reason);
    run.inFlight.clear();
    for (const t of run.timers) {
      if (t.kind === "interval") clearInterval(t.handle as ReturnType<typeof setInterval>);
      else if (t.kind === "immediate") clearImmediate(t.handle as ReturnType<typeof setImmediate>);
      else clearTimeout(t.handle as ReturnType<typeof setTimeout>);
    }
    run.timers.clear();
  }

  private completeEvent(input: HarnessEvent, stored: StoredUser): Record<string, unknown> {
    const connection = (input.connection as Record<string, unknown> | undefined) ?? { id: "con_local", name: "local", strategy: "samlp" };
    return {
      ...input,
      user: {
        created_at: "2026-01-01T00:00:00.000Z",
        updated_at: "2026-01-01T00:00:00.000Z",
        email_verified: true,
        identities: [],
        ...input.user,
        app_metadata: structuredClone(stored.app_metadata),
        user_metadata: structuredClone(stored.user_metadata),
      },
      connection: { metadata: {}, ...connection },
      client: { client_id: "local-client", name: "Local application", metadata: {}, ...((input.client as object | undefined) ?? {}) },
      transaction: { id: "local-transaction", protocol: "oidc-basic-profile", ...((input.transaction as object | undefined) ?? {}) },
      request: { ip: "127.0.0.1", method: "GET", query: {}, body: {}, geoip: {}, ...((input.request as object | undefined) ?? {}) },
      tenant: { id: "local", ...((input.tenant as object | undefined) ?? {}) },
      stats: { logins_count: 1, ...((input.stats as object | undefined) ?? {}) },
      secrets: { ...((input.secrets as Record<string, string> | undefined) ?? {}), ...(this.options.secrets ?? {}) },
    };
  }

  private readonly restrictedRequire = (name: string): unknown => {
    const bare = typeof name === "string" && name.startsWith("node:") ? name.slice(5) : name;
    if (typeof bare !== "string" || !BUILTINS.has(bare)) {
      throw new Error(`cannot require "${String(name)}": only Node built-ins are available to an action`);
    }
    return process.getBuiltinModule(name);
  };

  private createContext(): vm.Context {
    const hostFetch: typeof fetch = (input, init) => {
      const run = this.current;
      if (!run) return this.recorder.fetch(input, init);
      // the Action's own signal, followed by a controller the harness aborts when it abandons
      // the execution (a listener, not AbortSignal.any: that costs about 25 µs per request)
      const controller = new AbortController();
      const own = init?.signal ?? undefined;
      const follow = (): void => controller.abort(own!.reason);
      if (own?.aborted) controller.abort(own.reason);
      else own?.addEventListener("abort", follow, { once: true });
      run.inFlight.add(controller);
      const done = (): void => {
        run.inFlight.delete(controller);
        own?.removeEventListener("abort", follow);
      };
      const res = this.recorder.fetch(input, { ...init, signal: controller.signal });
      res.then(done, done);
      return res;
    };
    const track = (kind: "timeout" | "interval" | "immediate", handle: unknown): unknown => {
      const run = this.current;
      if (run) run.timers.add({ kind, handle });
      return handle;
    };
    const line = (...args: unknown[]): void => {
      const text = args.map((a) => (typeof a === "string" ? a : safeInspect(a))).join(" ");
      (this.current?.logs ?? this.loadLogs).push(text);
    };
    const console = { log: line, info: line, warn: line, error: line, debug: line, trace: line };
    const sandbox: Record<string, unknown> = {
      console,
      AbortController,
      AbortSignal,
      DOMException,
      Headers,
      Request,
      Response,
      FormData,
      Blob,
      URL,
      URLSearchParams,
      TextEncoder,
      TextDecoder,
      Buffer,
      crypto: globalThis.crypto,
      performance,
      structuredClone,
      atob,
      btoa,
      queueMicrotask,
      setTimeout: (fn: AnyFn, ms?: number, ...a: unknown[]) => track("timeout", setTimeout(fn, ms, ...a)),
      clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
      setInterval: (fn: AnyFn, ms?: number, ...a: unknown[]) => track("interval", setInterval(fn, ms, ...a)),
      clearInterval: (h: unknown) => clearInterval(h as ReturnType<typeof setInterval>),
      setImmediate: (fn: AnyFn, ...a: unknown[]) => track("immediate", setImmediate(fn, ...a)),
      clearImmediate: (h: unknown) => clearImmediate(h as ReturnType<typeof setImmediate>),
      process: { env: {}, version: process.version, versions: process.versions, platform: process.platform, nextTick: process.nextTick, hrtime: process.hrtime },
    };
    const context = vm.createContext(sandbox, { name: "post-login action" });
    const makeFetch = vm.runInContext(INNER_BOOTSTRAP, context) as (f: typeof fetch) => typeof fetch;
    sandbox["fetch"] = makeFetch(hostFetch);
    vm.runInContext("globalThis.global = globalThis;", context);
    return context;
  }
}

function safeInspect(v: unknown): string {
  if (v instanceof Error || (v && typeof v === "object" && "stack" in v && "message" in v)) return String((v as Error).stack ?? (v as Error).message);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function structuredCloneSafe<T>(v: T): T {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}
