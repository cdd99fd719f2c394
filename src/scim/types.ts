/**
 * SCIM 2.0 resource and message shapes, with the names RFC 7643/7644 use.
 * @see https://datatracker.ietf.org/doc/html/rfc7643
 * @see https://datatracker.ietf.org/doc/html/rfc7644
 */

export const SCHEMA_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const SCHEMA_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const SCHEMA_LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const SCHEMA_PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const SCHEMA_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SCHEMA_BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
export const SCHEMA_BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
export const SCHEMA_SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

export interface ScimMeta {
  resourceType?: string;
  created?: string;
  lastModified?: string;
  location?: string;
  version?: string;
}

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

export interface ScimName {
  formatted?: string;
  familyName?: string;
  givenName?: string;
}

/** RFC 7643 §4.1 */
export interface ScimUser {
  schemas?: string[];
  id: string;
  externalId?: string;
  userName: string;
  name?: ScimName;
  displayName?: string;
  emails?: ScimEmail[];
  active?: boolean;
  /** read-only, present only on Catalogs that support it */
  groups?: { value: string; display?: string; $ref?: string }[];
  meta?: ScimMeta;
}

/** The attributes this project writes on a User (no `id`). */
export interface ScimUserInput {
  schemas?: string[];
  userName: string;
  externalId?: string;
  name?: ScimName;
  displayName?: string;
  emails?: ScimEmail[];
  active?: boolean;
}

export interface ScimMember {
  value: string;
  display?: string;
  type?: string;
  $ref?: string;
}

/** RFC 7643 §4.2 */
export interface ScimGroup {
  schemas?: string[];
  id: string;
  displayName: string;
  externalId?: string;
  members?: ScimMember[];
  meta?: ScimMeta;
}

/** RFC 7644 §3.4.2 */
export interface ListResponse<T> {
  schemas: string[];
  totalResults: number;
  startIndex?: number;
  itemsPerPage?: number;
  Resources?: T[];
}

/** RFC 7644 §3.5.2 */
export interface PatchOperation {
  op: "add" | "remove" | "replace";
  path?: string;
  value?: unknown;
}

export interface PatchRequest {
  schemas: [typeof SCHEMA_PATCH_OP];
  Operations: PatchOperation[];
}

/** RFC 7644 §3.7 */
export interface BulkOperation {
  method: "POST" | "PUT" | "PATCH" | "DELETE";
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}

export interface BulkOperationResponse {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string | number;
  response?: unknown;
}

/** RFC 7643 §5 */
export interface ServiceProviderConfig {
  schemas?: string[];
  patch: { supported: boolean };
  bulk: { supported: boolean; maxOperations: number; maxPayloadSize: number };
  filter: { supported: boolean; maxResults: number };
  changePassword?: { supported: boolean };
  sort?: { supported: boolean };
  etag: { supported: boolean };
  authenticationSchemes?: unknown[];
}

/**
 * What the client knows about the Catalog: advertised (ServiceProviderConfig) and learned
 * by cheap probes. Callers choose their strategy from this, never from assumptions.
 */
export interface Capabilities {
  bulk: { supported: boolean; maxOperations: number; maxPayloadSize: number };
  etag: boolean;
  /** User resources carry `groups` */
  userGroups: boolean;
  /** `GET /Groups?filter=members[value eq "…"]` works */
  memberFilter: boolean;
  /** `userName eq` matches case-insensitively on the server */
  userNameCaseInsensitive: boolean;
  /** `or` works in filters */
  orFilter: boolean;
  /** the largest page the server returns (filter.maxResults or observed cap) */
  pageCap: number;
}

/** Outcome of a batched member change on one group. */
export interface MemberPatchResult {
  added: string[];
  removed: string[];
  /** values the server refused, isolated by splitting the batch */
  failed: { value: string; op: "add" | "remove"; error: Error }[];
  /** requests sent */
  requests: number;
}

/** Options for list calls. */
export interface ListOptions {
  filter?: string;
  attributes?: string[];
  excludedAttributes?: string[];
  /** requested page size; the server may cap it */
  count?: number;
}

/** The client API the Action, the sync, doctor and verify depend on. */
export interface ScimClientApi {
  getUser(id: string): Promise<ScimUser | undefined>;
  /** exact, case-insensitive comparison on our side as well */
  findUserByUserName(userName: string): Promise<ScimUser | undefined>;
  findUserByExternalId(externalId: string): Promise<ScimUser | undefined>;
  createUser(user: ScimUserInput): Promise<ScimUser>;
  patchUser(id: string, operations: PatchOperation[]): Promise<ScimUser | undefined>;
  deactivateUser(id: string): Promise<void>;
  /** 404 counts as done */
  deleteUser(id: string): Promise<void>;
  listUsers(options?: ListOptions): AsyncIterable<ScimUser>;

  getGroup(id: string, options?: { excludeMembers?: boolean }): Promise<ScimGroup | undefined>;
  /** throws SCIM_AMBIGUOUS_GROUP when several groups have that displayName */
  findGroupByDisplayName(displayName: string): Promise<ScimGroup | undefined>;
  /**
   * The groups whose displayName is one of `displayNames` (compared case-insensitively), asked
   * with `or` filters; `undefined` when the server does not take them. A client without it is
   * asked one name at a time.
   */
  findGroupsByDisplayNames?(displayNames: readonly string[]): Promise<ScimGroup[] | undefined>;
  /** with excludedAttributes=members */
  listGroups(options?: ListOptions): AsyncIterable<ScimGroup>;
  /** member ids of one group */
  listGroupMembers(groupId: string): Promise<string[]>;
  /** ids of the groups (among all) that hold the user, by the cheapest capability; undefined when impossible */
  findGroupsOfUser(userId: string): Promise<string[] | undefined>;
  /**
   * `add` of explicit values and `remove` with `members[value eq "…"]` only, batched
   * (default 100 per PATCH); a batch refused for one bad value is split to isolate it.
   */
  patchGroupMembers(
    groupId: string,
    change: { add?: string[]; remove?: string[] },
    options?: { batchSize?: number },
  ): Promise<MemberPatchResult>;

  serviceProviderConfig(): Promise<ServiceProviderConfig>;
  /** discovery + probes, once per client */
  capabilities(): Promise<Capabilities>;
  bulk(operations: BulkOperation[], options?: { failOnErrors?: number }): Promise<BulkOperationResponse[]>;
}
