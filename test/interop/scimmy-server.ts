/**
 * A third-party SCIM 2.0 server for interoperability tests: scimmy 1.3.5 + scimmy-routers
 * 1.3.2 under Express 4, in-memory resources, on 127.0.0.1 with a free port.
 *
 * scimmy leaves uniqueness to the handler; this one rejects a duplicate `userName`
 * case-insensitively with 409 `uniqueness`. Its other quirks are kept on purpose, so the client
 * is tested against them: `eq` is case-sensitive even for `userName`, `add` of an existing
 * member duplicates it, a filter value with an escaped quote is rejected, ETags are not
 * supported (yet Express sends a weak `ETag` of its own).
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

type Rec = Record<string, any> & { id: string };

export interface ScimmyServer {
  /** `http://127.0.0.1:<port>/scim/v2` */
  baseUrl: string;
  token: string;
  users: Map<string, Rec>;
  groups: Map<string, Rec>;
  /** adds a group directly (groups exist before provisioning) */
  createGroup(displayName: string): Rec;
  reset(): void;
  stop(): Promise<void>;
}

let declared: { users: Map<string, Rec>; groups: Map<string, Rec> } | undefined;

/** scimmy's resource handlers are global: declare them once per process over shared stores */
function declare(): { users: Map<string, Rec>; groups: Map<string, Rec> } {
  if (declared) return declared;
  const users = new Map<string, Rec>();
  const groups = new Map<string, Rec>();
  const now = () => new Date().toISOString();
  const S = SCIMMY as any;
  const notFound = (id: string) => new S.Types.Error(404, null, `Resource ${id} not found`);
  // scimmy does not filter for you: egress applies the filter; ListResponse paginates
  const egress = (store: Map<string, Rec>) => (res: any) => {
    if (res.id) {
      const r = store.get(res.id);
      if (!r) throw notFound(res.id);
      return r;
    }
    const all = [...store.values()];
    return res.filter ? res.filter.match(all) : all;
  };
  S.Resources.declare(S.Resources.User)
    .ingress((res: any, inst: any) => {
      if (res.id && !users.has(res.id)) throw notFound(res.id);
      if ([...users.values()].some((u) => u.id !== res.id && String(u.userName).toLowerCase() === String(inst.userName).toLowerCase())) {
        throw new S.Types.Error(409, "uniqueness", `userName ${inst.userName} already exists`);
      }
      const prev = res.id ? users.get(res.id) : undefined;
      const rec = { ...JSON.parse(JSON.stringify(inst)), id: res.id ?? randomUUID(), meta: { created: prev?.meta?.created ?? now(), lastModified: now() } };
      users.set(rec.id, rec);
      return rec;
    })
    .egress(egress(users))
    .degress((res: any) => {
      if (!users.delete(res.id)) throw notFound(res.id);
      for (const g of groups.values()) g.members = (g.members ?? []).filter((m: any) => m.value !== res.id);
    });
  S.Resources.declare(S.Resources.Group)
    .ingress((res: any, inst: any) => {
      if (res.id && !groups.has(res.id)) throw notFound(res.id);
      const prev = res.id ? groups.get(res.id) : undefined;
      const rec = { ...JSON.parse(JSON.stringify(inst)), id: res.id ?? randomUUID(), meta: { created: prev?.meta?.created ?? now(), lastModified: now() } };
      groups.set(rec.id, rec);
      return rec;
    })
    .egress(egress(groups))
    .degress((res: any) => {
      if (!groups.delete(res.id)) throw notFound(res.id);
    });
  declared = { users, groups };
  return declared;
}

export async function startScimmyServer(options: { token?: string } = {}): Promise<ScimmyServer> {
  const token = options.token ?? `scimmy-${randomUUID()}`;
  const { users, groups } = declare();
  const app = express();
  app.use(
    "/scim/v2",
    new SCIMMYRouters({
      type: "bearer",
      handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Unauthorized");
        return "admin";
      },
    }) as unknown as express.Router,
  );
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/scim/v2`,
    token,
    users,
    groups,
    createGroup(displayName) {
      const rec: Rec = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], id: randomUUID(), displayName, members: [], meta: { created: new Date().toISOString() } };
      groups.set(rec.id, rec);
      return rec;
    },
    reset() {
      users.clear();
      groups.clear();
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
