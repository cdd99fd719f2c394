/** A Microsoft Graph + Entra token endpoint double (client credentials, `@odata.nextLink` paging). */
import { bearer, slice, startDouble, type Double } from "./server.js";

export interface GraphData {
  users: Array<{ id: string; mail?: string | null; userPrincipalName: string; givenName?: string; surname?: string; displayName?: string; accountEnabled: boolean }>;
  /** members name user ids or group ids */
  groups: Array<{ id: string; displayName: string; members: string[] }>;
}

export interface GraphDouble extends Double {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  tokensIssued: number;
}

export async function startGraphDouble(data: GraphData, opts: { maxTop?: number } = {}): Promise<GraphDouble> {
  const tenantId = "7d2c8b9e-1f3a-4c5d-9e8f-0a1b2c3d4e5f";
  const clientId = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  const clientSecret = "graph-secret-Zq8~xY7.wV6_uT5";
  const maxTop = opts.maxTop ?? 999;
  let issued = 0;
  const groupIds = new Set(data.groups.map((g) => g.id));
  const page = (base: string, path: string, query: URLSearchParams, items: unknown[]) => {
    const top = Math.min(Number(query.get("$top") ?? 100), maxTop);
    const skip = Number(query.get("$skiptoken") ?? 0);
    const { page: value, next } = slice(items, skip, top);
    const q = new URLSearchParams(query);
    if (next !== undefined) q.set("$skiptoken", String(next));
    return { body: { "@odata.context": `${base}/v1.0/$metadata`, value, ...(next !== undefined ? { "@odata.nextLink": `${base}${path}?${q}` } : {}) } };
  };
  const flatten = (id: string, seen: Set<string>): string[] => {
    const g = data.groups.find((x) => x.id === id);
    if (!g) return [];
    const out: string[] = [];
    for (const m of g.members) {
      if (groupIds.has(m)) {
        if (seen.has(m)) continue;
        seen.add(m);
        out.push(m, ...flatten(m, seen));
      } else out.push(m);
    }
    return [...new Set(out)];
  };
  const d = await startDouble((req, base) => {
    if (req.method === "POST" && req.path === `/${tenantId}/oauth2/v2.0/token`) {
      const f = new URLSearchParams(req.body);
      if (f.get("grant_type") !== "client_credentials" || f.get("client_id") !== clientId || f.get("client_secret") !== clientSecret) {
        return { status: 401, body: { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." } };
      }
      issued++;
      double.tokensIssued = issued;
      return { body: { token_type: "Bearer", expires_in: 3599, access_token: `graph-token-${issued}` } };
    }
    if (!bearer(req)?.startsWith("graph-token-")) return { status: 401, body: { error: { code: "InvalidAuthenticationToken", message: "Access token is empty." } } };
    if (req.path === "/v1.0/users") return page(base, req.path, req.query, data.users);
    if (req.path === "/v1.0/groups") return page(base, req.path, req.query, data.groups.map(({ id, displayName }) => ({ id, displayName })));
    const m = /^\/v1\.0\/groups\/([^/]+)\/(members|transitiveMembers)$/.exec(req.path);
    if (m) {
      const g = data.groups.find((x) => x.id === m[1]);
      if (!g) return { status: 404, body: { error: { code: "Request_ResourceNotFound", message: "not found" } } };
      const ids = m[2] === "members" ? g.members : flatten(g.id, new Set([g.id]));
      const items = ids.map((id) => ({ "@odata.type": groupIds.has(id) ? "#microsoft.graph.group" : "#microsoft.graph.user", id }));
      return page(base, req.path, req.query, items);
    }
    return { status: 404, body: { error: { code: "NotFound", message: req.path } } };
  });
  const double: GraphDouble = Object.assign(d, { tenantId, clientId, clientSecret, tokensIssued: 0 });
  return double;
}
