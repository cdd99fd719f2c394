/**
 * Live read of the Catalog state (diff mode `live`, and the snapshot's audit/rebuild):
 * every user through `GET /Users`, and the members of each managed Catalog group, page by page.
 */
import { ConfigError } from "../errors.js";
import type { ScimClientApi, ScimUser } from "../scim/types.js";
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
  const out: { id: string; displayName: string }[] = [];
  for (const name of names) {
    const g = await client.findGroupByDisplayName(name);
    if (!g) {
      throw new ConfigError(`the managed Catalog group "${name}" does not exist in the Catalog`, {
        ...(where?.file !== undefined ? { file: where.file } : {}),
        hint: "create it in the Catalog first; this project never creates Catalog groups",
      });
    }
    out.push({ id: g.id, displayName: g.displayName });
  }
  return out;
}

/** Read the whole Catalog state the planner needs. */
export async function readCatalogState(
  client: ScimClientApi,
  managedGroupNames: readonly string[],
  where?: { file?: string },
): Promise<CatalogState> {
  const groups = await resolveManagedGroups(client, managedGroupNames, where);
  const users: CatalogUser[] = [];
  for await (const u of client.listUsers()) users.push(toCatalogUser(u));
  const withMembers: CatalogState["groups"] = [];
  for (const g of groups) {
    const members = await client.listGroupMembers(g.id);
    withMembers.push({ id: g.id, displayName: g.displayName, members: [...new Set(members)].sort() });
  }
  users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { users, groups: withMembers };
}
