/**
 * Hand-written subset of the Auth0 Post-Login v3 `event` and `api` shapes: only what this
 * project reads or calls. The authoritative shape is `auth0/auth0-actions:src/post-login/v3/index.d.ts`.
 */

export interface PostLoginIdentity {
  connection?: string;
  provider?: string;
  user_id?: string;
  isSocial?: boolean;
  profileData?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface PostLoginUser {
  user_id: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  nickname?: string;
  app_metadata: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  identities?: PostLoginIdentity[];
  /** IdP attributes (groups, SAML attribute URIs, `oid` …) arrive through the index signature */
  [key: string]: unknown;
}

export interface PostLoginConnection {
  id: string;
  name: string;
  strategy: string;
  metadata?: Record<string, string>;
}

export interface PostLoginEvent {
  user: PostLoginUser;
  connection: PostLoginConnection;
  client: { client_id: string; name?: string; metadata?: Record<string, string> };
  organization?: { id: string; name: string; display_name?: string; metadata?: Record<string, string> };
  transaction?: { id?: string; protocol?: string; [key: string]: unknown };
  secrets: Record<string, string | undefined>;
  stats?: { logins_count: number };
  tenant?: { id: string };
}

export interface CacheRecord {
  value: string;
  expires_at: number;
}

export type CacheSetResult =
  | { type: "success"; record: CacheRecord }
  | { type: "error"; code: string };

export interface PostLoginApi {
  access: { deny(reason: string): unknown };
  idToken: { setCustomClaim(key: string, value: unknown): unknown };
  accessToken: { setCustomClaim(key: string, value: unknown): unknown };
  user: { setAppMetadata(key: string, value: unknown): unknown };
  cache: {
    get(key: string): CacheRecord | undefined;
    set(key: string, value: string, options?: { ttl?: number; expires_at?: number }): CacheSetResult;
    delete(key: string): unknown;
  };
}
