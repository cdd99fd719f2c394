import { describe, expect, it } from "vitest";
import { paginate, processListResponse, queryRequest } from "../../src/scim/list-response.js";
import type { ListResponse } from "../../src/scim/types.js";

type R = { id: string };
const ids = (n: number, from = 1): R[] => Array.from({ length: n }, (_, k) => ({ id: `u${from + k}` }));

/** a server over `all`, with a page cap and a reported total that may lie */
function server(all: R[], opts: { cap?: number; total?: (n: number) => number; pastEnd?: "empty" | "first-page" } = {}) {
  const asked: [number, number][] = [];
  const fetchPage = async (startIndex: number, count: number): Promise<ListResponse<R>> => {
    asked.push([startIndex, count]);
    const size = Math.min(count, opts.cap ?? Infinity);
    let page = all.slice(startIndex - 1, startIndex - 1 + size);
    if (page.length === 0 && opts.pastEnd === "first-page") page = all.slice(0, size);
    return { schemas: [], totalResults: opts.total ? opts.total(all.length) : all.length, startIndex, itemsPerPage: page.length, Resources: page };
  };
  return { fetchPage, asked };
}

async function collect(it: AsyncIterable<R>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(r.id);
  return out;
}

describe("RFC 7644 §3.4.2.4 pagination", () => {
  it("advances the 1-based startIndex by the count received and stops on an empty page", async () => {
    const s = server(ids(250));
    expect(await collect(paginate(s.fetchPage, { count: 100 }))).toEqual(ids(250).map((r) => r.id));
    expect(s.asked).toEqual([[1, 100], [101, 100], [201, 100], [251, 100]]);
  });

  it("handles a server that caps count below the requested size", async () => {
    const s = server(ids(45), { cap: 20 });
    expect(await collect(paginate(s.fetchPage, { count: 100 }))).toHaveLength(45);
    expect(s.asked.map((a) => a[0])).toEqual([1, 21, 41, 46]);
  });

  it("does not stop early when totalResults is too low (reports the page size)", async () => {
    const s = server(ids(30), { cap: 10, total: () => 10 });
    expect(await collect(paginate(s.fetchPage, { count: 10 }))).toHaveLength(30);
  });

  it("stops on an empty page when totalResults is too high", async () => {
    const s = server(ids(5), { total: () => 500 });
    expect(await collect(paginate(s.fetchPage, { count: 2 }))).toHaveLength(5);
    expect(s.asked).toHaveLength(4);
  });

  it("stops when a page past the end repeats the first page (no new ids)", async () => {
    const s = server(ids(3), { pastEnd: "first-page" });
    expect(await collect(paginate(s.fetchPage, { count: 2 }))).toEqual(["u1", "u2", "u3"]);
    expect(s.asked).toHaveLength(3);
  });

  it("an empty collection costs one request", async () => {
    const s = server([]);
    expect(await collect(paginate(s.fetchPage))).toEqual([]);
    expect(s.asked).toEqual([[1, 100]]);
  });
});

describe("RFC 7644 §3.4.2 query requests and ListResponse", () => {
  it("builds query parameters (excludedAttributes=members for groups)", () => {
    expect(queryRequest("/Groups", { excludedAttributes: ["members"], startIndex: 0, count: -5, filter: 'displayName eq "x"' })).toEqual({
      method: "GET",
      path: "/Groups",
      query: { filter: 'displayName eq "x"', excludedAttributes: "members", startIndex: 1, count: 0 },
    });
  });
  it("accepts a missing Resources and numeric strings", () => {
    expect(processListResponse({ totalResults: "0" })).toEqual({ schemas: [], totalResults: 0, Resources: [] });
  });
  it("rejects a body that is not a ListResponse", () => {
    expect(() => processListResponse([])).toThrow(/ListResponse/);
    expect(() => processListResponse({ Resources: {} })).toThrow(/"Resources"/);
  });
});
