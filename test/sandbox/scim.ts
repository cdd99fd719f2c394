// Small request helper for the sandbox tests (not a test file).
import type { SandboxHandle } from "../helpers/sandbox.js";

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(sb: SandboxHandle, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${sb.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sb.apiKey}`,
      ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
export const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

export const user = (userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ schemas: [USER], userName, ...extra });
export const patch = (...Operations: unknown[]): Record<string, unknown> => ({ schemas: [PATCH_OP], Operations });
export const filterQuery = (f: string): string => `filter=${encodeURIComponent(f)}`;

export async function createUser(sb: SandboxHandle, userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(sb, "POST", "/Users", user(userName, extra));
  if (r.status !== 201) throw new Error(`create failed ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

export async function groupId(sb: SandboxHandle, displayName: string): Promise<string> {
  const r = await call(sb, "GET", `/Groups?${filterQuery(`displayName eq ${JSON.stringify(displayName)}`)}&excludedAttributes=members`);
  return r.body.Resources[0].id as string;
}
