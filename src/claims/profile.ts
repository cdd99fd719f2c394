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

const FIELDS = ["email", "givenName", "familyName", "displayName"] as const;

export function extractProfile(user: Record<string, unknown>): LoginProfile {
  const given = text(user, "given_name");
  const family = text(user, "family_name");
  const values = [text(user, "email"), given, family, text(user, "name") ?? ([given, family].filter(Boolean).join(" ") || undefined)];
  const p: LoginProfile = {};
  FIELDS.forEach((k, i) => {
    if (values[i]) p[k] = values[i];
  });
  return p;
}

export function mapAttributes(
  user: Record<string, unknown>,
  mapping: ProfileAttributeMapping = DEFAULT_ATTRIBUTES,
): MappedAttributes {
  const profile = extractProfile(user);
  const out: MappedAttributes = {};
  for (const k of ["userName", ...FIELDS] as const) {
    // a normalised field name, else a profile key
    const field = mapping[k];
    const v = (FIELDS as readonly string[]).includes(field) ? profile[field as keyof LoginProfile] : text(user, field);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** a non-empty string value of the profile, trimmed */
function text(user: Record<string, unknown>, key: string): string | undefined {
  const v = user[key];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}
