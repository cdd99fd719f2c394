/**
 * Google Workspace source: Admin SDK Directory API with a service account and domain-wide
 * delegation (RFC 7523 JWT bearer grant, RS256). Users from `users`, groups from `groups`,
 * members from `groups/{id}/members`, paged by `nextPageToken` to the end. Mapping in ./google-map.ts.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { importPKCS8, SignJWT } from "jose";
import type { GoogleSourceConfig } from "../../config/types.js";
import { ConfigError } from "../../errors.js";
import type { DirectorySource, SourceRead } from "../directory.js";
import {
  bearerTokenClient,
  checkBaseUrl,
  collectUsers,
  finish,
  listAll,
  mapLimit,
  movedUnderRead,
  requireEnv,
  withIds,
  type ListOutcome,
  type Page,
  type RestSourceOptions,
} from "./http.js";
import { mapGoogleGroups, mapGoogleUser, nestedGroupIds, type GoogleGroup, type GoogleMember, type GoogleUser } from "./google-map.js";
import { googleFingerprint } from "./fingerprint.js";

export const GOOGLE_SCOPES = [
  "https://www.googleapis.com/auth/admin.directory.user.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];

/** Upper bound on nested groups read outside the group list (against runaway nesting). */
const MAX_EXTRA_GROUPS = 10_000;

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

export function createGoogleSource(config: GoogleSourceConfig, options: RestSourceOptions): DirectorySource {
  if (!config.subject) throw new ConfigError('"sync.source.subject" (the admin user the service account acts as) is required for "google"');
  const baseUrl = checkBaseUrl(config.baseUrl, "sync.source.baseUrl");
  const tokenUrl = checkBaseUrl(config.tokenUrl, "sync.source.tokenUrl");
  const now = options.now ?? Date.now;
  const fingerprint = googleFingerprint(config);
  const api = `${baseUrl}/admin/directory/v1`;

  async function loadKey(): Promise<ServiceAccountKey> {
    const file = resolve(options.baseDir ?? ".", requireEnv(options.env, config.credentialsFileEnv, "path of the google service-account key file"));
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, "utf8"));
    } catch (e) {
      throw new ConfigError(`cannot read the google service-account key file "${file}": ${e instanceof SyntaxError ? "not JSON" : (e as Error).message}`, { file });
    }
    const k = parsed as Partial<ServiceAccountKey>;
    if (typeof k.client_email !== "string" || typeof k.private_key !== "string") {
      throw new ConfigError(`the google service-account key file "${file}" has no "client_email" or "private_key"`, { file });
    }
    return k as ServiceAccountKey;
  }

  async function read(signal?: AbortSignal): Promise<SourceRead> {
    const key = await loadKey();
    const client = await bearerTokenClient({
      label: "google",
      options,
      limits: config,
      credential: key.private_key,
      who: `google service account "${key.client_email}" as "${config.subject}"`,
      requestToken: async (tokenClient) => {
        const pk = await importPKCS8(key.private_key, "RS256").catch(() => {
          throw new Error('the key file\'s "private_key" is not a PKCS#8 RSA key');
        });
        const iat = Math.floor(now() / 1000);
        const assertion = await new SignJWT({ scope: GOOGLE_SCOPES.join(" ") })
          .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(key.private_key_id ? { kid: key.private_key_id } : {}) })
          .setIssuer(key.client_email)
          .setSubject(config.subject)
          .setAudience(tokenUrl)
          .setIssuedAt(iat)
          .setExpirationTime(iat + 3600)
          .sign(pk);
        return tokenClient.request<{ access_token?: unknown }>(
          tokenUrl,
          {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
          },
          signal,
        );
      },
    });

    const scope: Record<string, string> = config.domain ? { domain: config.domain } : { customer: config.customer };
    const pageSize = Math.max(1, config.pageSize);
    const pager =
      <T>(path: string, field: string, query: Record<string, string>) =>
      async (cursor: string | undefined): Promise<Page<T>> => {
        const q = new URLSearchParams(query);
        if (cursor !== undefined) q.set("pageToken", cursor);
        const res = await client.request<Record<string, unknown>>(`${api}${path}?${q}`, {}, signal);
        const items = res.body[field];
        // Google leaves the list field out of an empty page
        if (items !== undefined && !Array.isArray(items)) throw new Error(`"${path}" answered "${field}" that is not an array`);
        const next = res.body.nextPageToken;
        return { items: (items ?? []) as T[], ...(typeof next === "string" && next !== "" ? { next } : {}) };
      };

    const reasons: string[] = [];
    const users = await listAll(
      client,
      "google users",
      pager<GoogleUser>("/users", "users", { ...scope, maxResults: String(Math.min(pageSize, 500)), projection: "basic" }),
      signal,
    );
    if (users.incompleteReason) reasons.push(users.incompleteReason);
    const groups = await listAll(client, "google groups", pager<GoogleGroup>("/groups", "groups", { ...scope, maxResults: String(Math.min(pageSize, 200)) }), signal);
    if (groups.incompleteReason) reasons.push(groups.incompleteReason);

    const directoryUsers = collectUsers(users.items, mapGoogleUser, reasons, movedUnderRead("google"));

    const valid = withIds(groups.items);
    const membersById = new Map<string, GoogleMember[]>();
    const readMembers = (id: string, label: string): Promise<ListOutcome<GoogleMember>> =>
      listAll(client, `google group "${label}" members`, pager<GoogleMember>(`/groups/${encodeURIComponent(id)}/members`, "members", { maxResults: String(Math.min(pageSize, 200)) }), signal);
    let pending = valid.map((g) => ({ id: g.id, label: g.email ?? g.id }));
    let extra = 0;
    while (pending.length > 0) {
      const lists = await mapLimit(pending, config.concurrency, (g) => readMembers(g.id, g.label));
      const nextRound: { id: string; label: string }[] = [];
      pending.forEach((g, i) => {
        const r = lists[i]!;
        if (r.incompleteReason) reasons.push(r.incompleteReason);
        membersById.set(g.id, r.items);
        if (!config.nestedGroups) return;
        for (const id of nestedGroupIds(r.items)) {
          if (membersById.has(id) || nextRound.some((n) => n.id === id) || pending.some((p) => p.id === id)) continue;
          nextRound.push({ id, label: r.items.find((m) => m.id === id)?.email ?? id });
        }
      });
      extra += nextRound.length;
      if (extra > MAX_EXTRA_GROUPS) {
        reasons.push(`google nested groups: more than ${MAX_EXTRA_GROUPS} groups outside the group list`);
        break;
      }
      pending = nextRound;
    }
    const mapped = mapGoogleGroups(valid, membersById, config.nestedGroups);
    return finish({ users: directoryUsers, groups: mapped.groups }, reasons, fingerprint);
  }

  return { fingerprint, read };
}
