import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runPostLogin, type ExecutorDeps } from "../../src/action/executor.js";
import { ActionScimClient } from "../../src/action/scim-lite.js";
import type { ActionConfig } from "../../src/config/action-config.js";
import { catalogSecrets, useSandbox } from "../helpers/use-sandbox.js";
import { actionConfig, fakeApi, loginEvent, type FakeApi } from "./fakes.js";

const GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];

function deps(lines: string[] = []): ExecutorDeps {
  return {
    createClient: (o) => new ActionScimClient(o),
    now: () => Date.now(),
    random: () => 0.5,
    log: (l) => lines.push(l),
    sleep: async () => {},
  };
}

for (const profile of ["full", "minimal"] as const) {
  describe(`executor against the sandbox (${profile} profile)`, () => {
    const sb = useSandbox({ profile, groups: GROUPS });
    let secrets: Record<string, string>;
    let config: ActionConfig;

    beforeAll(() => {
      secrets = catalogSecrets(sb);
    });
    beforeEach(() => {
      config = actionConfig();
    });

    /** log in, persisting app_metadata between logins like Auth0 does */
    async function login(api: FakeApi, o: Partial<Parameters<typeof loginEvent>[0]> = {}, cfg = config, lines: string[] = []) {
      const key = cfg.login.metadataKey;
      const event = loginEvent({ secrets, appMetadata: { [key]: api.appMetadata[key] }, ...o });
      const before = (await sb.requests()).length;
      const summary = await runPostLogin(event, api, cfg, deps(lines));
      const after = (await sb.requests()).length;
      return { summary, catalogRequests: after - before };
    }

    it("a new user with known group ids: k + 2 requests in 3 round trips, or 2 round trips with Bulk", async () => {
      const api = fakeApi();
      await login(fakeApi(api.store), { id: "warm-up", groups: ["analysts-finance", "analysts-marketing"] });
      const { summary, catalogRequests } = await login(api, { groups: ["analysts-finance", "analysts-marketing"] });
      expect(summary.path).toBe("created");
      expect(summary.error).toBeUndefined();
      expect(summary.adds).toBe(2);
      if (profile === "full") {
        expect(summary.rounds).toBeLessThanOrEqual(2);
        expect(catalogRequests).toBe(2);
      } else {
        expect(summary.rounds).toBeLessThanOrEqual(3);
        expect(catalogRequests).toBe(2 + 2);
      }
      const audit = await sb.audit();
      expect(audit.filter((a) => a.method === "POST" && a.path === "/Users").length + audit.filter((a) => a.path === "/Bulk").length).toBeGreaterThanOrEqual(2);
    });

    it("a repeat login with nothing changed makes zero requests", async () => {
      const api = fakeApi();
      await login(api);
      const { summary, catalogRequests } = await login(api);
      expect(summary.path).toBe("unchanged");
      expect(catalogRequests).toBe(0);
      expect(summary.requests).toBe(0);
    });

    it("a group gained and a group lost; many-to-one keeps the membership", async () => {
      const api = fakeApi();
      await login(api, { groups: ["analysts-finance", "finance-leads"] });
      const lost = await login(api, { groups: ["finance-leads", "data-governance-leads"] });
      expect(lost.summary.adds).toBe(1);
      expect(lost.summary.removes).toBe(0);
      const gone = await login(api, { groups: ["data-governance-leads"] });
      expect(gone.summary.removes).toBe(1);
      const removes = (await sb.audit()).filter((a) => a.method === "PATCH" && a.path.startsWith("/Groups"));
      expect(removes.length).toBe(3);
    });

    it("adopts an existing user with an empty externalId within 4 round trips", async () => {
      await sb.seedUser({ userName: "ada-123@acme.example", name: { givenName: "Ada", familyName: "Lovelace" }, displayName: "Ada Lovelace", emails: [{ value: "ada-123@acme.example", type: "work", primary: true }], active: true });
      const api = fakeApi();
      const { summary } = await login(api);
      expect(summary.path).toBe("adopted");
      expect(summary.error).toBeUndefined();
      expect(summary.rounds).toBeLessThanOrEqual(4);
      const users = await (await fetch(`${sb.baseUrl}/Users?filter=${encodeURIComponent('userName eq "ada-123@acme.example"')}`, { headers: { authorization: `Bearer ${sb.apiKey}` } })).json() as { Resources: { externalId?: string }[] };
      expect(users.Resources).toHaveLength(1);
      expect(users.Resources[0]!.externalId).toBe("ada-123");
    });

    it("refuses a conflicting externalId and changes nothing", async () => {
      await sb.seedUser({ userName: "ada-123@acme.example", externalId: "someone-else", active: true });
      await sb.clearAudit();
      const api = fakeApi();
      const { summary } = await login(api);
      expect(summary.path).toBe("conflict");
      expect(summary.error).toBe("ACTION_CONFLICT");
      // a Bulk request is answered 200 even when its POST is refused: look at what it did
      const writes = (await sb.audit()).filter((a) => a.status < 300 && !(a.path === "/Bulk" && !/201/.test(a.summary)));
      expect(writes).toEqual([]);
      const found = (await (await fetch(`${sb.baseUrl}/Users?filter=${encodeURIComponent('userName eq "ada-123@acme.example"')}`, { headers: { authorization: `Bearer ${sb.apiKey}` } })).json()) as { Resources: { externalId?: string; groups?: unknown[] }[] };
      expect(found.Resources.map((u) => u.externalId)).toEqual(["someone-else"]);
      expect(api.denied).toEqual([]);
    });

    it("429 then success", async () => {
      await sb.setFaults([{ kind: "429", count: 1, retryAfter: "0" }]);
      const { summary } = await login(fakeApi());
      expect(summary.path).toBe("created");
      expect(summary.error).toBeUndefined();
    });

    it("503 then success", async () => {
      await sb.setFaults([{ kind: "5xx", count: 1 }]);
      const { summary } = await login(fakeApi());
      expect(summary.path).toBe("created");
    });

    it("a slow Catalog: the login continues within the budget", async () => {
      await sb.setFaults([{ kind: "latency", latencyMs: 4000 }]);
      const api = fakeApi();
      const { summary } = await login(api);
      expect(summary.path).toBe("error");
      expect(summary.ms).toBeLessThan(config.login.budgetMs + 1200); // well below the 4 s latency: the budget cut it short
      expect(api.denied).toEqual([]);
      expect(api.metadataWrites).toBe(0);
      await sb.setFaults([]);
    });

    it("the circuit breaker opens after 3 failures and then makes zero requests", async () => {
      await sb.setFaults([{ kind: "5xx" }]);
      const api = fakeApi();
      for (let i = 0; i < 3; i++) expect((await login(api)).summary.path).toBe("error");
      const { summary, catalogRequests } = await login(api);
      expect(summary.path).toBe("breaker");
      expect(summary.error).toBe("SCIM_CIRCUIT_OPEN");
      expect(catalogRequests).toBe(0);
    });

    it("fail closed denies only the Catalog's applications, with no internal detail", async () => {
      const cfg = actionConfig((c) => {
        c.login.fail = "closed";
        c.login.clients = ["catalog-app"];
      });
      await sb.setFaults([{ kind: "5xx" }]);
      const api = fakeApi();
      await login(api, { clientId: "catalog-app" }, cfg);
      expect(api.denied).toEqual([cfg.login.denyReason]);
      expect(api.denied[0]).not.toMatch(/503|scim|http/i);
      const other = fakeApi();
      const { summary, catalogRequests } = await login(other, { clientId: "another-app" }, cfg);
      expect(other.denied).toEqual([]);
      expect(summary.path).toBe("skipped");
      expect(catalogRequests).toBe(0);
    });

    it("shadow mode writes nothing", async () => {
      await sb.clearAudit();
      const api = fakeApi();
      const lines: string[] = [];
      const { summary } = await login(api, { metadata: { catalog_provisioning: "shadow" } }, config, lines);
      expect(summary.path).toBe("shadow");
      expect(await sb.audit()).toEqual([]);
      expect(api.metadataWrites).toBe(0);
      expect(lines[0]).toMatch(/path=shadow .*plan=create/);
    });

    it("off mode and refresh-token exchanges make no request", async () => {
      expect((await login(fakeApi(), { metadata: { catalog_provisioning: "off" } })).catalogRequests).toBe(0);
      expect((await login(fakeApi(), { protocol: "oauth2-refresh-token" })).catalogRequests).toBe(0);
    });

    it("sets the desired Catalog group names as a namespaced claim when enabled", async () => {
      const cfg = actionConfig((c) => {
        c.login.tokenClaim = { enabled: true, name: "https://catalog.example/groups", idToken: true, accessToken: false };
      });
      const api = fakeApi();
      await login(api, { groups: ["analysts-finance", "finance-leads", "unmapped"] }, cfg);
      expect(api.claims).toEqual({ "id:https://catalog.example/groups": ["finance-readers"] });
    });

    it("logs one line of at most 256 characters without email or name", async () => {
      const lines: string[] = [];
      await login(fakeApi(), {}, config, lines);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.length).toBeLessThanOrEqual(256);
      expect(lines[0]).not.toMatch(/acme\.example|Ada|Lovelace/);
      expect(lines[0]).not.toContain(sb.apiKey);
    });
  });
}
