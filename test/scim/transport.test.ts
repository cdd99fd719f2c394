import { describe, expect, it } from "vitest";
import { ProvisioningError, ScimResponseError } from "../../src/errors.js";
import { ScimTransport, backoffDelay, parseRetryAfter, type KeyState, type TransportOptions } from "../../src/scim/transport.js";
import { fakeFetch, fakeTime, immediateTimer, noTimer, scimError, type Reply } from "./fakes.js";

const KEY = "sk_live_current_0123456789";
const NEXT = "sk_live_next_9876543210";

function make(handler: (c: import("./fakes.js").Call, i: number) => Reply | Promise<Reply>, extra: Partial<TransportOptions> = {}) {
  const f = fakeFetch(handler);
  const time = fakeTime();
  const t = new ScimTransport({
    baseUrl: "https://catalog.example.com/scim/v2/",
    apiKey: KEY,
    fetch: f.fetch,
    retries: 3,
    backoff: { baseMs: 100, maxMs: 1000 },
    clock: time.clock,
    sleep: time.sleep,
    random: () => 0.5,
    ...noTimer,
    ...extra,
  });
  return { t, calls: f.calls, time };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

describe("RFC 7644 §3.1 media type and headers", () => {
  it("sends the bearer key, application/scim+json and accepts application/json", async () => {
    const { t, calls } = make(() => ({ status: 201, body: { id: "1" } }));
    const res = await t.request({ method: "POST", path: "/Users", body: { userName: "a" } });
    expect(res.body).toEqual({ id: "1" });
    expect(calls[0]!.url).toBe("https://catalog.example.com/scim/v2/Users");
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(calls[0]!.headers["content-type"]).toBe("application/scim+json");
    expect(calls[0]!.headers.accept).toBe("application/scim+json, application/json");
  });

  it.each(["application/json", "text/json", "application/json; charset=utf-8"])("accepts %s replies", async (type) => {
    const { t } = make(() => ({ status: 200, body: { ok: true }, headers: { "content-type": type } }));
    expect((await t.request({ method: "GET", path: "/Users/1" })).body).toEqual({ ok: true });
  });

  it("refuses a non-JSON success reply with SCIM_INVALID_RESPONSE", async () => {
    const { t } = make(() => ({ status: 200, body: "<html>", headers: { "content-type": "text/html" } }));
    const e = await failure(t.request({ method: "GET", path: "/Users/1" }));
    expect((e as ProvisioningError).code).toBe("SCIM_INVALID_RESPONSE");
  });

  it("encodes query values", () => {
    const { t } = make(() => ({ status: 200 }));
    expect(t.url("/Users", { filter: 'userName eq "a&b=c"', count: 5, skip: undefined })).toBe(
      "https://catalog.example.com/scim/v2/Users?filter=userName%20eq%20%22a%26b%3Dc%22&count=5",
    );
  });
});

describe("plain http is refused except for loopback", () => {
  it.each(["http://catalog.example.com/scim/v2", "http://10.0.0.1/scim", "ftp://127.0.0.1/scim"])("refuses %s", (baseUrl) => {
    const e = (() => {
      try {
        new ScimTransport({ baseUrl, apiKey: KEY });
      } catch (err) {
        return err as ProvisioningError;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ProvisioningError);
    expect(e!.code).toBe("SCIM_HTTP_FORBIDDEN_SCHEME");
    expect(e!.message).not.toContain(KEY);
  });
  it.each(["http://127.0.0.1:8080/scim/v2", "http://127.4.5.6/scim", "http://localhost:1/scim", "http://[::1]:9/scim", "https://x.example/scim"])(
    "accepts %s",
    (baseUrl) => {
      expect(new ScimTransport({ baseUrl, apiKey: KEY }).baseUrl).toBe(baseUrl.replace(/\/$/, ""));
    },
  );
  it("an invalid URL is caller misuse (TypeError)", () => {
    expect(() => new ScimTransport({ baseUrl: "not a url", apiKey: KEY })).toThrow(TypeError);
  });
});

describe("RFC 7644 §3.12 error responses", () => {
  it("turns a SCIM error body into ScimResponseError with status, scimType and detail", async () => {
    const { t, calls } = make(() => scimError(409, "uniqueness", "userName exists"));
    const e = (await failure(t.request({ method: "POST", path: "/Users", body: {} }))) as ScimResponseError;
    expect(e).toBeInstanceOf(ScimResponseError);
    expect(e.httpStatus).toBe(409);
    expect(e.status).toBe("409");
    expect(e.scimType).toBe("uniqueness");
    expect(e.detail).toBe("userName exists");
    expect(e.isUniqueness).toBe(true);
    expect(calls).toHaveLength(1); // 4xx is not retried
  });
  it("keeps a numeric status as sent (Okta style)", async () => {
    const { t } = make(() => ({ status: 400, body: { status: 400, scimType: "invalidFilter" } }));
    const e = (await failure(t.request({ method: "GET", path: "/Users" }))) as ScimResponseError;
    expect(e.status).toBe(400);
    expect(e.scimType).toBe("invalidFilter");
  });
  it("returns allowed statuses instead of throwing", async () => {
    const { t } = make(() => scimError(404));
    expect((await t.request({ method: "DELETE", path: "/Users/x" }, { allow: [404] })).status).toBe(404);
  });
});

describe("retries with exponential backoff and jitter", () => {
  it("computes exponential backoff with equal jitter capped at maxMs", () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, b, () => 0)).toBe(50);
    expect(backoffDelay(0, b, () => 0.999999)).toBe(100);
    expect(backoffDelay(2, b, () => 0.5)).toBe(300);
    expect(backoffDelay(10, b, () => 0.5)).toBe(750);
  });

  it("retries 5xx and network errors, then succeeds, sleeping the backoff", async () => {
    const { t, calls, time } = make((_, i) => (i === 0 ? scimError(503) : i === 1 ? new TypeError("fetch failed") : { status: 200, body: {} }));
    expect((await t.request({ method: "GET", path: "/Users/1" })).status).toBe(200);
    expect(calls).toHaveLength(3);
    expect(time.sleeps).toEqual([75, 150]);
  });

  it("gives up after the retries with the last error", async () => {
    const { t, calls } = make(() => scimError(502));
    const e = (await failure(t.request({ method: "GET", path: "/Users/1" }))) as ScimResponseError;
    expect(e.httpStatus).toBe(502);
    expect(calls).toHaveLength(4);
  });

  it("maps a network failure to SCIM_NETWORK with a cause", async () => {
    const { t } = make(() => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }), { retries: 0 });
    const e = (await failure(t.request({ method: "GET", path: "/Users/1" }))) as ProvisioningError;
    expect(e.code).toBe("SCIM_NETWORK");
    expect(e.message).toContain("econnrefused");
    expect(e.cause).toBeInstanceOf(TypeError);
  });

  it("honours Retry-After in seconds on 429", async () => {
    const { t, time } = make((_, i) => (i === 0 ? { ...scimError(429), headers: { "retry-after": "7" } } : { status: 200, body: {} }));
    await t.request({ method: "GET", path: "/Users" });
    expect(time.sleeps).toEqual([7000]);
  });

  it("honours Retry-After as an HTTP date", async () => {
    const time0 = Date.UTC(2026, 0, 1);
    const at = new Date(time0 + 3000).toUTCString();
    const { t, time } = make((_, i) => (i === 0 ? { ...scimError(503), headers: { "retry-after": at } } : { status: 200, body: {} }));
    await t.request({ method: "GET", path: "/Users" });
    expect(time.sleeps).toEqual([3000]);
  });

  it("parses Retry-After forms", () => {
    expect(parseRetryAfter("0", 0)).toBe(0);
    expect(parseRetryAfter("12", 0)).toBe(12000);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 1000)).toBe(4000);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 9000)).toBe(0);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it("does not retry when the wait would pass the deadline (SCIM_BUDGET_EXHAUSTED)", async () => {
    const start = Date.UTC(2026, 0, 1);
    const { t, calls, time } = make(() => ({ ...scimError(429), headers: { "retry-after": "5" } }), { deadline: start + 2000 });
    const e = (await failure(t.request({ method: "GET", path: "/Users" }))) as ProvisioningError;
    expect(e.code).toBe("SCIM_BUDGET_EXHAUSTED");
    expect((e.cause as ScimResponseError).httpStatus).toBe(429);
    expect(calls).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it("retries while the wait fits the deadline", async () => {
    const start = Date.UTC(2026, 0, 1);
    const { t, calls } = make((_, i) => (i < 2 ? scimError(500) : { status: 200, body: {} }), { deadline: start + 10_000 });
    expect((await t.request({ method: "GET", path: "/Users" })).status).toBe(200);
    expect(calls).toHaveLength(3);
  });

  it("sends nothing once the deadline has passed", async () => {
    const start = Date.UTC(2026, 0, 1);
    const { t, calls } = make(() => ({ status: 200 }), { deadline: start });
    expect(((await failure(t.request({ method: "GET", path: "/Users" }))) as ProvisioningError).code).toBe("SCIM_BUDGET_EXHAUSTED");
    expect(calls).toHaveLength(0);
  });
});

