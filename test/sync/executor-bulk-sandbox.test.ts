import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadProvisioningConfig } from "../../src/config/load.js";
import { ScimClient } from "../../src/scim/client.js";
import type { BulkOperation } from "../../src/scim/types.js";
import { LedgerStore } from "../../src/sync/ledger.js";
import type { CatalogEndpointValues } from "../../src/sync/run.js";
import { createWorkspace, makeDirectory, type Workspace } from "./harness.js";

// these tests spawn the sandbox: allow for a loaded machine
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const FAILING = "user3@example.com";

/** the harness mapping: IdP group → Catalog group */
const MAPPING: Record<string, string> = {
  "data-platform-engineers": "catalog-admins",
  "it-admins": "catalog-admins",
  "analysts-finance": "finance-readers",
  "analysts-marketing": "mkt-readers",
  "data-governance-leads": "data-stewards",
};


describe("RFC 7644 §3.7.2 bulkId references: a create that fails inside a Bulk request (sandbox, full profile)", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace({ profile: "full" });
    ws.writeConfig("  batchSize: 100\n");
  });
  afterAll(async () => {
    await ws?.close();
  });

  it("the members created in the same request still land, the failed one is reported and left out of the ledger; the next run converges", async () => {
    const directory = makeDirectory();
    ws.writeDirectory(directory);
    // the Catalog refuses one create of the request (a non-boolean "active": 400), so the member PATCHes naming it by bulkId get 409
    const createClient = (endpoint: CatalogEndpointValues): ScimClient => {
      const client = new ScimClient({ baseUrl: endpoint.baseUrl, apiKey: endpoint.apiKey });
      const bulk = client.bulk.bind(client);
      client.bulk = (ops: BulkOperation[], options) =>
        bulk(
          ops.map((o) => (o.method === "POST" && (o.data as { userName?: string }).userName === FAILING ? { ...o, data: { ...(o.data as object), active: "False" } } : o)),
          options,
        );
      return client;
    };
    await ws.sandbox.clearRequests();
    const first = await ws.run({ createClient });
    const failing = directory.users.find((u) => u.email === FAILING)!;
    const groupsOf = (id: string) => directory.groups.filter((g) => g.members.includes(id));
    const expectedMemberships = directory.groups.reduce((n, g) => n + g.members.length, 0);
    expect(first.summary).toMatchObject({ created: 11, failed: 1, membershipsAdded: expectedMemberships - groupsOf(failing.id).length });

    // one Bulk request with every create and member PATCH, then each PATCH that named the failed create again, without it
    const writes = (await ws.sandbox.requests()).filter((e) => e.method !== "GET");
    const catalogGroupsOfFailing = new Set(groupsOf(failing.id).map((g) => MAPPING[g.name]));
    expect(writes.map((w) => `${w.method} ${w.path.split("/")[1]}`)).toEqual(["POST Bulk", ...[...catalogGroupsOfFailing].map(() => "PATCH Groups")]);

    // the Catalog and the ledger agree: every membership but the failed user's
    const config = loadProvisioningConfig({ file: ws.configFile, env: ws.env });
    const client = new ScimClient({ baseUrl: ws.sandbox.baseUrl, apiKey: ws.sandbox.apiKey });
    const ledger = new LedgerStore(config.sync!.ledgerPath).ledger;
    expect(ledger.users.map((u) => u.externalId).sort()).toEqual(directory.users.filter((u) => u !== failing).map((u) => u.id).sort());
    const byScimId = new Map(ledger.users.map((u) => [u.scimId, u]));
    for (const name of new Set(Object.values(MAPPING))) {
      const group = (await client.findGroupByDisplayName(name))!;
      const members = await client.listGroupMembers(group.id);
      const want = new Set(directory.groups.filter((g) => MAPPING[g.name] === name).flatMap((g) => g.members).filter((id) => id !== failing.id));
      expect(members.map((m) => byScimId.get(m)?.externalId).sort(), name).toEqual([...want].sort());
      for (const m of members) expect(byScimId.get(m)!.granted, name).toContain(group.id);
    }

    // the next run creates the user and adds it to its groups
    const second = await ws.run();
    expect(second.summary).toMatchObject({ created: 1, failed: 0, membershipsAdded: catalogGroupsOfFailing.size });
    const after = new LedgerStore(config.sync!.ledgerPath).ledger;
    const added = after.users.find((u) => u.externalId === failing.id)!;
    expect(added.granted).toHaveLength(catalogGroupsOfFailing.size);
  });
});
