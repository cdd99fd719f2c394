/**
 * A Google OAuth token endpoint (JWT bearer grant, RS256 verified with the service account's
 * public key) + Admin SDK Directory API double (`nextPageToken` paging).
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, exportJWK, importSPKI, jwtVerify } from "jose";
import { bearer, slice, startDouble, type Double } from "./server.js";

export interface GoogleData {
  users: Array<{ id: string; primaryEmail: string; name: { givenName: string; familyName: string; fullName: string }; suspended: boolean; archived?: boolean }>;
  /** members: ids of users or groups (a group member is type GROUP) */
  groups: Array<{ id: string; email: string; name: string; members: string[] }>;
}

export interface GoogleDouble extends Double {
  keyFile: string;
  subject: string;
  clientEmail: string;
  privateKey: string;
}

export async function startGoogleDouble(data: GoogleData): Promise<GoogleDouble> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const clientEmail = "directory-sync@acme-sync.iam.gserviceaccount.com";
  const subject = "admin@acme.example";
  const dir = mkdtempSync(join(tmpdir(), "google-sa-"));
  const keyFile = join(dir, "service-account.json");
  writeFileSync(
    keyFile,
    JSON.stringify({ type: "service_account", project_id: "acme-sync", private_key_id: "k1", private_key: pem, client_email: clientEmail, client_id: "1234567890", token_uri: "https://oauth2.googleapis.com/token" }),
  );
  const jwk = { ...(await exportJWK(await importSPKI(publicKey.export({ type: "spki", format: "pem" }).toString(), "RS256"))), kid: "k1", alg: "RS256" };
  const jwks = createLocalJWKSet({ keys: [jwk] });
  const groupIds = new Set(data.groups.map((g) => g.id));
  let issued = 0;
  const page = (query: URLSearchParams, field: string, items: unknown[], max: number) => {
    const size = Math.min(Number(query.get("maxResults") ?? 100), max);
    const offset = Number(query.get("pageToken") ?? 0);
    const { page: list, next } = slice(items, offset, size);
    return { body: { kind: `admin#directory#${field}`, etag: '"e"', ...(list.length > 0 ? { [field]: list } : {}), ...(next !== undefined ? { nextPageToken: String(next) } : {}) } };
  };
  const d = await startDouble(async (req, base) => {
    if (req.method === "POST" && req.path === "/token") {
      const f = new URLSearchParams(req.body);
      if (f.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return { status: 400, body: { error: "unsupported_grant_type" } };
      try {
        const { payload } = await jwtVerify(f.get("assertion") ?? "", jwks, { issuer: clientEmail, audience: `${base}/token`, algorithms: ["RS256"] });
        if (payload.sub !== subject || typeof payload.scope !== "string" || !payload.scope.includes("admin.directory.user.readonly")) {
          return { status: 401, body: { error: "unauthorized_client", error_description: "Client is unauthorized to retrieve access tokens using this method" } };
        }
      } catch {
        return { status: 400, body: { error: "invalid_grant", error_description: "Invalid JWT Signature." } };
      }
      issued++;
      return { body: { access_token: `ya29.google-token-${issued}`, expires_in: 3599, token_type: "Bearer" } };
    }
    if (!bearer(req)?.startsWith("ya29.google-token-")) return { status: 401, body: { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } } };
    if (req.path === "/admin/directory/v1/users") {
      if (req.query.get("customer") !== "my_customer" && !req.query.get("domain")) return { status: 400, body: { error: { code: 400, message: "Bad Request" } } };
      return page(req.query, "users", data.users.map((u) => ({ kind: "admin#directory#user", ...u })), 500);
    }
    if (req.path === "/admin/directory/v1/groups") return page(req.query, "groups", data.groups.map(({ id, email, name }) => ({ kind: "admin#directory#group", id, email, name })), 200);
    const m = /^\/admin\/directory\/v1\/groups\/([^/]+)\/members$/.exec(req.path);
    if (m) {
      const g = data.groups.find((x) => x.id === decodeURIComponent(m[1]!));
      if (!g) return { status: 404, body: { error: { code: 404, message: "Resource Not Found: groupKey" } } };
      const members = g.members.map((id) =>
        groupIds.has(id)
          ? { kind: "admin#directory#member", id, email: data.groups.find((x) => x.id === id)!.email, role: "MEMBER", type: "GROUP", status: "ACTIVE" }
          : { kind: "admin#directory#member", id, email: data.users.find((u) => u.id === id)?.primaryEmail, role: "MEMBER", type: "USER", status: "ACTIVE" },
      );
      return page(req.query, "members", members, 200);
    }
    return { status: 404, body: { error: { code: 404, message: "Not Found" } } };
  });
  return Object.assign(d, { keyFile, subject, clientEmail, privateKey: pem });
}
