/**
 * Microsoft Graph objects → the normalised directory. Pure.
 * The anchor is the Entra object id as a canonical lowercase GUID (the same value the Action
 * writes from the `oid` claim).
 */
import { canonicalImmutableId } from "../../identity.js";
import type { DirectoryGroup, DirectoryUser } from "../directory.js";

export interface GraphUser {
  id?: string;
  mail?: string | null;
  userPrincipalName?: string | null;
  givenName?: string | null;
  surname?: string | null;
  displayName?: string | null;
  accountEnabled?: boolean | null;
}

export interface GraphGroup {
  id?: string;
  displayName?: string | null;
}

export interface GraphMember {
  id?: string;
  "@odata.type"?: string;
}

/** A Graph user, or a reason it cannot be used. Email: `mail`, else `userPrincipalName`. */
export function mapGraphUser(u: GraphUser): DirectoryUser | { skip: string } {
  if (typeof u.id !== "string" || u.id.trim() === "") return { skip: "a user without an id" };
  const email = (typeof u.mail === "string" && u.mail.trim() !== "" ? u.mail : u.userPrincipalName)?.trim();
  if (!email) return { skip: `user "${u.id}" has neither "mail" nor "userPrincipalName"` };
  const out: DirectoryUser = { id: canonicalImmutableId(u.id), email, active: u.accountEnabled !== false };
  if (u.givenName) out.givenName = u.givenName;
  if (u.surname) out.familyName = u.surname;
  if (u.displayName) out.displayName = u.displayName;
  return out;
}

/** A group with its user members (other object types such as devices and nested groups are left out). */
export function mapGraphGroup(g: GraphGroup & { id: string }, members: GraphMember[]): DirectoryGroup {
  const ids = new Set<string>();
  for (const m of members) {
    if (typeof m.id !== "string") continue;
    const type = m["@odata.type"];
    if (type !== undefined && type !== "#microsoft.graph.user") continue;
    ids.add(canonicalImmutableId(m.id));
  }
  return { id: canonicalImmutableId(g.id), name: g.displayName ?? g.id, members: [...ids] };
}
