import { describe, expect, it } from "vitest";
import { ActionHarness, TriggerCache, type HarnessTimers } from "../../src/action-harness/index.js";

const user = { user_id: "samlp|contoso|u1", email: "ada@contoso.example" };

/** a bundle as esbuild writes it: CommonJS, exports.onExecutePostLogin */
const bundle = (body: string): string => `"use strict";\nexports.onExecutePostLogin = async (event, api) => {\n${body}\n};\n`;

function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function manualTimers() {
  const pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const timers: HarnessTimers = {
    setTimeout(fn, ms) {
      const h = { fn, ms, cleared: false };
      pending.push(h);
      return h;
    },
    clearTimeout(h) {
      if (h) (h as { cleared: boolean }).cleared = true;
    },
  };
  return { timers, pending, fire: () => pending.filter((p) => !p.cleared).forEach((p) => p.fn()) };
}

describe("api.cache: Auth0's limits, errors returned as {type: \"error\", code}", () => {
  it("refuses a key over 64 bytes with CacheKeySizeExceeded", () => {
    const c = new TriggerCache();
    expect(c.set("k".repeat(65), "v")).toEqual({ type: "error", code: "CacheKeySizeExceeded" });
    // 64 bytes counted in UTF-8: 32 two-byte characters fit, 33 do not
    expect(c.set("é".repeat(32), "v").type).toBe("success");
    expect(c.set("é".repeat(33), "v")).toEqual({ type: "error", code: "CacheKeySizeExceeded" });
  });

  it("refuses a value over 4 KB with CacheValueSizeExceeded", () => {
    const c = new TriggerCache();
    expect(c.set("k", "x".repeat(4096)).type).toBe("success");
    expect(c.set("k2", "x".repeat(4097))).toEqual({ type: "error", code: "CacheValueSizeExceeded" });
  });

  it("refuses the 21st entry and anything past 8 KB in all with CacheSizeExceeded", () => {
    const c = new TriggerCache();
    for (let i = 0; i < 20; i++) expect(c.set(`k${i}`, "v").type).toBe("success");
    expect(c.set("k20", "v")).toEqual({ type: "error", code: "CacheSizeExceeded" });
    expect(c.set("k3", "replaced").type).toBe("success"); // replacing an entry is not a new one

    const d = new TriggerCache();
    expect(d.set("a", "x".repeat(4000)).type).toBe("success");
    expect(d.set("b", "x".repeat(4000)).type).toBe("success");
    expect(d.set("c", "x".repeat(400))).toEqual({ type: "error", code: "CacheSizeExceeded" });
    expect(d.totalBytes()).toBe(8002);
  });

  it("expires entries by ttl and expires_at on the injected clock; the earlier one wins", () => {
    const clock = manualClock();
    const c = new TriggerCache(clock);
    const r = c.set("k", "v", { ttl: 1000, expires_at: clock.now() + 500 });
    expect(r).toEqual({ type: "success", record: { value: "v", expires_at: clock.now() + 500 } });
    clock.advance(499);
    expect(c.get("k")?.value).toBe("v");
    clock.advance(1);
    expect(c.get("k")).toBeUndefined();
    expect(c.set("d", "v").type === "success" && c.get("d")!.expires_at).toBe(clock.now() + 15 * 60_000);
    expect(c.set("long", "v", { ttl: 48 * 3600_000 }).type === "success" && c.get("long")!.expires_at).toBe(clock.now() + 24 * 3600_000);
  });

  it("reports ItemAlreadyExpired, InvalidExpiry and CacheKeyDoesNotExist", () => {
    const clock = manualClock();
    const c = new TriggerCache(clock);
    expect(c.set("k", "v", { expires_at: clock.now() })).toEqual({ type: "error", code: "ItemAlreadyExpired" });
    expect(c.set("k", "v", { ttl: -5 })).toEqual({ type: "error", code: "InvalidExpiry" });
    expect(c.delete("absent")).toEqual({ type: "error", code: "CacheKeyDoesNotExist" });
    c.set("k", "v");
    expect(c.delete("k")).toEqual({ type: "success" });
  });

  it("never throws inside the action: an over-size set returns the error to the bundle", async () => {
    const h = new ActionHarness({
      code: bundle(`const r = api.cache.set("k", "x".repeat(5000)); console.log(r.type + ":" + r.code);`),
    });
    const res = await h.run({ user });
    expect(res.outcome).toBe("success");
    expect(res.logs).toEqual(["error:CacheValueSizeExceeded"]);
    expect(res.calls.find((c) => c.name === "cache.set")?.result).toEqual({ type: "error", code: "CacheValueSizeExceeded" });
  });

  it("persists between runs (one trigger) and can be cleared", async () => {
    const h = new ActionHarness({
      code: bundle(`const r = api.cache.get("n"); const n = r ? Number(r.value) + 1 : 1; api.cache.set("n", String(n)); console.log("n=" + n);`),
    });
    expect((await h.run({ user })).logs).toEqual(["n=1"]);
    expect((await h.run({ user })).logs).toEqual(["n=2"]);
    h.clearCache();
    expect((await h.run({ user })).logs).toEqual(["n=1"]);
  });
});

