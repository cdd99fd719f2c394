/**
 * Live read of the Catalog state (diff mode `live`, and the snapshot's audit/rebuild):
 * every user through `GET /Users`, and the members of each managed Catalog group, page by page.
 */
import { ConfigError } from "../errors.js";
import { pickGroupByDisplayName } from "../scim/group-name.js";
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
 *
 * Many names (more than {@link LIST_GROUPS_FROM}): one listing of the groups, without members.
 * A few: one `or` look-up for them all, when the client and the server take it; the names it
 * answers no group for, or all of them when it is refused, are looked up one by one. Errors come
 * in the order of `names`.
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
  const listed = names.length > LIST_GROUPS_FROM;
  let answered: ScimGroup[] | undefined;
  if (listed) {
    answered = [];
    for await (const g of client.listGroups({ count: 1000 })) answered.push(g);
  } else if (names.length > 1 && client.findGroupsByDisplayNames) {
    answered = await client.findGroupsByDisplayNames(names);
  }
  const byFolded = new Map<string, ScimGroup[]>();
  for (const g of answered ?? []) {
    if (typeof g.displayName !== "string") continue;
    const k = g.displayName.toLowerCase();
    const list = byFolded.get(k);
    if (list) list.push(g);
    else byFolded.set(k, [g]);
  }
  // after a listing a name it does not hold is missing; otherwise it is looked up alone
  const alone = listed ? [] : names.filter((name) => !byFolded.has(name.toLowerCase()));
  const lookedUp = new Map<string, Promise<ScimGroup | undefined>>();
  for (let i = 0; i < alone.length; i += LOOKUPS_AT_ONCE) {
    const wave = alone.slice(i, i + LOOKUPS_AT_ONCE).map((name) => {
      const found = client.findGroupByDisplayName(name);
      lookedUp.set(name, found);
      return found;
    });
    await Promise.allSettled(wave);
  }
  const out: { id: string; displayName: string }[] = [];
  for (const name of names) {
    const one = lookedUp.get(name);
    let g: ScimGroup | undefined;
    if (one) g = await one;
    else g = pickGroupByDisplayName(byFolded.get(name.toLowerCase()) ?? [], name);
    if (!g) throw missing(name);
    out.push({ id: g.id, displayName: g.displayName });
  }
  return out;
}

/** above this many managed groups, the groups are listed once rather than looked up one by one */
const LIST_GROUPS_FROM = 20;
/** group look-ups in flight at once (the client also bounds its connections) */
const LOOKUPS_AT_ONCE = LIST_GROUPS_FROM;

/** users asked for per page */
const USERS_PAGE = 1000;

/**
 * A read started while other work is still holding memory (the run reads the Catalog while the
 * source is being read): the managed groups and the first page of users (1,000) go out at once,
 * the other pages once `after` settles. A small Catalog is read whole ahead; a large one holds one
 * page, not all of its users, beside the source's text.
 */
export interface CatalogReadPace {
  after: Promise<unknown>;
}

/** How the members of the managed groups were read (for tests and diagnostics). */
export type MemberReadMode =
  /** no Catalog user: a group's user members can only be listed users, so none was read */
  | "no-users"
  /** from the listed users' `groups`, confirmed by one group read */
  | "user-groups"
  /** one `GET /Groups/{id}` per managed group */
  | "per-group";

/**
 * Read the whole Catalog state the planner needs: the managed groups, every user, and each
 * managed group's members.
 *
 * Members come from the listed users' read-only `groups` (RFC 7643 §4.1.2; entries of type
 * "direct" or without a type) when the listing shows them: at least one listed user carries a
 * non-empty `groups` (a server that never fills it cannot be told from one whose users have no
 * groups), and the managed group with the most derived members, read directly, holds exactly
 * those members (a spot check: a member that is not a listed user, such as a nested group,
 * cannot be derived, and a server whose `groups` lag behind shows it there). Otherwise each
 * managed group is read. With no Catalog user at all, no group can have a user member and no
 * group is read.
 */
export async function readCatalogState(
  client: ScimClientApi,
  managedGroupNames: readonly string[],
  where?: { file?: string },
  observe?: { memberReads?: (mode: MemberReadMode) => void },
  pace?: CatalogReadPace,
): Promise<CatalogState> {
  // the managed groups and the users are read at once (one round trip fewer, the discovery shared)
  const users: CatalogUser[] = [];
  /** direct memberships the users show, as two parallel arrays (user id, group id) */
  const memberOf: string[] = [];
  const memberIn: string[] = [];
  let groupsShown = false;
  const listing = (async () => {
    for await (const u of client.listUsers({ count: USERS_PAGE })) {
      users.push(toCatalogUser(u));
      // a page is in: the next ones wait for `pace.after` (the iterator asks for no page meanwhile)
      if (users.length === USERS_PAGE && pace) await pace.after;
      if (!Array.isArray(u.groups)) continue;
      for (const g of u.groups as unknown[]) {
        if (typeof g !== "object" || g === null) continue;
        const { value, type } = g as { value?: unknown; type?: unknown };
        if (typeof value !== "string") continue;
        groupsShown = true;
        if (type !== undefined && type !== null && !(typeof type === "string" && type.toLowerCase() === "direct")) continue;
        memberOf.push(u.id);
        memberIn.push(value);
      }
    }
  })();
  const [resolved, listed] = await Promise.allSettled([resolveManagedGroups(client, managedGroupNames, where), listing]);
  // a configuration error (a missing group) comes first, as when the groups were read first
  if (resolved.status === "rejected") throw resolved.reason;
  if (listed.status === "rejected") throw listed.reason;
  const groups = resolved.value;
  const managed = new Map<string, string[]>(groups.map((g) => [g.id, []]));
  for (const [i, groupId] of memberIn.entries()) managed.get(groupId)?.push(memberOf[i]!);
  memberOf.length = 0;
  memberIn.length = 0;
  users.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const state = (members: (id: string) => string[]): CatalogState => ({
    users,
    groups: groups.map((g) => ({ id: g.id, displayName: g.displayName, members: [...new Set(members(g.id))].sort() })),
  });

  if (users.length === 0) {
    observe?.memberReads?.("no-users");
    return state(() => []);
  }
  const read = new Map<string, string[]>();
  if (groupsShown && groups.length > 0) {
    // one group read confirms the derivation: the group with the most derived members
    const probe = groups.reduce((best, g) => (managed.get(g.id)!.length > managed.get(best.id)!.length ? g : best), groups[0]!);
    const direct = await client.listGroupMembers(probe.id);
    read.set(probe.id, direct);
    if (sameMembers(direct, managed.get(probe.id)!)) {
      observe?.memberReads?.("user-groups");
      return state((id) => managed.get(id)!);
    }
  } else if (groupsShown) {
    observe?.memberReads?.("user-groups");
    return state(() => []);
  }
  observe?.memberReads?.("per-group");
  for (const g of groups) if (!read.has(g.id)) read.set(g.id, await client.listGroupMembers(g.id));
  return state((id) => read.get(id)!);
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  if (x.size !== y.size) return false;
  for (const v of x) if (!y.has(v)) return false;
  return true;
}
