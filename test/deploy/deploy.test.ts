import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProvisioningError, ConfigError } from "../../src/errors.js";
import { runListVersions, runRollback } from "../../src/deploy/run.js";
import { readMarkers } from "../../src/deploy/plan.js";
import { BUILD_FAIL_MARKER, MgmtDouble } from "./mgmt-double.js";
import { ACTION, CODE, makeFixture, type Fixture } from "./fixture.js";

let double: MgmtDouble;
let fx: Fixture;

beforeEach(async () => {
  double = await new MgmtDouble().start();
  fx = makeFixture(double);
});
afterEach(async () => {
  fx.cleanup();
  await double.stop();
});

describe("first deploy", () => {
  it("creates the action with every secret, waits for the build, deploys, then binds", async () => {
    const r = await fx.deploy();
    expect(r.applied?.created).toEqual([ACTION]);
    const a = double.byName(ACTION);
    expect(a.versions).toHaveLength(1);
    expect(a.versions[0]!.deployed).toBe(true);
    expect(a.secrets.map((s) => s.name)).toEqual(["CATALOG_SCIM_URL", "CATALOG_API_KEY"]);
    expect(double.secretValue(ACTION, "CATALOG_API_KEY")).toBe("key-one");
    expect(double.boundActionNames()).toEqual([ACTION]);
    // published code = the built bytes + the fingerprint comment
    expect(a.code.startsWith(CODE)).toBe(true);
    expect(readMarkers(a.code).fingerprint).toMatch(/^[0-9a-f]{64}$/);
    // the order of writes: create, deploy (after polling), bind
    expect(double.writes.map((w) => `${w.method} ${w.path.replace(/act_\d+/, ":id")}`)).toEqual([
      "POST /api/v2/actions/actions",
      "POST /api/v2/actions/actions/:id/deploy",
      "PATCH /api/v2/actions/triggers/post-login/bindings",
    ]);
    // build was polled until built (pending → building → built)
    expect(double.requests.filter((q) => q.method === "GET" && /actions\/act_\d+$/.test(q.path)).length).toBeGreaterThanOrEqual(3);
    // the API never saw the tenant.yaml-only key "deployed"
    expect(double.requests.every((q) => q.status !== 400)).toBe(true);
  });

  it("never puts a secret value in the plan", async () => {
    const r = await fx.deploy({ dryRun: true });
    expect(JSON.stringify(r.plan)).not.toContain("key-one");
    expect(double.writes).toHaveLength(0);
  });
});

describe("unchanged redeploy", () => {
  it("writes nothing and makes no new version", async () => {
    await fx.deploy();
    double.resetLog();
    const r = await fx.deploy();
    expect(r.noop).toBe(true);
    expect(double.writes).toHaveLength(0);
    expect(double.byName(ACTION).versions).toHaveLength(1);
  });

  it("agrees across machines that share DEPLOY_FINGERPRINT_KEY", async () => {
    fx.env.DEPLOY_FINGERPRINT_KEY = "shared-key";
    await fx.deploy();
    double.resetLog();
    // a second machine: same key, another client credential would still agree
    const r = await fx.deploy({ env: { ...fx.env } });
    expect(r.noop).toBe(true);
    expect(double.writes).toHaveLength(0);
  });
});

describe("code change", () => {
  it("patches the draft, deploys a new version and leaves the binding alone", async () => {
    await fx.deploy();
    fx.writeCode(`${CODE}// v2\n`);
    double.resetLog();
    const r = await fx.deploy();
    expect(r.applied?.updated).toEqual([ACTION]);
    expect(r.applied?.deployed).toEqual([{ name: ACTION, version: 2 }]);
    expect(double.writes.map((w) => w.method)).toEqual(["PATCH", "POST"]);
    expect(double.byName(ACTION).versions).toHaveLength(2);
  });
});

describe("secret rotation", () => {
  it("adds the optional next key when it is set, and drops it when the rotation ends", async () => {
    await fx.deploy();
    fx.env.CATALOG_API_KEY_NEXT = "key-two";
    const r1 = await fx.deploy();
    expect(r1.applied?.updated).toEqual([ACTION]);
    expect(double.secretValue(ACTION, "CATALOG_API_KEY_NEXT")).toBe("key-two");
    expect(double.secretValue(ACTION, "CATALOG_API_KEY")).toBe("key-one");

    fx.env.CATALOG_API_KEY = "key-two";
    delete fx.env.CATALOG_API_KEY_NEXT;
    const r2 = await fx.deploy();
    // listed in tenant.yaml (optional), so dropping it is not an unlisted-secret refusal
    expect(r2.plan.refusals).toEqual([]);
    expect(double.byName(ACTION).secrets.map((s) => s.name)).toEqual(["CATALOG_SCIM_URL", "CATALOG_API_KEY"]);
    expect(double.secretValue(ACTION, "CATALOG_API_KEY")).toBe("key-two");
    expect(double.byName(ACTION).versions).toHaveLength(3);
  });

  it("a changed secret value alone makes a new version (the fingerprint covers values)", async () => {
    await fx.deploy();
    fx.env.CATALOG_API_KEY = "key-three";
    double.resetLog();
    await fx.deploy();
    expect(double.writes.map((w) => w.method)).toEqual(["PATCH", "POST"]);
    expect(double.secretValue(ACTION, "CATALOG_API_KEY")).toBe("key-three");
  });
});