describe("metadata writes are batched to the end of the execution", () => {
  it("does not show a write in event.user during the run; applies it to the stored user after", async () => {
    const h = new ActionHarness({
      code: bundle(`
        api.user.setAppMetadata("a", 1);
        api.user.setAppMetadata("a", 2);
        api.user.setUserMetadata("pref", "dark");
        console.log("during=" + JSON.stringify(event.user.app_metadata));`),
    });
    const first = await h.run({ user: { ...user, app_metadata: { keep: true } } });
    expect(first.logs).toEqual(['during={"keep":true}']);
    expect(first.appMetadata).toEqual({ keep: true, a: 2 });
    expect(first.userMetadata).toEqual({ pref: "dark" });
    const second = await h.run({ user });
    expect(second.logs).toEqual(['during={"keep":true,"a":2}']);
  });

  it("deletes a key written as null", async () => {
    const h = new ActionHarness({ code: bundle(`api.user.setAppMetadata("gone", null);`) });
    const res = await h.run({ user: { ...user, app_metadata: { gone: 1, kept: 2 } } });
    expect(res.appMetadata).toEqual({ kept: 2 });
  });

  it("keeps writes after api.access.deny, drops them when the action throws", async () => {
    const denied = new ActionHarness({ code: bundle(`api.user.setAppMetadata("x", 1); api.access.deny("no access");`) });
    const d = await denied.run({ user });
    expect(d.outcome).toBe("denied");
    expect(d.deniedReason).toBe("no access");
    expect(d.appMetadata).toEqual({ x: 1 });

    const thrown = new ActionHarness({ code: bundle(`api.user.setAppMetadata("x", 1); throw new Error("boom");`) });
    const t = await thrown.run({ user });
    expect(t.outcome).toBe("failed");
    expect(t.failure).toBe("error");
    expect(t.error).toBe("boom");
    expect(t.appMetadata).toEqual({});
    expect(thrown.users.get(user.user_id)).toBeUndefined();
  });
});

describe("the 20 s execution limit", () => {
  it("abandons an execution that has not finished when the limit fires, as failed, without its writes", async () => {
    const t = manualTimers();
    const h = new ActionHarness({
      timers: t.timers,
      code: bundle(`api.user.setAppMetadata("x", 1); await new Promise(() => {});`),
    });
    const pending = h.run({ user });
    await new Promise((r) => setImmediate(r));
    expect(t.pending.map((p) => p.ms)).toEqual([20_000]);
    t.fire();
    const res = await pending;
    expect(res.outcome).toBe("failed");
    expect(res.failure).toBe("timeout");
    expect(res.appMetadata).toEqual({});
  });

  it("clears the limit timer when the execution finishes in time", async () => {
    const t = manualTimers();
    const h = new ActionHarness({ timers: t.timers, code: bundle(`api.idToken.setCustomClaim("https://x/g", ["a"]);`) });
    const res = await h.run({ user });
    expect(res.outcome).toBe("success");
    expect(t.pending).toHaveLength(1);
    expect(t.pending[0]!.cleared).toBe(true);
    expect(res.claims.idToken).toEqual({ "https://x/g": ["a"] });
  });
});

describe("the vm context", () => {
  it("lets a bundle require Node built-ins, with or without the node: prefix", async () => {
    const h = new ActionHarness({
      code: `const c = require("node:crypto"); const u = require("util");\n` + bundle(`console.log(typeof c.createHash, typeof u.format);`),
    });
    expect((await h.run({ user })).logs).toEqual(["function function"]);
  });

  it("refuses to require anything but a Node built-in", () => {
    const h = new ActionHarness({ code: `const y = require("yaml");\n` + bundle("") });
    expect(() => h.load()).toThrow(/cannot require "yaml": only Node built-ins/);
    const rel = new ActionHarness({ code: `require("./config.json");\n` + bundle("") });
    expect(() => rel.load()).toThrow(/cannot require "\.\/config\.json"/);
  });

  it("refuses a bundle without onExecutePostLogin", () => {
    expect(() => new ActionHarness({ code: `exports.other = 1;` }).load()).toThrow(/does not export "onExecutePostLogin"/);
  });

  it("records every api call, the console lines, and persists only 256 characters of them", async () => {
    const h = new ActionHarness({
      code: bundle(`
        api.accessToken.setCustomClaim("https://x/a", 1);
        api.transaction.setMetadata("k", "v");
        console.log("x".repeat(300));`),
    });
    const res = await h.run({ user });
    expect(res.calls.map((c) => c.name)).toEqual(["accessToken.setCustomClaim", "transaction.setMetadata"]);
    expect(res.transactionMetadata).toEqual({ k: "v" });
    expect(res.logs[0]).toHaveLength(300);
    expect(res.persistedLog).toHaveLength(256);
  });

  it("gives the bundle a recorded global fetch, and network errors as this realm's TypeError", async () => {
    const fake: typeof fetch = async (input) => {
      if (String(input).includes("down")) throw new TypeError("fetch failed");
      return new Response(JSON.stringify({ ok: [1] }), { status: 201 });
    };
    const h = new ActionHarness({
      fetch: fake,
      baseUrl: "https://catalog.example/scim/v2",
      code: bundle(`
        const r = await fetch("https://catalog.example/scim/v2/Users?x=1", { method: "post" });
        const body = await r.json();
        console.log(r.status, Array.isArray(body.ok), body.ok instanceof Array);
        try { await fetch("https://down.example/"); } catch (e) { console.log(e instanceof TypeError, e.message); }`),
    });
    const res = await h.run({ user });
    expect(res.logs).toEqual(["201 true true", "true fetch failed"]);
    expect(res.requests.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "POST", path: "/Users?x=1", status: 201 },
      { method: "GET", path: "/", status: 0 },
    ]);
  });

  it("fills a plausible event and merges the harness secrets", async () => {
    const h = new ActionHarness({
      secrets: { CATALOG_API_KEY: "k" },
      code: bundle(`console.log(event.connection.strategy, event.client.client_id, Object.keys(event.secrets).join(","), Array.isArray(event.user.identities));`),
    });
    const res = await h.run({ user, secrets: { CATALOG_SCIM_URL: "u" } });
    expect(res.logs).toEqual(["samlp local-client CATALOG_SCIM_URL,CATALOG_API_KEY true"]);
  });
});
