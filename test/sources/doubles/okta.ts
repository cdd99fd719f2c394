/** An Okta management API double (SSWS token, `Link: rel="next"` paging with `after` cursors). */
import { slice, startDouble, type Double } from "./server.js";

export interface OktaData {
  users: Array<{ id: string; status: string; profile: { login: string; email: string; firstName?: string; lastName?: string; displayName?: string } }>;
  groups: Array<{ id: string; name: string; members: string[] }>;
}

export interface OktaDouble extends Double {
  apiToken: string;
}

export async function startOktaDouble(data: OktaData): Promise<OktaDouble> {
  const apiToken = "00aBcDeFgHiJkLmNoPqRsTuVwXyZ-okta-token";
  const page = (base: string, path: string, query: URLSearchParams, items: unknown[], max: number) => {
    const limit = Math.min(Number(query.get("limit") ?? 20), max);
    const after = Number(query.get("after") ?? 0);
    const { page: body, next } = slice(items, after, limit);
    const headers: Record<string, string> = {};
    const self = `<${base}${path}?${query}>; rel="self"`;
    if (next !== undefined) {
      const q = new URLSearchParams(query);
      q.set("after", String(next));
      headers.link = `${self}, <${base}${path}?${q}>; rel="next"`;
    } else headers.link = self;
    return { headers, body };
  };
  const d = await startDouble((req, base) => {
    if (req.headers.authorization !== `SSWS ${apiToken}`) return { status: 401, body: { errorCode: "E0000011", errorSummary: "Invalid token provided", errorLink: "E0000011", errorCauses: [] } };
    if (req.path === "/api/v1/users") return page(base, req.path, req.query, data.users.filter((u) => u.status !== "DEPROVISIONED"), 200);
    if (req.path === "/api/v1/groups") {
      return page(base, req.path, req.query, data.groups.map((g) => ({ id: g.id, type: "OKTA_GROUP", profile: { name: g.name, description: null } })), 200);
    }
    const m = /^\/api\/v1\/groups\/([^/]+)\/users$/.exec(req.path);
    if (m) {
      const g = data.groups.find((x) => x.id === m[1]);
      if (!g) return { status: 404, body: { errorCode: "E0000007", errorSummary: "Not found" } };
      return page(base, req.path, req.query, g.members.map((id) => data.users.find((u) => u.id === id)!), 1000);
    }
    return { status: 404, body: { errorCode: "E0000022", errorSummary: "The endpoint does not support the provided HTTP method" } };
  });
  return Object.assign(d, { apiToken });
}
