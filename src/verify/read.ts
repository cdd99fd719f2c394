/**
 * Read-only Catalog reads for `doctor`, `verify` and `mapping:impact`. Unlike the sync's live
 * read, a managed Catalog group that is missing or duplicated is reported, not thrown: these
 * commands exist to tell the operator about it.
 */
import { eq } from "../scim/filter.js";
import type { ScimClientApi, ScimGroup } from "../scim/types.js";
import { toCatalogUser } from "../sync/catalog-read.js";
import type { CatalogState } from "../sync/plan-types.js";

/** How one Catalog group named in a mapping was found. */
export type GroupLookup =
  | { name: string; status: "found"; id: string; displayName: string }
  /** only a case variant exists (the sync still finds it, names compare case-insensitively) */
  | { name: string; status: "case-variant"; id: string; displayName: string }
  | { name: string; status: "missing" }
  | { name: string; status: "duplicated"; ids: string[] };

/** Look up Catalog groups by `displayName` (`GET /Groups?filter=displayName eq "…"`, never members). */
export async function lookupGroups(client: ScimClientApi, names: readonly string[]): Promise<GroupLookup[]> {
  const out: GroupLookup[] = [];
  for (const name of names) {
    const hits: ScimGroup[] = [];
    for await (const g of client.listGroups({ filter: eq("displayName", name).text, attributes: ["id", "displayName"] })) hits.push(g);
    out.push(classifyGroupHits(name, hits));
  }
  return out;
}

/** Pure: the lookup outcome from the groups a `displayName eq` filter returned. */
export function classifyGroupHits(name: string, hits: readonly Pick<ScimGroup, "id" | "displayName">[]): GroupLookup {
  const folded = hits.filter((g) => typeof g.displayName === "string" && g.displayName.toLowerCase() === name.toLowerCase());
  const exact = folded.filter((g) => g.displayName === name);
  if (exact.length === 1) return { name, status: "found", id: exact[0]!.id, displayName: exact[0]!.displayName };
  if (exact.length > 1 || folded.length > 1) return { name, status: "duplicated", ids: (exact.length > 1 ? exact : folded).map((g) => g.id).sort() };
  if (folded.length === 1) return { name, status: "case-variant", id: folded[0]!.id, displayName: folded[0]!.displayName };
  return { name, status: "missing" };
}

export interface CatalogSnapshot {
  /** every Catalog user, and the managed groups that exist once (with members) */
  state: CatalogState;
  lookups: GroupLookup[];
}

/** Every user, and the members of each named group that resolves to exactly one Catalog group. GETs only. */
export async function readCatalogForReport(client: ScimClientApi, groupNames: readonly string[]): Promise<CatalogSnapshot> {
  const lookups = await lookupGroups(client, groupNames);
  const users: CatalogState["users"] = [];
  for await (const u of client.listUsers()) users.push(toCatalogUser(u));
  users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const groups: CatalogState["groups"] = [];
  for (const l of lookups) {
    if (l.status !== "found" && l.status !== "case-variant") continue;
    if (groups.some((g) => g.id === l.id)) continue;
    const members = await client.listGroupMembers(l.id);
    groups.push({ id: l.id, displayName: l.displayName, members: [...new Set(members)].sort() });
  }
  return { state: { users, groups }, lookups };
}
