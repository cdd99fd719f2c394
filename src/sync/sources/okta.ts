/**
 * Okta source (API token, `Authorization: SSWS <token>`). Users from `/api/v1/users`, groups
 * from `/api/v1/groups`, members from `/api/v1/groups/{id}/users`, paged by `Link: rel="next"`
 * to the end. Okta rate limits answer 429 with `X-Rate-Limit-Reset`, honoured. Mapping in ./okta-map.ts.
 */
import type { OktaSourceConfig } from "../../config/types.js";
import { ConfigError } from "../../errors.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import {
  checkBaseUrl,
  collectUsers,
  finish,
  httpClientOptions,
  listAll,
  movedUnderRead,
  readGroupMembers,
  requireEnv,
  SourceHttpClient,
  type Page,
  type RestSourceOptions,
} from "./http.js";
import { mapOktaGroup, mapOktaUser, nextLink, type OktaGroup, type OktaUser } from "./okta-map.js";
import { oktaFingerprint } from "./fingerprint.js";

export function createOktaSource(config: OktaSourceConfig, options: RestSourceOptions): DirectorySource {
  if (!config.orgUrl) throw new ConfigError('"sync.source.orgUrl" is required for "okta"');
  const orgUrl = checkBaseUrl(config.orgUrl, "sync.source.orgUrl");
  const fingerprint = oktaFingerprint(config);
  const limit = String(Math.min(Math.max(1, config.pageSize), 200));

  async function read(signal?: AbortSignal): Promise<SourceRead> {
    const apiToken = requireEnv(options.env, config.apiTokenEnv, "okta api token");
    const client = new SourceHttpClient({ ...httpClientOptions("okta", options, config, () => [apiToken]), authorize: async () => `SSWS ${apiToken}` });
    const origin = new URL(orgUrl).origin;
    const pager =
      <T>(first: string) =>
      async (cursor: string | undefined): Promise<Page<T>> => {
        const url = cursor ?? first;
        if (cursor !== undefined && new URL(cursor).origin !== origin) throw new Error(`the "next" link points outside "${origin}"`);
        const res = await client.request<unknown>(url, {}, signal);
        if (!Array.isArray(res.body)) throw new Error(`"${new URL(url).pathname}" answered without an array`);
        const next = nextLink(res.headers.get("link"));
        return { items: res.body as T[], ...(next ? { next } : {}) };
      };

    const reasons: string[] = [];
    const users = await listAll(client, "okta users", pager<OktaUser>(`${orgUrl}/api/v1/users?limit=${limit}`), signal);
    if (users.incompleteReason) reasons.push(users.incompleteReason);
    const groupsQuery = new URLSearchParams({ limit });
    if (config.groupSearch) groupsQuery.set("search", config.groupSearch);
    const groups = await listAll(client, "okta groups", pager<OktaGroup>(`${orgUrl}/api/v1/groups?${groupsQuery}`), signal);
    if (groups.incompleteReason) reasons.push(groups.incompleteReason);

    const directoryUsers = collectUsers(users.items, (u) => mapOktaUser(u, config.inactiveStatuses), reasons, movedUnderRead("okta"));
    const directoryGroups = await readGroupMembers(
      groups.items,
      config.concurrency,
      reasons,
      (g) => listAll(client, `okta group "${g.profile?.name ?? g.id}" users`, pager<OktaUser>(`${orgUrl}/api/v1/groups/${encodeURIComponent(g.id)}/users?limit=${limit}`), signal),
      mapOktaGroup,
    );
    return finish({ users: directoryUsers, groups: directoryGroups }, reasons, fingerprint);
  }

  return { fingerprint, read };
}
