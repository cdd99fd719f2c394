/**
 * The desired SCIM User for a person, and the minimal PATCH that brings a Catalog user to it.
 * Shared by the Post-Login Action and the sync so that both write the same values and never
 * undo each other. Pure, tiny, no node:*.
 * @see https://datatracker.ietf.org/doc/html/rfc7643#section-4.1
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.2
 */
import type { AttributeMapping } from "./config/types.js";
import { sameUserName } from "./identity.js";
import { SCHEMA_USER, type PatchOperation, type ScimEmail, type ScimUserInput } from "./scim/types.js";
import type { DirectoryUser } from "./sync/directory.js";

function field(user: DirectoryUser, key: string): string | undefined {
  const v = (user as unknown as Record<string, unknown>)[key];
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t === "" ? undefined : t;
}

/**
 * userName = the mapped email, externalId = the immutable IdP id, name, displayName (falls
 * back to "givenName familyName"), one work email marked primary, active as in the IdP.
 */
export function desiredScimUser(user: DirectoryUser, mapping: AttributeMapping): ScimUserInput {
  const userName = field(user, mapping.userName) ?? field(user, "email");
  if (userName === undefined) throw new TypeError(`"${mapping.userName}" of user "${user.id}" must be a non-empty string`);
  const email = field(user, mapping.email) ?? userName;
  const givenName = field(user, mapping.givenName);
  const familyName = field(user, mapping.familyName);
  const joined = [givenName, familyName].filter((x) => x !== undefined).join(" ");
  const displayName = field(user, mapping.displayName) ?? (joined === "" ? undefined : joined);
  const out: ScimUserInput = { schemas: [SCHEMA_USER], userName, externalId: user.id };
  if (givenName !== undefined || familyName !== undefined) {
    out.name = {};
    if (givenName !== undefined) out.name.givenName = givenName;
    if (familyName !== undefined) out.name.familyName = familyName;
  }
  if (displayName !== undefined) out.displayName = displayName;
  out.emails = [{ value: email, type: "work", primary: true }];
  out.active = user.active;
  return out;
}

/** The Catalog user attributes {@link userPatch} compares. */
export interface CurrentUserAttributes {
  userName: string;
  externalId?: string | null;
  name?: { givenName?: string; familyName?: string } | null;
  displayName?: string | null;
  emails?: readonly ScimEmail[] | null;
  active?: boolean | null;
}

/**
 * Only the attributes that differ, in a fixed order. `userName` compares case-insensitively
 * (a case-only difference is not a change); the email value compares exactly (a case-only
 * change is applied). The email is replaced through a value filter on the work (else primary)
 * email, never by replacing the whole list. Attributes the desired user leaves out are kept.
 * `active` is never changed here: the lifecycle decides.
 */
export function userPatch(current: CurrentUserAttributes, desired: ScimUserInput): PatchOperation[] {
  const ops: PatchOperation[] = [];
  if (desired.externalId !== undefined && desired.externalId !== "" && (current.externalId ?? "") !== desired.externalId) {
    ops.push({ op: "replace", path: "externalId", value: desired.externalId });
  }
  if (!sameUserName(current.userName, desired.userName)) {
    ops.push({ op: "replace", path: "userName", value: desired.userName });
  }
  const given = desired.name?.givenName;
  if (given !== undefined && (current.name?.givenName ?? undefined) !== given) {
    ops.push({ op: "replace", path: "name.givenName", value: given });
  }
  const family = desired.name?.familyName;
  if (family !== undefined && (current.name?.familyName ?? undefined) !== family) {
    ops.push({ op: "replace", path: "name.familyName", value: family });
  }
  if (desired.displayName !== undefined && (current.displayName ?? undefined) !== desired.displayName) {
    ops.push({ op: "replace", path: "displayName", value: desired.displayName });
  }
  const want = desired.emails?.find((e) => e.primary) ?? desired.emails?.[0];
  if (want !== undefined) {
    const emails = current.emails ?? [];
    const work = emails.find((e) => e.type === "work");
    const primary = emails.find((e) => e.primary === true);
    if (work !== undefined) {
      if (work.value !== want.value) ops.push({ op: "replace", path: 'emails[type eq "work"].value', value: want.value });
    } else if (primary !== undefined) {
      if (primary.value !== want.value) ops.push({ op: "replace", path: "emails[primary eq true].value", value: want.value });
    } else if (!emails.some((e) => e.value === want.value)) {
      ops.push({ op: "add", path: "emails", value: [{ value: want.value, type: want.type ?? "work", primary: true }] });
    }
  }
  return ops;
}
