/**
 * Live read of the Catalog state (diff mode `live`, and the snapshot's audit/rebuild):
 * every user through `GET /Users`, and the members of each managed Catalog group, page by page.
 */
import { ConfigError, ProvisioningError } from "../errors.js";
import type { ScimClientApi, ScimGroup, ScimUser } from "../scim/types.js";
import type { CatalogState } from "./plan-types.js";

type CatalogUser = CatalogState["users"][number];

/** The planner's view of one SCIM user (the attributes it compares, nothing else). */
export function toCatalogUser(u: ScimUser): CatalogUser {
  const out: CatalogUser = { id: u.id, userName: u.userName };
  if (u.externalId !== undefined && u.externalId !== null) out.externalId = u.externalId;
  if (u.active !== undefined) out.active = u.active;
  if (u.displayName !== undefined) out.displayName = u.displayName;
  if (u.name && (u.name.givenName !== undefined || u.name.familyName !== undefined)) {
    out.name = {};
    if (u.name.givenName !== undefined) out.name.givenName = u.name.givenName;
    if (u.name.familyName !== undefined) out.name.familyName = u.name.familyName;
  }
  if (u.emails) out.emails = u.emails.map((e) => ({ ...e }));
  return out;
}

/**
 * Resolve the managed Catalog groups by `displayName`. A managed group the Catalog does not
 * have is a configuration error (exit 2): this project never creates Catalog groups.
 */
export async function resolveManagedGroups(
  client: ScimClientApi,
  names: readonly string[],
  where?: { file?: string },
): Promise<{ id: string; displayName: string }[]> {
  const missing = (name: string): ConfigError =>
    new ConfigError(`the managed Catalog group "${name}" does not exist in the Catalog`, {
      ...(where?.file !== undefined ? { file: where.file } : {}),
      hint: "create it in the Catalog first; this project never creates Catalog groups",
    });
  const out: { id: string; displayName: string }[] = [];
  if (names.length > LIST_GROUPS_FROM) {
    // many managed groups: one listing (without members) instead of a query per name, with the same matching
    const byFolded = new Map<string, ScimGroup[]>();
    for await (const g of client.listGroups({ count: 1000 })) {
      if (typeof g.displayName !== "string") continue;
      const k = g.displayName.toLowerCase();
      const list = byFolded.get(k);
      if (list) list.push(g);
      else byFolded.set(k, [g]);
    }
    for (const name of names) {
      const folded = byFolded.get(name.toLowerCase()) ?? [];
      const exact = folded.filter((g) => g.displayName === name);
      const candidates = exact.length > 0 ? exact : folded;
      if (candidates.length > 1) {
        throw new ProvisioningError("SCIM_AMBIGUOUS_GROUP", `${candidates.length} catalog groups are named "${name}"`, {
          details: { ids: candidates.map((g) => g.id) },
          hint: "give Catalog groups unique display names",
        });
      }
      const g = candidates[0];
      if (!g) throw missing(name);
      out.push({ id: g.id, displayName: g.displayName });
    }
    return out;
  }
  for (const name of names) {
    const g = await client.findGroupByDisplayName(name);
    if (!g) throw missing(name);
    out.push({ id: g.id, displayName: g.displayName });
  }
  return out;
}

/** above this many managed groups, the groups are listed once rather than looked up one by one */
const LIST_GROUPS_FROM = 20;

/** Read the whole Catalog state the planner needs. */
export async function readCatalogState(
  client: ScimClientApi,
  managedGroupNames: readonly string[],
  where?: { file?: string },
): Promise<CatalogState> {
  const groups = await resolveManagedGroups(client, managedGroupNames, where);
  const users: CatalogUser[] = [];
  for await (const u of client.listUsers({ count: 1000 })) users.push(toCatalogUser(u));
  const withMembers: CatalogState["groups"] = [];
  for (const g of groups) {
    const members = await client.listGroupMembers(g.id);
    withMembers.push({ id: g.id, displayName: g.displayName, members: [...new Set(members)].sort() });
  }
  users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { users, groups: withMembers };
}
