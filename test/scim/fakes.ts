/** In-memory fakes for the SCIM transport tests: fetch, clock, sleep, timers. */
export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | Error | "hang";

export function fakeFetch(handler: (call: Call, index: number) => Reply | Promise<Reply>) {
  const calls: Call[] = [];
  const fn = (async (input: unknown, init: RequestInit = {}) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const call: Call = {
      url: String(input),
      method: init.method ?? "GET",
      headers,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const reply = await handler(call, calls.length - 1);
    if (reply === "hang") {
      return new Promise<Response>((_, reject) => {
        if (init.signal?.aborted) reject(new DOMException("the operation was aborted", "AbortError"));
        init.signal?.addEventListener("abort", () => reject(new DOMException("the operation was aborted", "AbortError")));
      });
    }
    if (reply instanceof Error) throw reply;
    const text = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    return new Response(reply.status === 204 ? null : text, {
      status: reply.status,
      headers: { "content-type": "application/scim+json", ...(reply.headers ?? {}) },
    });
  }) as typeof fetch;
  return { fetch: fn, calls };
}

/** a clock that only moves when the fake sleep is called */
export function fakeTime(start = Date.UTC(2026, 0, 1)) {
  const sleeps: number[] = [];
  const clock = { t: start, now: () => clock.t };
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.t += ms;
  };
  return { clock, sleep, sleeps };
}

/** a timer that fires at once (used to exercise timeouts without waiting) */
export const immediateTimer = {
  setTimer: (fn: () => void) => {
    queueMicrotask(fn);
    return 0;
  },
  clearTimer: () => undefined,
};

/** a timer that never fires */
export const noTimer = { setTimer: () => 0, clearTimer: () => undefined };

export const scimError = (status: number, scimType?: string, detail?: string) => ({
  status,
  body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status), ...(scimType ? { scimType } : {}), ...(detail ? { detail } : {}) },
});

export const list = (resources: unknown[], totalResults = resources.length, startIndex = 1) => ({
  status: 200,
  body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources },
});
