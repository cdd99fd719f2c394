/**
 * The naive provisioning a sync is compared with: one request per user and one request per
 * membership, sequential, no batching, no Bulk. Talks to the sandbox with plain `fetch`.
 */
import type { GeneratedDirectory } from "./generate.js";

export interface NaiveResult {
  requests: number;
  wallMs: number;
  /** this process's CPU time, ms */
  clientCpuMs: number;
}

export async function runNaive(generated: GeneratedDirectory, baseUrl: string, apiKey: string): Promise<NaiveResult> {
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/scim+json", accept: "application/scim+json" };
  let requests = 0;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    requests++;
    const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`naive ${method} "${path}" failed with ${res.status}: ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : undefined;
  };
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const groupIds = new Map<string, string>();
  for (const name of new Set(Object.values(generated.mapping))) {
    const list = (await call("GET", `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}&excludedAttributes=members`)) as { Resources: { id: string }[] };
    groupIds.set(name, list.Resources[0]!.id);
  }
  const userIds = new Map<string, string>();
  for (const u of generated.directory.users) {
    const created = (await call("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: u.email,
      externalId: u.id,
      name: { givenName: u.givenName, familyName: u.familyName },
      displayName: u.displayName,
      emails: [{ value: u.email, type: "work", primary: true }],
      active: true,
    })) as { id: string };
    userIds.set(u.id, created.id);
  }
  for (const g of generated.directory.groups) {
    const groupId = groupIds.get(generated.mapping[g.name]!)!;
    for (const m of g.members) {
      await call("PATCH", `/Groups/${groupId}`, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "add", path: "members", value: [{ value: userIds.get(m)! }] }],
      });
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { requests, wallMs: performance.now() - started, clientCpuMs: (cpu.user + cpu.system) / 1000 };
}
