/**
 * Okta users and groups → the normalised directory. Pure.
 * The anchor is the Okta user `id` verbatim.
 */
import type { DirectoryGroup, DirectoryUser } from "../directory.js";

export interface OktaUser {
  id?: string;
  status?: string;
  profile?: { login?: string; email?: string; firstName?: string | null; lastName?: string | null; displayName?: string | null };
}

export interface OktaGroup {
  id?: string;
  type?: string;
  profile?: { name?: string };
}

export function mapOktaUser(u: OktaUser, inactiveStatuses: readonly string[]): DirectoryUser | { skip: string } {
  if (typeof u.id !== "string" || u.id === "") return { skip: "a user without an id" };
  const p = u.profile ?? {};
  const email = (p.email ?? p.login)?.trim();
  if (!email) return { skip: `user "${u.id}" has neither "profile.email" nor "profile.login"` };
  const status = (u.status ?? "").toUpperCase();
  const out: DirectoryUser = { id: u.id, email, active: !inactiveStatuses.includes(status) };
  if (p.firstName) out.givenName = p.firstName;
  if (p.lastName) out.familyName = p.lastName;
  const display = p.displayName ?? ([p.firstName, p.lastName].filter(Boolean).join(" ") || undefined);
  if (display) out.displayName = display;
  return out;
}

export function mapOktaGroup(g: OktaGroup & { id: string }, members: OktaUser[]): DirectoryGroup {
  const ids = [...new Set(members.map((m) => m.id).filter((id): id is string => typeof id === "string" && id !== ""))];
  return { id: g.id, name: g.profile?.name ?? g.id, members: ids };
}

/** The `rel="next"` target of an RFC 8288 `Link` header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /(?:^|;)\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?\s*(?:;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}
