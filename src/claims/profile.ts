/**
 * The normalised user fields a login provides, and the SCIM attributes they map to. Pure.
 */
export interface LoginProfile {
  email?: string;
  givenName?: string;
  familyName?: string;
  displayName?: string;
}

export interface ProfileAttributeMapping {
  userName: string;
  givenName: string;
  familyName: string;
  displayName: string;
  email: string;
}

export const DEFAULT_ATTRIBUTES: ProfileAttributeMapping = {
  userName: "email",
  givenName: "givenName",
  familyName: "familyName",
  displayName: "displayName",
  email: "email",
};

/** The SCIM-side values of a login: each attribute is read from a normalised field or a profile key. */
export interface MappedAttributes {
  userName?: string;
  email?: string;
  givenName?: string;
  familyName?: string;
  displayName?: string;
}

export function extractProfile(user: Record<string, unknown>): LoginProfile {
  const s = (k: string): string | undefined => {
    const v = user[k];
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  const given = s("given_name");
  const family = s("family_name");
  const display = s("name") ?? ([given, family].filter(Boolean).join(" ") || undefined);
  const p: LoginProfile = {};
  const email = s("email");
  if (email) p.email = email;
  if (given) p.givenName = given;
  if (family) p.familyName = family;
  if (display) p.displayName = display;
  return p;
}

export function mapAttributes(
  user: Record<string, unknown>,
  mapping: ProfileAttributeMapping = DEFAULT_ATTRIBUTES,
): MappedAttributes {
  const profile = extractProfile(user);
  const read = (field: string): string | undefined => {
    if (field in profile || field === "email" || field === "givenName" || field === "familyName" || field === "displayName") {
      return profile[field as keyof LoginProfile];
    }
    const v = user[field];
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  const out: MappedAttributes = {};
  for (const k of ["userName", "email", "givenName", "familyName", "displayName"] as const) {
    const v = read(mapping[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
