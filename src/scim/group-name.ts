/**
 * Which group a `displayName` names, among the groups a `displayName eq` filter or a listing
 * answered. One rule for the sync, doctor and the Action.
 */
import { ProvisioningError } from "../errors.js";
import type { ScimGroup } from "./types.js";

/**
 * The group named `displayName` among `groups`: compared case-insensitively (a Group's
 * `displayName` is not case-exact in RFC 7643's schema), the exact spelling winning over case
 * variants; several candidates are `SCIM_AMBIGUOUS_GROUP`.
 */
export function pickGroupByDisplayName(groups: readonly ScimGroup[], displayName: string): ScimGroup | undefined {
  const wanted = displayName.toLowerCase();
  const folded = groups.filter((g) => typeof g.id === "string" && typeof g.displayName === "string" && g.displayName.toLowerCase() === wanted);
  const exact = folded.filter((g) => g.displayName === displayName);
  const candidates = exact.length > 0 ? exact : folded;
  if (candidates.length > 1) {
    throw new ProvisioningError("SCIM_AMBIGUOUS_GROUP", `${candidates.length} catalog groups are named "${displayName}"`, {
      details: { ids: candidates.map((g) => g.id) },
      hint: "give Catalog groups unique display names",
    });
  }
  return candidates[0];
}
