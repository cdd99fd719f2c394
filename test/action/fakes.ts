/**
 * An Auth0-shaped fake `api` that records calls, and login event builders, for executor tests.
 */
import type { CacheRecord, PostLoginApi, PostLoginEvent } from "../../src/action/auth0-types.js";
import type { ActionConfig } from "../../src/config/action-config.js";
import { compileActionConfig } from "../../src/config/action-config.js";
import { loadProvisioningConfigText } from "../../src/config/load.js";

export interface FakeApi extends PostLoginApi {
  denied: string[];
  appMetadata: Record<string, unknown>;
  metadataWrites: number;
  claims: Record<string, unknown>;
  store: Map<string, CacheRecord>;
}

export function fakeApi(store = new Map<string, CacheRecord>()): FakeApi {
  const api: FakeApi = {
    denied: [],
    appMetadata: {},
    metadataWrites: 0,
    claims: {},
    store,
    access: { deny: (reason: string) => api.denied.push(reason) },
    idToken: { setCustomClaim: (k: string, v: unknown) => (api.claims[`id:${k}`] = v) },
    accessToken: { setCustomClaim: (k: string, v: unknown) => (api.claims[`access:${k}`] = v) },
    user: {
      setAppMetadata: (k: string, v: unknown) => {
        api.metadataWrites++;
        api.appMetadata[k] = v;
      },
    },
    cache: {
      get: (k: string) => store.get(k),
      set: (k: string, value: string, o?: { ttl?: number }) => {
        if (k.length > 64 || value.length > 4096) return { type: "error", code: "CacheValueSizeExceeded" };
        const record = { value, expires_at: Date.now() + (o?.ttl ?? 900_000) };
        store.set(k, record);
        return { type: "success", record };
      },
      delete: (k: string) => store.delete(k),
    },
  };
  return api;
}

export const CONFIG_YAML = `
catalog:
  url: http://127.0.0.1:9/scim/v2
groups:
  analysts-finance: finance-readers
  finance-leads: finance-readers
  analysts-marketing: mkt-readers
  data-governance-leads: data-stewards
`;

export function actionConfig(edit: (c: ActionConfig) => void = () => {}): ActionConfig {
  const config = compileActionConfig(loadProvisioningConfigText(CONFIG_YAML, "/tmp/provisioning-test/provisioning.yaml", { env: {} }));
  edit(config);
  return config;
}

export interface LoginOptions {
  id?: string;
  email?: string;
  groups?: unknown;
  appMetadata?: Record<string, unknown>;
  clientId?: string;
  metadata?: Record<string, string>;
  secrets: Record<string, string>;
  protocol?: string;
}

export function loginEvent(o: LoginOptions): PostLoginEvent {
  const id = o.id ?? "ada-123";
  return {
    user: {
      user_id: `samlp|acme-saml|${id}`,
      email: o.email ?? `${id}@acme.example`,
      given_name: "Ada",
      family_name: "Lovelace",
      name: "Ada Lovelace",
      app_metadata: o.appMetadata ?? {},
      identities: [{ connection: "acme-saml", provider: "samlp", user_id: id }],
      groups: o.groups ?? ["analysts-finance"],
    },
    connection: { id: "con_1", name: "acme-saml", strategy: "samlp", ...(o.metadata ? { metadata: o.metadata } : {}) },
    client: { client_id: o.clientId ?? "catalog-app", name: "Catalog" },
    transaction: { protocol: o.protocol ?? "oidc-basic-profile" },
    secrets: o.secrets,
  };
}
