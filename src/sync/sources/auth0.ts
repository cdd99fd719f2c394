/**
 * Auth0 as a directory, through the Management API (client credentials). Users from
 * `/api/v2/users` (page/per_page with totals, checked against `total`; beyond the API's
 * 1,000-result paging cap the read is incomplete), roles or organizations as groups, their
 * members by checkpoint paging (`from`/`take`). Mapping in ./auth0-map.ts.
 */
import type { Auth0SourceConfig } from "../../config/types.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import { bearerTokenClient, checkBaseUrl, collectUsers, finish, listAll, readGroupMembers, requireEnv, type Page, type RestSourceOptions } from "./http.js";
import { AUTH0_USERS_PAGING_CAP, mapAuth0Group, mapAuth0User, USERS_EXPORT_HINT, type Auth0GroupLike, type Auth0Member, type Auth0User } from "./auth0-map.js";
import { auth0Domain, auth0Fingerprint } from "./fingerprint.js";

export function createAuth0Source(config: Auth0SourceConfig, options: RestSourceOptions): DirectorySource {
  const perPage = Math.min(Math.max(1, config.pageSize), 100);

  async function read(signal?: AbortSignal): Promise<SourceRead> {
    requireEnv(options.env, config.domainEnv, "auth0 domain");
    const domain = auth0Domain(config, options.env)!;
    const clientId = requireEnv(options.env, config.clientIdEnv, "auth0 client id");
    const clientSecret = requireEnv(options.env, config.clientSecretEnv, "auth0 client secret");
    const baseUrl = checkBaseUrl(config.baseUrl ?? `https://${domain}`, "sync.source.baseUrl");
    const audience = config.audience ?? `https://${domain}/api/v2/`;
    const fingerprint = auth0Fingerprint(config, domain);
    const client = await bearerTokenClient({
      label: "auth0",
      options,
      limits: config,
      credential: clientSecret,
      who: `auth0 "${domain}" client "${clientId}"`,
      requestToken: (tokenClient) =>
        tokenClient.request<{ access_token?: unknown }>(
          `${baseUrl}/oauth/token`,
          {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, audience }),
          },
          signal,
        ),
    });
    const api = `${baseUrl}/api/v2`;
    const reasons: string[] = [];

    // users: offset paging with totals, checked against `total` and the paging cap
    const usersQuery = (page: number) => {
      const q = new URLSearchParams({ page: String(page), per_page: String(perPage), include_totals: "true", sort: "user_id:1", search_engine: "v3" });
      if (config.connection) q.set("q", `identities.connection:"${config.connection.replace(/["\\]/g, "\\$&")}"`);
      return q;
    };
    let total: number | undefined;
    const users = await listAll<Auth0User>(
      client,
      "auth0 users",
      async (cursor): Promise<Page<Auth0User>> => {
        const page = cursor === undefined ? 0 : Number(cursor);
        const res = await client.request<{ users?: unknown; total?: unknown }>(`${api}/users?${usersQuery(page)}`, {}, signal);
        if (!Array.isArray(res.body.users) || typeof res.body.total !== "number") throw new Error('"/api/v2/users" answered without "users" and "total"');
        if (total === undefined) total = res.body.total;
        else if (res.body.total !== total) throw new Error(`the total changed from ${total} to ${res.body.total} during the read`);
        if (total > AUTH0_USERS_PAGING_CAP) throw new CapError(total);
        const items = res.body.users as Auth0User[];
        const readSoFar = page * perPage + items.length;
        if (items.length === 0 && readSoFar < total) throw new Error(`page ${page} came back empty at ${readSoFar} of ${total} users`);
        return { items, ...(readSoFar < total ? { next: String(page + 1) } : {}) };
      },
      signal,
    );
    if (users.incompleteReason) {
      reasons.push(users.incompleteReason.includes(CapError.marker) ? `auth0 users: ${total} users: ${USERS_EXPORT_HINT}` : users.incompleteReason);
    } else if (total !== undefined && users.items.length !== total) {
      reasons.push(`auth0 users: read ${users.items.length} of the ${total} users the api counted`);
    }

    const anchors = new Map<string, string>();
    const directoryUsers = collectUsers(
      users.items,
      (u) => mapAuth0User(u, config.connection),
      reasons,
      (id) => `auth0 users: anchor "${id}" came back twice`,
      (u, m) => anchors.set(u.user_id!, m.id),
    );

    // roles or organizations, then their members, by checkpoint paging
    const checkpoint =
      <T>(path: string, field: string) =>
      async (cursor: string | undefined): Promise<Page<T>> => {
        const q = new URLSearchParams({ take: String(perPage) });
        if (cursor !== undefined) q.set("from", cursor);
        const res = await client.request<Record<string, unknown>>(`${api}${path}?${q}`, {}, signal);
        const items = res.body[field];
        if (!Array.isArray(items)) throw new Error(`"${path}" answered without "${field}"`);
        const next = res.body.next;
        return { items: items as T[], ...(typeof next === "string" && next !== "" ? { next } : {}) };
      };
    const what = config.groupsFrom === "organizations" ? "organizations" : "roles";
    const groups =
      what === "organizations"
        ? await listAll(client, "auth0 organizations", checkpoint<Auth0GroupLike>("/organizations", "organizations"), signal)
        : await listAll<Auth0GroupLike>(
            client,
            "auth0 roles",
            async (cursor) => {
              const page = cursor === undefined ? 0 : Number(cursor);
              const q = new URLSearchParams({ page: String(page), per_page: String(perPage), include_totals: "true" });
              const res = await client.request<{ roles?: unknown; total?: unknown }>(`${api}/roles?${q}`, {}, signal);
              if (!Array.isArray(res.body.roles) || typeof res.body.total !== "number") throw new Error('"/api/v2/roles" answered without "roles" and "total"');
              const readSoFar = page * perPage + res.body.roles.length;
              if (res.body.roles.length === 0 && readSoFar < res.body.total) throw new Error(`page ${page} came back empty at ${readSoFar} of ${res.body.total} roles`);
              return { items: res.body.roles as Auth0GroupLike[], ...(readSoFar < res.body.total ? { next: String(page + 1) } : {}) };
            },
            signal,
          );
    if (groups.incompleteReason) reasons.push(groups.incompleteReason);
    const directoryGroups = await readGroupMembers(
      groups.items,
      config.concurrency,
      reasons,
      (g) =>
        listAll(
          client,
          `auth0 ${what === "roles" ? "role" : "organization"} "${g.name ?? g.id}" members`,
          what === "roles"
            ? checkpoint<Auth0Member>(`/roles/${encodeURIComponent(g.id)}/users`, "users")
            : checkpoint<Auth0Member>(`/organizations/${encodeURIComponent(g.id)}/members`, "members"),
          signal,
        ),
      (g, members) => mapAuth0Group(g, members, anchors),
    );
    return finish({ users: directoryUsers, groups: directoryGroups }, reasons, fingerprint);
  }

  return { read };
}

/** The user count is beyond what `GET /api/v2/users` can page. */
class CapError extends Error {
  static readonly marker = "beyond the users paging cap";
  constructor(total: number) {
    super(`${total} users: ${CapError.marker} of ${AUTH0_USERS_PAGING_CAP}`);
    this.name = "CapError";
  }
}
