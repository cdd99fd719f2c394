/**
 * The normalised directory every source yields (and the shape the Action builds from a login).
 * `id` is the IdP's immutable id in its canonical form: it becomes the SCIM `externalId`.
 */
export interface DirectoryUser {
  /** immutable IdP id, canonical form (lowercase GUID for AD objectGUID, entryUUID for OpenLDAP, …) */
  id: string;
  email: string;
  givenName?: string;
  familyName?: string;
  displayName?: string;
  active: boolean;
}

export interface DirectoryGroup {
  /** immutable IdP id of the group */
  id: string;
  name: string;
  /** distinguished name, for LDAP sources */
  dn?: string;
  /** user ids (DirectoryUser.id) */
  members: string[];
}

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

/** What a source returns: the directory plus whether the read is known to be complete. */
export interface SourceRead {
  directory: Directory;
  /** false when any page, range or size limit left the read short */
  complete: boolean;
  /** why the read is incomplete, for the error message */
  incompleteReason?: string;
  /** a stable description of the source, bound into the snapshot state (no secrets) */
  fingerprint: string;
}

export interface DirectorySource {
  /**
   * the `fingerprint` its reads will carry, when known before reading: the run then opens the
   * snapshot state and starts the Catalog read while the source is being read
   */
  readonly fingerprint?: string;
  read(signal?: AbortSignal): Promise<SourceRead>;
}
