/** Pure vectors for the verify comparison and the group lookup (no Catalog needed). */
import { describe, expect, it } from "vitest";
import { loadProvisioningConfigText } from "../../src/config/load.js";
import { compareCatalog } from "../../src/verify/compare.js";
import { classifyGroupHits } from "../../src/verify/read.js";

const config = loadProvisioningConfigText("catalog:\n  url: https://catalog.example.com/scim/v2\ngroups:\n  analysts: finance-readers\n", "/tmp/p.yaml", { env: {} });
const target = config.targets[0]!;
const base = { target, attributes: config.attributes, connections: {}, now: "2026-01-01T00:00:00.000Z" };
const found = [{ name: "finance-readers", status: "found" as const, id: "g1", displayName: "finance-readers" }];

describe("verify without a source: the ownership ledger is the reference", () => {
  it("case-variant duplicate userNames are reported, whatever the Catalog allowed", () => {
    const f = compareCatalog({
      ...base,
      catalog: { users: [{ id: "u1", userName: "Ann@Example.com" }, { id: "u2", userName: "ann@example.com" }], groups: [{ id: "g1", displayName: "finance-readers", members: [] }] },
      lookups: found,
      ledger: { version: 1, users: [] },
    });
    expect(f).toEqual([expect.objectContaining({ kind: "case-duplicate", detail: expect.stringContaining('"Ann@Example.com" (u1), "ann@example.com" (u2)') })]);
  });

  it("a granted membership that is gone, a member nobody granted, an owned user missing from the Catalog", () => {
    const f = compareCatalog({
      ...base,
      catalog: { users: [{ id: "u1", userName: "a@x.com", externalId: "e1", active: true }, { id: "u9", userName: "z@x.com" }], groups: [{ id: "g1", displayName: "finance-readers", members: ["u9"] }] },
      lookups: found,
      ledger: {
        version: 1,
        users: [
          { scimId: "u1", externalId: "e1", target: "default", origin: "created", granted: ["g1"] },
          { scimId: "u2", externalId: "e2", target: "default", origin: "created", granted: ["g1"] },
        ],
      },
    });
    expect(f.map((x) => [x.kind, x.scimId ?? x.externalId])).toEqual([
      ["missing-member", "u1"],
      ["missing-user", "u2"],
      ["extra-member", "u9"],
      ["owned-without-group", "u1"],
    ]);
  });

  it("two users sharing an externalId are a conflict", () => {
    const f = compareCatalog({
      ...base,
      catalog: { users: [{ id: "u1", userName: "a@x.com", externalId: "same" }, { id: "u2", userName: "b@x.com", externalId: "same" }], groups: [] },
      lookups: [{ name: "finance-readers", status: "missing" }],
      ledger: { version: 1, users: [] },
    });
    expect(f.map((x) => x.kind)).toEqual(["missing-group", "externalId-conflict"]);
  });
});

describe("catalog group lookup by displayName", () => {
  it("exact once, case variant, duplicated, missing", () => {
    expect(classifyGroupHits("a", [{ id: "1", displayName: "a" }, { id: "2", displayName: "A" }])).toMatchObject({ status: "found", id: "1" });
    expect(classifyGroupHits("a", [{ id: "2", displayName: "A" }])).toMatchObject({ status: "case-variant", displayName: "A" });
    expect(classifyGroupHits("a", [{ id: "2", displayName: "a" }, { id: "1", displayName: "a" }])).toEqual({ name: "a", status: "duplicated", ids: ["1", "2"] });
    expect(classifyGroupHits("a", [{ id: "3", displayName: "ab" }])).toEqual({ name: "a", status: "missing" });
  });
});
