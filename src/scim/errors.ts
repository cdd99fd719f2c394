/**
 * SCIM errors (RFC 7644 §3.12), re-exported from the one errors module.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.12
 */
export { ProvisioningError, ScimResponseError, isUniquenessError } from "../errors.js";
import { ScimResponseError } from "../errors.js";

/** a SCIM error with that `scimType` (e.g. "noTarget", "invalidValue") */
export function hasScimType(e: unknown, scimType: string): e is ScimResponseError {
  return e instanceof ScimResponseError && e.scimType === scimType;
}

/** 404: the resource does not exist (any more) */
export function isNotFound(e: unknown): e is ScimResponseError {
  return e instanceof ScimResponseError && e.httpStatus === 404;
}