describe("per-request timeout", () => {
  it("aborts a hanging request and reports SCIM_TIMEOUT after the retries", async () => {
    const { t, calls } = make(() => "hang", { ...immediateTimer, retries: 1, timeoutMs: 1234 });
    const e = (await failure(t.request({ method: "GET", path: "/Users/1" }))) as ProvisioningError;
    expect(e.code).toBe("SCIM_TIMEOUT");
    expect(e.message).toContain("1234 ms");
    expect(calls).toHaveLength(2);
  });

  it("shortens the timeout to the deadline", async () => {
    const start = Date.UTC(2026, 0, 1);
    const timeouts: number[] = [];
    const { t } = make(() => ({ status: 200, body: {} }), {
      timeoutMs: 60_000,
      deadline: start + 800,
      setTimer: (_fn, ms) => timeouts.push(ms),
      clearTimer: () => undefined,
    });
    await t.request({ method: "GET", path: "/Users" });
    expect(timeouts).toEqual([800]);
  });
});

describe("client-side rate limit (token bucket)", () => {
  it("spaces requests beyond the burst at 1/rate seconds on the injected clock", async () => {
    const { t, time } = make(() => ({ status: 200, body: {} }), { rateLimitPerSecond: 2 });
    await Promise.all(Array.from({ length: 5 }, () => t.request({ method: "GET", path: "/Users" })));
    expect(time.sleeps).toEqual([500, 500, 500]);
  });
  it("does not wait without a rate limit", async () => {
    const { t, time } = make(() => ({ status: 200, body: {} }));
    await Promise.all(Array.from({ length: 5 }, () => t.request({ method: "GET", path: "/Users" })));
    expect(time.sleeps).toEqual([]);
  });
});

