/**
 * Google Workspace Directory API objects → the normalised directory. Pure.
 * The anchor is the Google user `id` verbatim. Nested groups are expanded with cycle detection.
 */
import type { DirectoryGroup, DirectoryUser } from "../directory.js";

export interface GoogleUser {
  id?: string;
  primaryEmail?: string;
  name?: { givenName?: string; familyName?: string; fullName?: string };
  suspended?: boolean;
  archived?: boolean;
}

export interface GoogleGroup {
  id?: string;
  email?: string;
  name?: string;
}

export interface GoogleMember {
  id?: string;
  email?: string;
  /** USER, GROUP or CUSTOMER */
  type?: string;
  status?: string;
}

export function mapGoogleUser(u: GoogleUser): DirectoryUser | { skip: string } {
  if (typeof u.id !== "string" || u.id === "") return { skip: "a user without an id" };
  const email = u.primaryEmail?.trim();
  if (!email) return { skip: `user "${u.id}" has no "primaryEmail"` };
  const out: DirectoryUser = { id: u.id, email, active: u.suspended !== true && u.archived !== true };
  if (u.name?.givenName) out.givenName = u.name.givenName;
  if (u.name?.familyName) out.familyName = u.name.familyName;
  if (u.name?.fullName) out.displayName = u.name.fullName;
  return out;
}

export interface GoogleGroupsResult {
  groups: DirectoryGroup[];
  /** nested-group cycles met (safe to log); each cycle is broken, members still counted once */
  cycles: string[];
}

/**
 * Build the groups: direct USER members, plus (when `nested`) the users of GROUP members,
 * recursively. `membersById` holds the member lists read, keyed by group id.
 */
export function mapGoogleGroups(groups: Array<GoogleGroup & { id: string }>, membersById: Map<string, GoogleMember[]>, nested: boolean): GoogleGroupsResult {
  const cycles: string[] = [];
  const direct = (id: string) => membersById.get(id) ?? [];
  const name = (g: GoogleGroup & { id: string }) => g.email ?? g.name ?? g.id;

  function collect(id: string, path: string[], out: Set<string>): void {
    for (const m of direct(id)) {
      if (typeof m.id !== "string" || m.id === "") continue;
      if (m.type === "USER" || m.type === undefined) out.add(m.id);
      else if (m.type === "GROUP" && nested) {
        if (path.includes(m.id)) {
          cycles.push([...path, m.id].join(" → "));
          continue;
        }
        collect(m.id, [...path, m.id], out);
      }
    }
  }

  const out = groups.map((g) => {
    const members = new Set<string>();
    collect(g.id, [g.id], members);
    return { id: g.id, name: name(g), members: [...members] };
  });
  return { groups: out, cycles };
}

/** Ids of GROUP members (for reading nested groups that are not in the group list). */
export function nestedGroupIds(members: GoogleMember[]): string[] {
  return members.filter((m) => m.type === "GROUP" && typeof m.id === "string" && m.id !== "").map((m) => m.id!);
}
