import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ActionHarness, type HarnessEvent } from "../../src/action-harness/index.js";
import { createPostLoginHandler } from "../../src/action/index.js";
import { ActionScimClient } from "../../src/action/scim-lite.js";
import { buildActionBundle } from "../../src/deploy/bundle.js";
import type { FaultSpec } from "../helpers/sandbox.js";
import { fakeApi } from "../action/fakes.js";
import { createWorld, loginEvent, person, type World } from "./world.js";

const BUDGET_MS = 500;
/** scheduling slack on a loaded 2-core machine; still far below the faults' latency */
const SLACK_MS = 1500;
const LATENCY_MS = 4000;

const FAULTS: [string, FaultSpec[]][] = [
  ["latency beyond the budget", [{ kind: "latency", latencyMs: LATENCY_MS }]],
  ["503 on every request", [{ kind: "5xx", status: 503 }]],
  ["dropped connections", [{ kind: "drop" }]],
];

describe("a login is never broken by a slow or failing Catalog unless fail: closed", () => {
  let w: World;
  let bundleCode: string;
  const loginYaml = `  budgetMs: ${BUDGET_MS}\n  requestTimeoutMs: 250\n`;

  beforeAll(async () => {
    w = await createWorld("full", { loginYaml });
    // the bundle as `npm run build` makes it, with this provisioning.yaml compiled in
    bundleCode = (await buildActionBundle({ config: w.actionConfig() })).code;
  });
  afterAll(async () => {
    await w?.sandbox.setFaults([]);
    await w?.close();
  });
  beforeEach(async () => {
    await w.reset({ loginYaml });
  });

  let n = 0;
  for (const [name, faults] of FAULTS) {
    it(`${name}: the handler returns within the budget, no deny`, async () => {
      await w.sandbox.setFaults(faults);
      const api = fakeApi();
      const lines: string[] = [];
      const handler = createPostLoginHandler(w.actionConfig(), { createClient: (o) => new ActionScimClient(o), log: (l) => lines.push(l), sleep: async () => {} });
      const started = performance.now();
      await handler(loginEvent(person(`fault-${n++}`), ["analysts-finance"], w.secrets, {}), api);
      const elapsed = performance.now() - started;
      expect(api.denied).toEqual([]);
      expect(elapsed).toBeLessThan(BUDGET_MS + SLACK_MS);
      expect(lines.join("\n")).toMatch(/path=error/);
    });

    it(`${name}: the built bundle in the Post-Login runtime succeeds within the budget, no deny`, async () => {
      await w.sandbox.setFaults(faults);
      const harness = new ActionHarness({ code: bundleCode, secrets: w.secrets, baseUrl: w.sandbox.baseUrl });
      const r = await harness.run(loginEvent(person(`bundle-${n++}`), ["analysts-finance"], w.secrets, {}) as unknown as HarnessEvent);
      expect(r.outcome).toBe("success");
      expect(r.deniedReason).toBeUndefined();
      expect(r.calls.filter((c) => c.name === "access.deny")).toEqual([]);
      expect(r.durationMs).toBeLessThan(BUDGET_MS + SLACK_MS);
    });
  }

  it("with fail: closed the same slow Catalog denies, still within the budget", async () => {
    await w.reset({ loginYaml: `${loginYaml}  fail: closed\n` });
    await w.sandbox.setFaults([{ kind: "latency", latencyMs: LATENCY_MS }]);
    const api = fakeApi();
    const handler = createPostLoginHandler(w.actionConfig(), { log: () => {}, sleep: async () => {} });
    const started = performance.now();
    await handler(loginEvent(person("closed"), ["analysts-finance"], w.secrets, {}), api);
    expect(performance.now() - started).toBeLessThan(BUDGET_MS + SLACK_MS);
    expect(api.denied).toHaveLength(1);
  });

  it("with the Catalog healthy again the next login provisions", async () => {
    const api = fakeApi();
    await createPostLoginHandler(w.actionConfig(), { log: () => {} })(loginEvent(person("healthy"), ["analysts-finance"], w.secrets, {}), api);
    expect(api.denied).toEqual([]);
    expect((await w.users()).map((u) => u.externalId)).toEqual([person("healthy").id]);
  });
});
