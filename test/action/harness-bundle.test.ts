/**
 * The built Action bundle, loaded by the local harness (node:vm), against the sandbox in both
 * profiles, with faults. The bundles are built by the same code as `npm run build`, with the
 * demo config (whose mapping fits examples/events/) and variants of its login policy.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionHarness, type HarnessEvent, type RunResult } from "../../src/action-harness/index.js";
import { compileActionConfig, type ActionConfig } from "../../src/config/action-config.js";
import { loadProvisioningConfig } from "../../src/config/load.js";
import { buildActionBundle, checkBundle } from "../../src/deploy/bundle.js";
import { catalogSecrets, useSandbox } from "../helpers/use-sandbox.js";

const GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "harness-bundle-"));
const bundles: Record<"base" | "slow" | "closed", string> = { base: "", slow: "", closed: "" };
const CLOSED_REASON = "access to the data catalog could not be prepared, please try again";

function event(name: string, patch: (e: HarnessEvent) => void = () => {}): HarnessEvent {
  const e = JSON.parse(readFileSync(join(root, "examples/events", name), "utf8")) as HarnessEvent;
  patch(e);
  return e;
}

/** a fresh person on the Entra (waad) connection with the given group names */
function entraUser(n: number, groups: string[]): HarnessEvent {
  return event("entra-waad.json", (e) => {
    e.user.user_id = `waad|contoso-entra|person-${n}`;
    e.user.email = `person-${n}@contoso.example`;
    e.user["oid"] = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
    e.user["groups"] = groups;
    (e.user["identities"] as { user_id: string }[])[0]!.user_id = `person-${n}`;
  });
}

