/**
 * The few SCIM operations a login needs, over the project's one transport (`ScimTransport`,
 * global `fetch`, key rotation, retries within the deadline). Smaller than the full
 * `ScimClient` so that the Action bundle stays within its size budget: no probes (what the
 * Catalog supports is learned from `/ServiceProviderConfig` and from the responses themselves),
 * no pagination (a login reads at most one page per lookup).
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3
 */
import { ProvisioningError, ScimResponseError } from "../errors.js";
import { eq, valuePath } from "../scim/filter.js";
import { pickGroupByDisplayName } from "../scim/group-name.js";
import { addMembers, patchRequest, removeMember } from "../scim/patch.js";
import { ScimTransportBase, type ScimRequest, type ScimResponse, type TransportOptions } from "../scim/transport.js";
import {
  SCHEMA_BULK_REQUEST,
  SCHEMA_USER,
  type BulkOperation,
  type BulkOperationResponse,
  type Capabilities,
  type MemberPatchResult,
  type PatchOperation,
  type ScimClientApi,
  type ScimGroup,
  type ScimUser,
  type ScimUserInput,
} from "../scim/types.js";

/** The subset of {@link ScimClientApi} the executor calls; the full `ScimClient` satisfies it too. */
export type ActionScimApi = Pick<
  ScimClientApi,
  | "getUser"
  | "findUserByExternalId"
  | "findUserByUserName"
  | "createUser"
  | "patchUser"
  | "findGroupByDisplayName"
  | "findGroupsOfUser"
  | "patchGroupMembers"
  | "capabilities"
  | "bulk"
>;

export class ActionScimClient implements ActionScimApi {
  private readonly transport: ScimTransportBase;
  private caps: Capabilities | undefined;

  constructor(options: TransportOptions & { capabilities?: Capabilities }) {
    this.transport = new ScimTransportBase(options);
    this.caps = options.capabilities;
  }

  private send(req: ScimRequest, allow?: number[]): Promise<ScimResponse> {
    return this.transport.request(req, allow ? { allow } : {});
  }

  private async query<T>(path: string, filter: string, extra: Record<string, string> = {}): Promise<T[]> {
    const res = await this.send({ method: "GET", path, query: { filter, ...extra } });
    const list = (res.body as { Resources?: unknown } | undefined)?.Resources;
    return Array.isArray(list) ? (list as T[]) : [];
  }

  async getUser(id: string): Promise<ScimUser | undefined> {
    const res = await this.send({ method: "GET", path: at("/Users/", id) }, [404]);
    return res.status === 404 ? undefined : user(res.body);
  }

  async findUserByExternalId(externalId: string): Promise<ScimUser | undefined> {
    return (await this.query<ScimUser>("/Users", eq("externalId", externalId).text)).find((u) => u.externalId === externalId);
  }

  async findUserByUserName(userName: string): Promise<ScimUser | undefined> {
    const wanted = userName.toLowerCase();
    return (await this.query<ScimUser>("/Users", eq("userName", userName).text)).find((u) => u.userName?.toLowerCase() === wanted);
  }

  async createUser(input: ScimUserInput): Promise<ScimUser> {
    const res = await this.send({ method: "POST", path: "/Users", body: { ...input, schemas: input.schemas ?? [SCHEMA_USER] } });
    return user(res.body);
  }

  async patchUser(id: string, operations: PatchOperation[]): Promise<ScimUser | undefined> {
    const res = await this.send({ method: "PATCH", path: at("/Users/", id), body: patchRequest(operations) }, [204]);
    return res.status === 204 ? undefined : (res.body as ScimUser);
  }

  async findGroupByDisplayName(displayName: string): Promise<ScimGroup | undefined> {
    return pickGroupByDisplayName(await this.query<ScimGroup>("/Groups", eq("displayName", displayName).text, { excludedAttributes: "members" }), displayName);
  }

