import { describe, expect, it } from "vitest";
import { bulkRequest, bulkResourceId, processBulkResponse, resolveBulkIds, splitBulkOperations } from "../../src/scim/bulk.js";
import type { BulkOperation } from "../../src/scim/types.js";

const op = (k: number, size = 10): BulkOperation => ({ method: "POST", path: "/Users", bulkId: `b${k}`, data: { userName: `u${k}`, pad: "x".repeat(size) } });
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length;

describe("RFC 7644 §3.7 bulk operations", () => {
  it("splits within maxOperations, keeping order", () => {
    const chunks = splitBulkOperations(Array.from({ length: 7 }, (_, k) => op(k)), { maxOperations: 3, maxPayloadSize: 1_000_000 });
    expect(chunks.map((c) => c.length)).toEqual([3, 3, 1]);
    expect(chunks.flat().map((o) => o.bulkId)).toEqual(["b0", "b1", "b2", "b3", "b4", "b5", "b6"]);
  });

  it("splits within maxPayloadSize (serialised request bytes)", () => {
    const ops = Array.from({ length: 6 }, (_, k) => op(k, 200));
    const limit = bytes(bulkRequest(ops.slice(0, 2), 1)) + 10;
    const chunks = splitBulkOperations(ops, { maxOperations: 100, maxPayloadSize: limit }, 1);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2]);
    for (const c of chunks) expect(bytes(bulkRequest(c, 1))).toBeLessThanOrEqual(limit);
  });

  it("refuses one operation larger than maxPayloadSize", () => {
    expect(() => splitBulkOperations([op(1, 5000)], { maxOperations: 10, maxPayloadSize: 1000 })).toThrow(/maxPayloadSize/);
  });

  it("§3.7.2 bulkId references resolve from earlier responses", () => {
    const known = new Map([["b1", "id-1"]]);
    const patch: BulkOperation = { method: "PATCH", path: "/Groups/g1", data: { Operations: [{ op: "add", path: "members", value: [{ value: "bulkId:b1" }, { value: "bulkId:b9" }] }] } };
    expect(resolveBulkIds(patch, known).data).toEqual({ Operations: [{ op: "add", path: "members", value: [{ value: "id-1" }, { value: "bulkId:b9" }] }] });
    expect(resolveBulkIds({ method: "DELETE", path: "/Users/bulkId:b1" }, known).path).toBe("/Users/id-1");
  });

  it("reads the resource id from location or response", () => {
    expect(bulkResourceId({ method: "POST", status: "201", location: "https://x/scim/v2/Users/abc%20d" })).toBe("abc d");
    expect(bulkResourceId({ method: "POST", status: "201", response: { id: "r1" } })).toBe("r1");
    expect(() => processBulkResponse({})).toThrow(/Operations/);
    expect(bulkRequest([], 2)).toEqual({ schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], failOnErrors: 2, Operations: [] });
  });
});