beforeAll(async () => {
  const base = compileActionConfig(loadProvisioningConfig({ file: join(root, "examples/demo-provisioning.yaml") }));
  const variant = (f: (c: ActionConfig) => void): ActionConfig => {
    const c = structuredClone(base);
    f(c);
    return c;
  };
  const configs: Record<keyof typeof bundles, ActionConfig> = {
    base,
    slow: variant((c) => {
      c.login.budgetMs = 700;
      c.login.requestTimeoutMs = 500;
    }),
    closed: variant((c) => {
      c.login.fail = "closed";
      c.login.clients = ["catalog-web-app"];
    }),
  };
  for (const [name, config] of Object.entries(configs)) {
    const b = await buildActionBundle({ config });
    const file = join(dir, `${name}.js`);
    writeFileSync(file, b.code);
    bundles[name as keyof typeof bundles] = file;
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the shipped bundle", () => {
  it("loads in the harness and exports onExecutePostLogin, requiring only Node built-ins", async () => {
    const file = join(root, "dist/actions/catalog-provisioning.js");
    const code = existsSync(file) ? readFileSync(file, "utf8") : (await buildActionBundle()).code;
    expect(checkBundle(code).problems.filter((p) => /require|export|load/.test(p))).toEqual([]);
    const h = new ActionHarness({ code, bundleFile: file });
    expect(typeof h.load()["onExecutePostLogin"]).toBe("function");
    // a database login is not an enterprise login: nothing happens, no request, no error
    const r = await h.run({ user: { user_id: "auth0|1", email: "a@b.example" }, connection: { id: "c", name: "Username-Password-Authentication", strategy: "auth0" } });
    expect(r.outcome).toBe("success");
    expect(r.requests).toEqual([]);
  });
});

for (const profile of ["full", "minimal"] as const) {
  describe(`the built bundle through the harness, against the sandbox (${profile} profile)`, () => {
    const sb = useSandbox({ profile, groups: GROUPS });
    let secrets: Record<string, string>;
    const harness = (bundle: keyof typeof bundles = "base") => new ActionHarness({ bundleFile: bundles[bundle], secrets, baseUrl: sb.baseUrl });

    beforeAll(() => {
      secrets = catalogSecrets(sb);
    });

    const ok = (r: RunResult) => {
      expect(r.outcome).toBe("success");
      expect(r.persistedLog).not.toContain(sb.apiKey);
      return r;
    };

    it("a first login with k mapped groups uses at most k + 2 requests once group ids are known", async () => {
      const h = harness();
      ok(await h.run(entraUser(1, ["data-platform-engineers", "analysts-finance"]))); // resolves the two group ids into api.cache
      const k = 2;
      const r = ok(await h.run(entraUser(2, ["data-platform-engineers", "analysts-finance", "All Contoso Staff"])));
      expect(r.persistedLog).toMatch(/path=created .*adds=2 /);
      expect(r.persistedLog).not.toMatch(/error=/);
      expect(r.requests.length).toBeLessThanOrEqual(k + 2);
      expect(r.requests.every((q) => q.status < 300)).toBe(true);
      expect(r.appMetadata["catalog_provisioning"]).toMatchObject({ t: "default" });
    });

    it("a repeat login with nothing changed makes zero requests", async () => {
      const h = harness();
      const first = ok(await h.run(entraUser(3, ["analysts-finance"])));
      expect(first.requests.length).toBeGreaterThan(0);
      const again = ok(await h.run(entraUser(3, ["analysts-finance"])));
      expect(again.requests).toEqual([]);
      expect(again.persistedLog).toMatch(/path=unchanged/);
    });

    it("a slow Catalog: the login continues within the budget, and the log says why", async () => {
      await sb.setFaults([{ kind: "latency", latencyMs: 3000 }]);
      const h = harness("slow");
      const r = ok(await h.run(entraUser(4, ["analysts-finance"])));
      expect(r.deniedReason).toBeUndefined();
      expect(r.durationMs).toBeLessThan(700 + 1000);
      expect(r.persistedLog).toMatch(/path=error .*error=SCIM_(TIMEOUT|BUDGET_EXHAUSTED|NETWORK)/);
      expect(r.appMetadata).toEqual({}); // nothing that failed is recorded as applied
    });

    it("429, then success", async () => {
      await sb.setFaults([{ kind: "429", count: 1, retryAfter: "0" }]);
      const r = ok(await harness().run(entraUser(5, ["analysts-finance"])));
      expect(r.requests.some((q) => q.status === 429)).toBe(true);
      expect(r.persistedLog).toMatch(/path=created/);
      expect(r.persistedLog).not.toMatch(/error=/);
    });

    it("503, then success", async () => {
      await sb.setFaults([{ kind: "5xx", status: 503, count: 1 }]);
      const r = ok(await harness().run(entraUser(6, ["analysts-finance"])));
      expect(r.requests.some((q) => q.status === 503)).toBe(true);
      expect(r.persistedLog).toMatch(/path=created/);
    });

    it("the circuit breaker: after 3 failed logins the next logins make zero requests", async () => {
      await sb.setFaults([{ kind: "5xx" }]);
      const h = harness();
      for (let i = 0; i < 3; i++) {
        const r = ok(await h.run(entraUser(10 + i, ["analysts-finance"])));
        expect(r.requests.length).toBeGreaterThan(0);
        expect(r.persistedLog).toMatch(/path=error/);
      }
      for (let i = 0; i < 2; i++) {
        const r = ok(await h.run(entraUser(20 + i, ["analysts-finance"])));
        expect(r.requests).toEqual([]);
        expect(r.persistedLog).toMatch(/path=breaker .*error=SCIM_CIRCUIT_OPEN/);
      }
      // the breaker lives in api.cache: clearing the cache closes it
      await sb.setFaults([]);
      h.clearCache();
      expect(ok(await h.run(entraUser(22, ["analysts-finance"]))).persistedLog).toMatch(/path=created/);
    });

    it("fail closed denies only the Catalog's applications, with a short public reason", async () => {
      await sb.setFaults([{ kind: "5xx" }]);
      const h = harness("closed");
      const denied = await h.run(entraUser(30, ["analysts-finance"]));
      expect(denied.outcome).toBe("denied");
      expect(denied.deniedReason).toBe(CLOSED_REASON);
      expect(denied.calls.filter((c) => c.name === "access.deny")).toHaveLength(1);

      const other = await h.run(
        event("entra-waad.json", (e) => {
          e["client"] = { client_id: "hr-portal", name: "HR portal", metadata: {} };
        }),
      );
      expect(other.outcome).toBe("success");
      expect(other.calls.some((c) => c.name === "access.deny")).toBe(false);
      expect(other.requests).toEqual([]);
    });

    it("shadow mode (connection metadata) plans and logs, and writes nothing", async () => {
      await sb.clearAudit();
      const h = harness();
      const r = ok(
        await h.run(
          event("okta.json", (e) => {
            e["connection"] = { ...(e["connection"] as object), metadata: { catalog_provisioning: "shadow" } };
          }),
        ),
      );
      expect(r.persistedLog).toMatch(/path=shadow .*plan=create/);
      expect(r.calls.some((c) => c.name === "user.setAppMetadata")).toBe(false);
      expect(r.requests.every((q) => q.method === "GET")).toBe(true);
      expect(await sb.audit()).toEqual([]);
    });

    it("each realistic profile provisions the mapped Catalog groups", async () => {
      const h = harness();
      for (const name of ["entra-waad.json", "entra-saml.json", "okta.json", "google-workspace.json", "generic-saml.json"]) {
        const r = ok(await h.run(event(name)));
        expect(r.persistedLog, name).toMatch(/path=created/);
        expect(r.persistedLog, name).not.toMatch(/error=/);
      }
      const res = await fetch(`${sb.baseUrl}/Groups?filter=${encodeURIComponent('displayName eq "finance-readers"')}`, {
        headers: { authorization: `Bearer ${sb.apiKey}` },
      });
      const body = (await res.json()) as { Resources: { id: string; members?: unknown[] }[] };
      expect(body.Resources).toHaveLength(1);
      if (profile === "full") expect(body.Resources[0]!.members).toHaveLength(4);
    });
  });
}
