/**
 * An Auth0 Management API double: client-credentials token, `/api/v2/users` with page/per_page,
 * totals and the 1,000-result paging cap, roles (offset paging) and organizations (checkpoint
 * paging) with their members (checkpoint paging).
 */
import { bearer, slice, startDouble, type Double } from "./server.js";

export interface Auth0Data {
  users: Array<{ user_id: string; email: string; given_name?: string; family_name?: string; name?: string; blocked?: boolean; identities: Array<{ connection: string; user_id: string; provider: string; isSocial: boolean }> }>;
  roles: Array<{ id: string; name: string; members: string[] }>;
  organizations: Array<{ id: string; name: string; display_name: string; members: string[] }>;
}

export interface Auth0Double extends Double {
  domain: string;
  clientId: string;
  clientSecret: string;
}

export async function startAuth0Double(data: Auth0Data): Promise<Auth0Double> {
  const domain = "acme.eu.auth0.com";
  const clientId = "sYnCcLiEnTiD0123456789abcdefABCD";
  const clientSecret = "auth0-secret-9f8e7d6c5b4a3f2e1d0c";
  let issued = 0;
  const checkpoint = (query: URLSearchParams, field: string, items: unknown[]) => {
    const take = Math.min(Number(query.get("take") ?? 50), 100);
    const from = Number(query.get("from") ?? 0);
    const { page, next } = slice(items, from, take);
    return { body: { [field]: page, ...(next !== undefined ? { next: String(next) } : {}) } };
  };
  const offset = (query: URLSearchParams, field: string, items: unknown[], cap?: number) => {
    const perPage = Math.min(Number(query.get("per_page") ?? 50), 100);
    const page = Number(query.get("page") ?? 0);
    if (cap !== undefined && (page + 1) * perPage > cap) return { status: 400, body: { statusCode: 400, error: "Bad Request", message: "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation", errorCode: "invalid_paging" } };
    const list = items.slice(page * perPage, (page + 1) * perPage);
    return { body: { start: page * perPage, limit: perPage, length: list.length, total: items.length, [field]: list } };
  };
  const d = await startDouble((req) => {
    if (req.method === "POST" && req.path === "/oauth/token") {
      const b = JSON.parse(req.body || "{}") as Record<string, string>;
      if (b.grant_type !== "client_credentials" || b.client_id !== clientId || b.client_secret !== clientSecret) {
        return { status: 401, body: { error: "access_denied", error_description: "Unauthorized" } };
      }
      if (b.audience !== `https://${domain}/api/v2/`) return { status: 403, body: { error: "access_denied", error_description: "Service not enabled within domain" } };
      issued++;
      return { body: { access_token: `auth0-mgmt-token-${issued}`, token_type: "Bearer", expires_in: 86400, scope: "read:users read:roles read:organizations" } };
    }
    if (!bearer(req)?.startsWith("auth0-mgmt-token-")) return { status: 401, body: { statusCode: 401, error: "Unauthorized", message: "Invalid token" } };
    if (req.path === "/api/v2/users") {
      let users = data.users;
      const q = req.query.get("q");
      const m = q ? /^identities\.connection:"(.*)"$/.exec(q) : null;
      if (m) users = users.filter((u) => u.identities.some((i) => i.connection === m[1]));
      return offset(req.query, "users", [...users].sort((a, b) => (a.user_id < b.user_id ? -1 : 1)), 1000);
    }
    if (req.path === "/api/v2/roles") return offset(req.query, "roles", data.roles.map(({ id, name }) => ({ id, name, description: name })));
    if (req.path === "/api/v2/organizations") return checkpoint(req.query, "organizations", data.organizations.map(({ id, name, display_name }) => ({ id, name, display_name })));
    const r = /^\/api\/v2\/roles\/([^/]+)\/users$/.exec(req.path);
    if (r) {
      const role = data.roles.find((x) => x.id === r[1]);
      if (!role) return { status: 404, body: { statusCode: 404, error: "Not Found", message: "Role not found" } };
      return checkpoint(req.query, "users", role.members.map((id) => ({ user_id: id, email: data.users.find((u) => u.user_id === id)?.email, name: "x" })));
    }
    const o = /^\/api\/v2\/organizations\/([^/]+)\/members$/.exec(req.path);
    if (o) {
      const org = data.organizations.find((x) => x.id === o[1]);
      if (!org) return { status: 404, body: { statusCode: 404, error: "Not Found", message: "Organization not found" } };
      return checkpoint(req.query, "members", org.members.map((id) => ({ user_id: id, email: data.users.find((u) => u.user_id === id)?.email })));
    }
    return { status: 404, body: { statusCode: 404, error: "Not Found", message: req.path } };
  });
  return Object.assign(d, { domain, clientId, clientSecret });
}