describe("API key rotation", () => {
  it("tries the next key first and remembers it when it works", async () => {
    const keyState: KeyState = {};
    const { t, calls } = make(() => ({ status: 200, body: {} }), { apiKeyNext: NEXT, keyState });
    await t.request({ method: "GET", path: "/Users" });
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${NEXT}`);
    expect(keyState.preferred).toBe("next");
  });

  it("falls back to the current key on 401 and remembers it across transports", async () => {
    const keyState: KeyState = {};
    const handler = (c: import("./fakes.js").Call): Reply => (c.headers.authorization === `Bearer ${KEY}` ? { status: 200, body: {} } : scimError(401));
    const first = make(handler, { apiKeyNext: NEXT, keyState });
    await first.t.request({ method: "GET", path: "/Users" });
    expect(first.calls.map((c) => c.headers.authorization)).toEqual([`Bearer ${NEXT}`, `Bearer ${KEY}`]);
    expect(keyState.preferred).toBe("current");
    const second = make(handler, { apiKeyNext: NEXT, keyState });
    await second.t.request({ method: "GET", path: "/Users" });
    expect(second.calls.map((c) => c.headers.authorization)).toEqual([`Bearer ${KEY}`]);
  });

  it("never falls back on 403", async () => {
    const { t, calls } = make(() => scimError(403), { apiKeyNext: NEXT });
    const e = (await failure(t.request({ method: "GET", path: "/Users" }))) as ScimResponseError;
    expect(e.httpStatus).toBe(403);
    expect(calls).toHaveLength(1);
  });

  it("reports 401 when both keys are refused", async () => {
    const { t, calls } = make(() => scimError(401), { apiKeyNext: NEXT });
    expect(((await failure(t.request({ method: "GET", path: "/Users" }))) as ScimResponseError).httpStatus).toBe(401);
    expect(calls).toHaveLength(2);
  });
});

describe("the key never appears in an error or a log line", () => {
  it.each([
    ["401", () => scimError(401)],
    ["500", () => scimError(500, undefined, "boom")],
    ["network error quoting the header", () => new TypeError(`connect failed for Authorization: Bearer ${KEY}`)],
  ] as const)("%s", async (_name, reply) => {
    const lines: string[] = [];
    const { t } = make(reply as () => Reply, { retries: 1, apiKeyNext: NEXT, onResponse: (i) => lines.push(JSON.stringify(i)) });
    const e = await failure(t.request({ method: "GET", path: "/Users" }));
    const text = [e.message, String(e.stack), JSON.stringify(e), String((e.cause as Error | undefined)?.message ?? ""), String((e.cause as Error | undefined)?.stack ?? ""), ...lines].join("\n");
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(NEXT);
    expect(lines.length).toBeGreaterThan(0);
  });

  it("reports each response to onResponse with method, path, status, attempt", async () => {
    const infos: unknown[] = [];
    const { t } = make((_, i) => (i === 0 ? scimError(503) : { status: 200, body: {} }), { onResponse: (i) => infos.push(i) });
    await t.request({ method: "GET", path: "/Users", query: { filter: 'userName eq "x"' } });
    expect(infos).toEqual([
      { method: "GET", path: "/Users", status: 503, ms: 0, attempt: 1 },
      { method: "GET", path: "/Users", status: 200, ms: 0, attempt: 2 },
    ]);
  });
});