describe("dashboard-edited secret", () => {
  it("is drift: redeploys with the tenant.yaml value and says so", async () => {
    await fx.deploy();
    double.editSecretInDashboard(ACTION, "CATALOG_API_KEY");
    const r = await fx.deploy();
    const change = r.plan.actions[0]!;
    expect(change.kind).toBe("update");
    expect(change.kind === "update" && change.drift).toEqual(["CATALOG_API_KEY"]);
    expect(change.reasons.join("\n")).toContain('secret "CATALOG_API_KEY" was edited on the tenant');
    expect(double.secretValue(ACTION, "CATALOG_API_KEY")).toBe("key-one");
    expect(double.byName(ACTION).versions).toHaveLength(2);
  });
});

describe("unlisted remote secret", () => {
  it("is refused (exit 3) before any write, and --prune-secrets drops it", async () => {
    await fx.deploy();
    double.editSecretInDashboard(ACTION, "LEGACY_TOKEN", "x");
    fx.writeCode(`${CODE}// v2\n`);
    double.resetLog();
    const e = await fx.deploy().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProvisioningError);
    expect((e as ProvisioningError).code).toBe("DEPLOY_UNLISTED_SECRETS");
    expect((e as ProvisioningError).exitCode).toBe(3);
    expect((e as Error).message).toContain('"LEGACY_TOKEN"');
    expect(double.writes).toHaveLength(0);

    const r = await fx.deploy({ pruneSecrets: true });
    expect(r.applied?.updated).toEqual([ACTION]);
    expect(double.byName(ACTION).secrets.map((s) => s.name)).not.toContain("LEGACY_TOKEN");
  });
});

describe("build failure", () => {
  it("stops, shows the build errors and names the step; nothing is deployed", async () => {
    fx.writeCode(`${CODE}// ${BUILD_FAIL_MARKER}\n`);
    const e = await fx.deploy().catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_BUILD_FAILED");
    expect((e as Error).message).toContain('step "wait-build"');
    expect((e as Error).message).toContain("cannot compile");
    expect(double.byName(ACTION).versions).toHaveLength(0);
    expect(double.boundActionNames()).toEqual([]);
  });

  it("a build that never finishes is bounded by the injected clock", async () => {
    const slow = new MgmtDouble({ pollsToBuild: 1000 });
    await slow.start();
    const f2 = makeFixture(slow);
    let t = 0;
    try {
      const e = await f2.deploy({ now: () => t, sleep: async (ms) => void (t += ms), buildTimeoutMs: 1000, pollIntervalMs: 100 }).catch((x: unknown) => x);
      expect((e as ProvisioningError).code).toBe("DEPLOY_BUILD_TIMEOUT");
      expect(t).toBe(1000);
    } finally {
      f2.cleanup();
      await slow.stop();
    }
  });
});

describe("other bindings", () => {
  it("are kept in their order; ours goes where the position says on first bind", async () => {
    double.seedForeignAction("mfa-policy");
    double.seedForeignAction("risk-score");
    fx.writeTenant(fx.file && (await import("node:fs")).readFileSync(fx.file, "utf8").replace("display_name: Catalog provisioning", "display_name: Catalog provisioning\n      position: after:mfa-policy"));
    await fx.deploy();
    expect(double.boundActionNames()).toEqual(["mfa-policy", ACTION, "risk-score"]);
    // someone moves ours last in the dashboard: a later deploy does not move it back
    const list = double.bindings.get("post-login")!;
    double.bindings.set("post-login", [list[0]!, list[2]!, list[1]!]);
    double.resetLog();
    await fx.deploy();
    expect(double.writes).toHaveLength(0);
    expect(double.boundActionNames()).toEqual(["mfa-policy", "risk-score", ACTION]);
  });
});

