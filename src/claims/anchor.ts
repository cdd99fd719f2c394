/**
 * The `externalId` anchor of a login (ARCHITECTURE.md, "Anchor"). Pure.
 */
import { canonicalImmutableId } from "../identity.js";

export interface AnchorUser {
  user_id: string;
  identities?: { connection?: string; user_id?: unknown; profileData?: Record<string, unknown> }[];
  [key: string]: unknown;
}

/**
 * Default ("user_id"): the `user_id` of the identity whose connection is `connectionName`,
 * else `event.user.user_id` after its first `|` (the provider prefix).
 * Any other value names a profile attribute (e.g. "oid", "objectGUID"); the pairwise OIDC
 * `sub` is refused. GUIDs and base64 ImmutableIDs are canonicalised.
 * Returns undefined when no anchor can be read.
 */
export function extractAnchor(user: AnchorUser, connectionName: string, anchor = "user_id"): string | undefined {
  if (anchor === "sub") return undefined;
  let value: string | undefined;
  if (anchor === "user_id") {
    const identity = user.identities?.find((i) => i && i.connection === connectionName);
    const idv = identity?.user_id;
    if (typeof idv === "string" && idv.trim() !== "") value = idv;
    else if (typeof idv === "number") value = String(idv);
    else if (typeof user.user_id === "string") {
      const bar = user.user_id.indexOf("|");
      value = bar >= 0 ? user.user_id.slice(bar + 1) : user.user_id;
    }
  } else {
    const direct = user[anchor];
    if (typeof direct === "string") value = direct;
    else {
      const identity = user.identities?.find((i) => i && i.connection === connectionName);
      const fromProfile = identity?.profileData?.[anchor];
      if (typeof fromProfile === "string") value = fromProfile;
    }
  }
  if (value === undefined || value.trim() === "") return undefined;
  return canonicalImmutableId(value);
}
