/**
 * Microsoft Entra ID source through Microsoft Graph (client credentials grant).
 * Users from `/users`, groups from `/groups`, members from `/groups/{id}/members` (or
 * `transitiveMembers`), paged by `@odata.nextLink` to the end. Mapping in ./msgraph-map.ts.
 */
import type { MsGraphSourceConfig } from "../../config/types.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import { bearerTokenClient, checkBaseUrl, collectUsers, finish, listAll, movedUnderRead, readGroupMembers, requireEnv, type Page, type RestSourceOptions } from "./http.js";
import { mapGraphGroup, mapGraphUser, type GraphGroup, type GraphMember, type GraphUser } from "./msgraph-map.js";
import { ConfigError } from "../../errors.js";
import { msgraphFingerprint } from "./fingerprint.js";

const USER_SELECT = "id,mail,userPrincipalName,givenName,surname,displayName,accountEnabled";

export function createMsGraphSource(config: MsGraphSourceConfig, options: RestSourceOptions): DirectorySource {
  if (!config.tenantId || !config.clientId) throw new ConfigError('"sync.source.tenantId" and "sync.source.clientId" are required for "msgraph"');
  const baseUrl = checkBaseUrl(config.baseUrl, "sync.source.baseUrl");
  const authorityUrl = checkBaseUrl(config.authorityUrl, "sync.source.authorityUrl");
  const fingerprint = msgraphFingerprint(config);
  const pageSize = Math.min(Math.max(1, config.pageSize), 999);

  async function read(signal?: AbortSignal): Promise<SourceRead> {
    const secret = requireEnv(options.env, config.clientSecretEnv, "microsoft graph client secret");
    const client = await bearerTokenClient({
      label: "msgraph",
      options,
      limits: config,
      credential: secret,
      who: `msgraph tenant "${config.tenantId}"`,
      requestToken: (tokenClient) =>
        tokenClient.request<{ access_token?: unknown }>(
          `${authorityUrl}/${encodeURIComponent(config.tenantId)}/oauth2/v2.0/token`,
          {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({
              grant_type: "client_credentials",
              client_id: config.clientId,
              client_secret: secret,
              scope: `${new URL(baseUrl).origin}/.default`,
            }).toString(),
          },
          signal,
        ),
    });

    /** GET a Graph collection page; the cursor is the full `@odata.nextLink`. */
    const pager =
      <T>(first: string) =>
      async (cursor: string | undefined): Promise<Page<T>> => {
        const url = cursor ?? first;
        if (cursor !== undefined && !sameOrigin(cursor, baseUrl)) throw new Error(`"@odata.nextLink" points outside "${new URL(baseUrl).origin}"`);
        const res = await client.request<{ value?: unknown; "@odata.nextLink"?: unknown }>(url, { headers: { ConsistencyLevel: "eventual" } }, signal);
        if (!Array.isArray(res.body.value)) throw new Error(`"${new URL(url).pathname}" answered without a "value" array`);
        const next = res.body["@odata.nextLink"];
        return { items: res.body.value as T[], ...(typeof next === "string" && next !== "" ? { next } : {}) };
      };

    const reasons: string[] = [];
    const usersQuery = new URLSearchParams({ $select: USER_SELECT, $top: String(pageSize) });
    if (config.userFilter) usersQuery.set("$filter", config.userFilter);
    const users = await listAll(client, "msgraph users", pager<GraphUser>(`${baseUrl}/users?${usersQuery}`), signal);
    if (users.incompleteReason) reasons.push(users.incompleteReason);

    const groupsQuery = new URLSearchParams({ $select: "id,displayName", $top: String(pageSize) });
    if (config.groupFilter) groupsQuery.set("$filter", config.groupFilter);
    const groups = await listAll(client, "msgraph groups", pager<GraphGroup>(`${baseUrl}/groups?${groupsQuery}`), signal);
    if (groups.incompleteReason) reasons.push(groups.incompleteReason);

    const directoryUsers = collectUsers(users.items, mapGraphUser, reasons, movedUnderRead("msgraph"));

    const relation = config.transitiveMembers ? "transitiveMembers" : "members";
    const directoryGroups = await readGroupMembers(
      groups.items,
      config.concurrency,
      reasons,
      (g) =>
        listAll(
          client,
          `msgraph group "${g.displayName ?? g.id}" ${relation}`,
          pager<GraphMember>(`${baseUrl}/groups/${encodeURIComponent(g.id)}/${relation}?${new URLSearchParams({ $select: "id", $top: String(pageSize) })}`),
          signal,
        ),
      mapGraphGroup,
    );
    return finish({ users: directoryUsers, groups: directoryGroups }, reasons, fingerprint);
  }

  return { fingerprint, read };
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