describe("rollback and pin", () => {
  it("redeploys the previous version, pins it, refuses the next deploy, and --unpin replaces it", async () => {
    await fx.deploy();
    fx.writeCode(`${CODE}// v2\n`);
    await fx.deploy();
    const rb = await runRollback(fx.options());
    expect(rb).toMatchObject({ action: ACTION, from: 2, to: 1, version: 3 });
    const a = double.byName(ACTION);
    expect(a.versions.find((v) => v.deployed)?.code).toBe(a.versions[0]!.code);

    const listed = await runListVersions(fx.options());
    expect(listed.versions.map((v) => [v.number, v.deployed, v.pinned])).toEqual([
      [3, true, true],
      [2, false, false],
      [1, false, false],
    ]);
    expect(listed.versions[0]!.fingerprint).toBe(listed.versions[2]!.fingerprint);

    double.resetLog();
    const e = await fx.deploy().catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_PINNED");
    expect((e as ProvisioningError).exitCode).toBe(3);
    expect(double.writes).toHaveLength(0);

    const r = await fx.deploy({ unpin: true });
    expect(r.applied?.deployed).toEqual([{ name: ACTION, version: 4 }]);
    expect(readMarkers(double.byName(ACTION).code).pin).toBeUndefined();
    // and then it is a plain unchanged deploy again
    double.resetLog();
    expect((await fx.deploy()).noop).toBe(true);
    expect(double.writes).toHaveLength(0);
  });

  it("--to picks a version; an unknown one is DEPLOY_NOT_FOUND", async () => {
    await fx.deploy();
    const e = await runRollback(fx.options({ to: 7 } as never)).catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_NOT_FOUND");
  });
});

describe("missing environment placeholder", () => {
  it("is an error naming the file and line, and sends zero requests", async () => {
    delete fx.env.CATALOG_API_KEY;
    const e = await fx.deploy().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe("CONFIG_PLACEHOLDER_UNRESOLVED");
    // line 10 holds \`value: "##CATALOG_API_KEY##"\`
    expect((e as ConfigError).line).toBe(10);
    expect((e as ConfigError).format()).toContain(`${fx.file}:10`);
    expect((e as ConfigError).format()).toContain('"CATALOG_API_KEY"');
    expect(double.requests).toHaveLength(0);
  });
});

describe("429 with Retry-After", () => {
  it("every step survives it, waiting what the server asked", async () => {
    double.fail("POST", /^\/api\/v2\/actions\/actions$/, 429, { retryAfter: 3 });
    double.fail("POST", /\/deploy$/, 429, { retryAfter: 2 });
    double.fail("PATCH", /bindings$/, 429, { retryAfter: 1 });
    double.fail("GET", /bindings$/, 429, { retryAfter: 4 });
    const r = await fx.deploy();
    expect(r.applied?.deployed).toHaveLength(1);
    expect(double.boundActionNames()).toEqual([ACTION]);
    expect(fx.sleeps.filter((ms) => ms >= 1000).sort()).toEqual([1000, 2000, 3000, 4000]);
    expect(double.requests.filter((q) => q.status === 429)).toHaveLength(4);
  });

  it("a failure that does not go away names the step", async () => {
    await fx.deploy();
    fx.writeCode(`${CODE}// v2\n`);
    double.fail("PATCH", /actions\/act_\d+$/, 429, { retryAfter: 1, times: 99 });
    const e = await fx.deploy().catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_STEP_FAILED");
    expect((e as Error).message).toContain('step "update" of "catalog-provisioning" failed: 429');
    expect((e as ProvisioningError).details?.step).toBe("update");
  });
});

describe("Management API double behaves as documented", () => {
  it("rejects unknown properties, deploy before built, and caps versions at 50", async () => {
    const { createClient } = await import("../../src/deploy/run.js");
    const { client } = createClient({ env: fx.env, fetch: double.fetch, maxRetries: 0, timeoutInSeconds: 5 });
    const bad = await client.actions
      .create({ name: "x", supported_triggers: [{ id: "post-login", version: "v3" }], code: "", deployed: true } as never)
      .catch((x: unknown) => x);
    expect((bad as { statusCode?: number }).statusCode).toBe(400);
    const a = await client.actions.create({ name: "y", supported_triggers: [{ id: "post-login", version: "v3" }], code: "x" });
    const early = await client.actions.deploy(a.id!).catch((x: unknown) => x);
    expect((early as { statusCode?: number }).statusCode).toBe(400);
    expect(JSON.stringify((early as { body?: unknown }).body)).toContain("must be in the 'built' state");
    while ((await client.actions.get(a.id!)).status !== "built") {
      /* per-poll build progress */
    }
    for (let i = 0; i < 52; i++) await client.actions.deploy(a.id!);
    const versions = [];
    for await (const v of await client.actions.versions.list(a.id!)) versions.push(v);
    expect(versions).toHaveLength(50);
    expect(Math.min(...versions.map((v) => v.number!))).toBe(3);
    // the SDK asks for 50 a page and stops only on the empty page after them
    expect(double.requests.filter((q) => q.path.endsWith("/versions")).length).toBe(2);
  });

  it("a wrong client secret gets 401 from /oauth/token", async () => {
    fx.env.AUTH0_CLIENT_SECRET = "wrong";
    const e = await fx.deploy().catch((x: unknown) => x);
    expect((e as ProvisioningError).code).toBe("DEPLOY_STEP_FAILED");
    expect((e as Error).message).toContain("401");
    expect((e as Error).message).not.toContain("wrong");
  });
});
