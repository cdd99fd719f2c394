/**
 * Auth0 Management API users, roles and organizations → the normalised directory. Pure.
 * The anchor is the one the Action writes by default: the `user_id` of the identity whose
 * connection is the source's connection, provider prefix stripped (src/claims/anchor.ts).
 */
import { extractAnchor, type AnchorUser } from "../../claims/anchor.js";
import type { DirectoryGroup, DirectoryUser } from "../directory.js";

export interface Auth0User {
  user_id?: string;
  email?: string;
  given_name?: string;
  family_name?: string;
  name?: string;
  blocked?: boolean;
  identities?: AnchorUser["identities"];
}

/** A role (`name`) or an organization (`name`, `display_name`). */
export interface Auth0GroupLike {
  id?: string;
  name?: string;
  display_name?: string;
}

export interface Auth0Member {
  user_id?: string;
}

/** Only the first 1,000 results of `GET /api/v2/users` can be paged (page × per_page). */
export const AUTH0_USERS_PAGING_CAP = 1000;

export const USERS_EXPORT_HINT =
  'auth0 lists only the first 1000 users of "GET /api/v2/users"; narrow the source with "connection" or read the directory through the users-export job ("POST /api/v2/jobs/users-exports") into a "file" source';

export function mapAuth0User(u: Auth0User, connection: string | undefined): DirectoryUser | { skip: string } {
  if (typeof u.user_id !== "string" || u.user_id === "") return { skip: "a user without a user_id" };
  const id = extractAnchor({ ...u, user_id: u.user_id }, connection ?? "");
  if (id === undefined) return { skip: `user "${u.user_id}" has no anchor` };
  const email = u.email?.trim();
  if (!email) return { skip: `user "${u.user_id}" has no email` };
  const out: DirectoryUser = { id, email, active: u.blocked !== true };
  if (u.given_name) out.givenName = u.given_name;
  if (u.family_name) out.familyName = u.family_name;
  if (u.name && u.name !== email) out.displayName = u.name;
  return out;
}

/**
 * A role or organization as a group; members are Auth0 `user_id`s turned into anchors through
 * `anchors` (members from other connections, not in the user list, are left out).
 */
export function mapAuth0Group(g: Auth0GroupLike & { id: string }, members: Auth0Member[], anchors: Map<string, string>): DirectoryGroup {
  const ids = new Set<string>();
  for (const m of members) {
    const a = typeof m.user_id === "string" ? anchors.get(m.user_id) : undefined;
    if (a !== undefined) ids.add(a);
  }
  return { id: g.id, name: g.name ?? g.display_name ?? g.id, members: [...ids] };
}