  /** User `groups` when the Catalog fills them, else the `members[value eq]` filter, else undefined */
  async findGroupsOfUser(userId: string): Promise<string[] | undefined> {
    if (this.caps?.userGroups) return ((await this.getUser(userId))?.groups ?? []).map((g) => g.value);
    if (this.caps && !this.caps.memberFilter) return undefined;
    const res = await this.send(
      { method: "GET", path: "/Groups", query: { filter: valuePath("members", eq("value", userId)).text, attributes: "id" } },
      [400, 403, 501],
    );
    if (res.status !== 200) return undefined;
    const list = (res.body as { Resources?: { id?: unknown }[] } | undefined)?.Resources ?? [];
    return list.map((g) => g.id).filter((id): id is string => typeof id === "string");
  }

  /** one PATCH: `add` of explicit values, `remove` with `members[value eq "…"]` */
  async patchGroupMembers(groupId: string, change: { add?: string[]; remove?: string[] }): Promise<MemberPatchResult> {
    const add = change.add ?? [];
    const remove = change.remove ?? [];
    const ops = [...(add.length ? [addMembers(add)] : []), ...remove.map((v) => removeMember(v))];
    const result: MemberPatchResult = { added: [], removed: [], failed: [], requests: 1 };
    try {
      await this.send({ method: "PATCH", path: at("/Groups/", groupId), query: { excludedAttributes: "members" }, body: patchRequest(ops) }, [204]);
      result.added = add;
      result.removed = remove;
    } catch (e) {
      if (e instanceof ScimResponseError && e.httpStatus === 404) {
        throw new ProvisioningError("SCIM_GROUP_NOT_FOUND", `catalog group "${groupId}" does not exist`, { cause: e });
      }
      // nothing to remove is done
      if (e instanceof ScimResponseError && e.scimType === "noTarget" && add.length === 0) result.removed = remove;
      else throw e;
    }
    return result;
  }

  /** `/ServiceProviderConfig` only (one request); the rest is learned from responses */
  async capabilities(): Promise<Capabilities> {
    if (this.caps) return this.caps;
    const res = await this.send({ method: "GET", path: "/ServiceProviderConfig" }, [404, 501]);
    const spc = (res.status === 200 ? res.body : {}) as {
      bulk?: { supported?: boolean; maxOperations?: number; maxPayloadSize?: number };
      filter?: { maxResults?: number };
      etag?: { supported?: boolean };
    };
    this.caps = {
      bulk: { supported: spc.bulk?.supported === true, maxOperations: spc.bulk?.maxOperations ?? 0, maxPayloadSize: spc.bulk?.maxPayloadSize ?? 0 },
      etag: spc.etag?.supported === true,
      userGroups: false,
      memberFilter: true,
      userNameCaseInsensitive: true,
      orFilter: false,
      pageCap: spc.filter?.maxResults ?? 100,
    };
    return this.caps;
  }

  async bulk(operations: BulkOperation[], options: { failOnErrors?: number } = {}): Promise<BulkOperationResponse[]> {
    const body = { schemas: [SCHEMA_BULK_REQUEST], Operations: operations, ...(options.failOnErrors ? { failOnErrors: options.failOnErrors } : {}) };
    const res = await this.send({ method: "POST", path: "/Bulk", body });
    const ops = (res.body as { Operations?: unknown } | undefined)?.Operations;
    if (!Array.isArray(ops)) throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim POST /Bulk did not return "Operations"`);
    return ops as BulkOperationResponse[];
  }
}

/** `/Users/{id}`, `/Groups/{id}` */
function at(prefix: string, id: string): string {
  return prefix + encodeURIComponent(id);
}

function user(body: unknown): ScimUser {
  const u = body as Partial<ScimUser> | undefined;
  if (!u || typeof u.id !== "string" || typeof u.userName !== "string") {
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim response is not a User with "id" and "userName"`);
  }
  return u as ScimUser;
}
