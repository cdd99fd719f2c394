/**
 * The SCIM 2.0 client (RFC 7643/7644) the Action, the sync, doctor and verify use.
 * Every operation is a request builder, one call to the transport and a response processor.
 * Free of `node:*` and undici imports so that the Action bundle stays small.
 * @see https://datatracker.ietf.org/doc/html/rfc7644
 */
import { ProvisioningError, ScimResponseError } from "../errors.js";
import { bulkRequest, bulkResourceId, isBulkSuccess, processBulkResponse, resolveBulkIds, splitBulkOperations } from "./bulk.js";
import { capabilitiesFromServiceProviderConfig, probeCapabilities, processServiceProviderConfig, serviceProviderConfigRequest } from "./discovery.js";
import { eq, or, valuePath, type Filter } from "./filter.js";
import { pickGroupByDisplayName } from "./group-name.js";
import { paginate, processListResponse, queryRequest } from "./list-response.js";
import { addMembers, deactivate, patchRequest, removeMember } from "./patch.js";
import { ScimTransport, type ScimRequest, type ScimResponse, type TransportOptions } from "./transport.js";
import {
  SCHEMA_USER,
  type BulkOperation,
  type BulkOperationResponse,
  type Capabilities,
  type ListOptions,
  type MemberPatchResult,
  type PatchOperation,
  type ScimClientApi,
  type ScimGroup,
  type ScimUser,
  type ScimUserInput,
  type ServiceProviderConfig,
} from "./types.js";

export interface ScimClientOptions extends TransportOptions {
  /** capabilities learned earlier (e.g. cached by the Action): no discovery requests */
  capabilities?: Capabilities;
  /** members per PATCH (default 100) */
  memberBatchSize?: number;
  /**
   * What `capabilities()` asks: `"probe"` (default) `/ServiceProviderConfig` plus up to four probe
   * requests; `"serviceProviderConfig"` that one request only, with every probe-learned
   * capability taken as unsupported (see `capabilitiesFromServiceProviderConfig`)
   */
  discovery?: "probe" | "serviceProviderConfig";
}

const DEFAULT_BATCH = 100;
/** characters of `or` filter per group look-up request (the URL stays well under common 8 KB limits) */
export const OR_FILTER_MAX = 2_000;
/** groups asked for per `or` look-up (a page holding them all; case variants of a name included) */
const OR_LOOKUP_COUNT = 100;
const seg = (id: string): string => {
  if (typeof id !== "string" || id === "") throw new TypeError(`resource "id" must be a non-empty string`);
  return encodeURIComponent(id);
};

export class ScimClient implements ScimClientApi {
  readonly transport: ScimTransport;
  private readonly memberBatchSize: number;
  private readonly discovery: "probe" | "serviceProviderConfig";
  private spc?: Promise<ServiceProviderConfig>;
  private caps?: Promise<Capabilities>;
  /** the capabilities once discovered (or given) */
  private settled?: Capabilities;

  constructor(options: ScimClientOptions) {
    this.transport = new ScimTransport(options);
    this.memberBatchSize = options.memberBatchSize ?? DEFAULT_BATCH;
    this.discovery = options.discovery ?? "probe";
    if (options.capabilities) {
      this.caps = Promise.resolve(options.capabilities);
      this.settled = options.capabilities;
    }
  }

  private send = (req: ScimRequest, allow?: number[]): Promise<ScimResponse> =>
    this.transport.request(req, allow ? { allow } : {});

  // ---- discovery ---------------------------------------------------------------------------

  /** `/ServiceProviderConfig`, once per client; a server without it supports nothing optional */
  serviceProviderConfig(): Promise<ServiceProviderConfig> {
    this.spc ??= (async () => {
      const res = await this.send(serviceProviderConfigRequest(), [404, 501]);
      return processServiceProviderConfig(res.status === 200 ? res.body : undefined);
    })();
    this.spc.catch(() => (this.spc = undefined));
    return this.spc;
  }

  /** discovery + probes (or `/ServiceProviderConfig` only, see `discovery`), once per client (or given in the options) */
  capabilities(): Promise<Capabilities> {
    this.caps ??= (async () => {
      const spc = await this.serviceProviderConfig();
      const caps = this.discovery === "serviceProviderConfig" ? capabilitiesFromServiceProviderConfig(spc) : await probeCapabilities(this.send, spc);
      this.settled = caps;
      return caps;
    })();
    this.caps.catch(() => (this.caps = undefined));
    return this.caps;
  }

  /** capabilities if already known, without any request (waits for a discovery under way) */
  async knownCapabilities(): Promise<Capabilities | undefined> {
    return this.caps ? this.caps.catch(() => undefined) : undefined;
  }

  /**
   * Capabilities if already discovered, without waiting for a discovery under way: for what
   * only tunes a request (a page size), so that a read started beside the discovery (the
   * sync's initial read) does not queue behind it.
   */
  discoveredCapabilities(): Capabilities | undefined {
    return this.settled;
  }

  // ---- users -------------------------------------------------------------------------------

  async getUser(id: string): Promise<ScimUser | undefined> {
    const res = await this.send({ method: "GET", path: `/Users/${seg(id)}` }, [404]);
    return res.status === 404 ? undefined : processUser(res.body, "GET /Users");
  }

  /**
   * Exact match on `userName`, compared case-insensitively on our side too. When the server
   * is known (or not known) to compare case-sensitively, an empty result is not trusted: the
   * lowercase form is tried as well, and with `scan: true` every user is listed as a last resort.
   */
  async findUserByUserName(userName: string, options: { scan?: boolean } = {}): Promise<ScimUser | undefined> {
    if (typeof userName !== "string" || userName === "") throw new TypeError(`"userName" must be a non-empty string`);
    const wanted = userName.toLowerCase();
    const pick = (users: ScimUser[]): ScimUser | undefined => users.find((u) => typeof u.userName === "string" && u.userName.toLowerCase() === wanted);
    const caps = await this.knownCapabilities();
    const variants = [...new Set([userName, wanted])];
    let filter: Filter;
    if (caps?.userNameCaseInsensitive || variants.length === 1) filter = eq("userName", userName);
    else if (caps?.orFilter) filter = or(...variants.map((v) => eq("userName", v)));
    else filter = eq("userName", userName);
    let found = pick(await this.query<ScimUser>("/Users", filter));
    if (found || caps?.userNameCaseInsensitive) return found;
    if (variants.length > 1 && !caps?.orFilter) found = pick(await this.query<ScimUser>("/Users", eq("userName", wanted)));
    if (found || !options.scan) return found;
    for await (const u of this.listUsers({ attributes: ["userName"] })) {
      if (typeof u.userName === "string" && u.userName.toLowerCase() === wanted) return this.getUser(u.id);
    }
    return undefined;
  }

  async findUserByExternalId(externalId: string): Promise<ScimUser | undefined> {
    if (typeof externalId !== "string" || externalId === "") throw new TypeError(`"externalId" must be a non-empty string`);
    const users = await this.query<ScimUser>("/Users", eq("externalId", externalId));
    // externalId is caseExact (RFC 7643 §3.1)
    return users.find((u) => u.externalId === externalId);
  }

  /** POST /Users; a duplicate throws a {@link ScimResponseError} for which `isUniquenessError` is true */
  async createUser(user: ScimUserInput): Promise<ScimUser> {
    if (!user || typeof user.userName !== "string" || user.userName === "") throw new TypeError(`"userName" must be a non-empty string`);
    const body = { ...user, schemas: user.schemas ?? [SCHEMA_USER] };
    const res = await this.send({ method: "POST", path: "/Users", body });
    return processUser(res.body, "POST /Users");
  }

  /**
   * PATCH /Users/{id}. Returns the user when the server answers 200 with it, undefined on 204.
   * `ifMatch` is sent only when the server advertises ETags.
   */
  async patchUser(id: string, operations: PatchOperation[], options: { ifMatch?: string } = {}): Promise<ScimUser | undefined> {
    if (operations.length === 0) return undefined;
    const headers: Record<string, string> = {};
    if (options.ifMatch && (await this.knownCapabilities())?.etag) headers["if-match"] = options.ifMatch;
    const res = await this.send({ method: "PATCH", path: `/Users/${seg(id)}`, body: patchRequest(operations), headers });
    return res.status === 200 && res.body !== undefined ? processUser(res.body, "PATCH /Users") : undefined;
  }

  async deactivateUser(id: string): Promise<void> {
    await this.patchUser(id, deactivate());
  }

  /** DELETE /Users/{id}; 404 counts as done */
  async deleteUser(id: string): Promise<void> {
    await this.send({ method: "DELETE", path: `/Users/${seg(id)}` }, [404]);
  }

  listUsers(options: ListOptions = {}): AsyncIterable<ScimUser> {
    return this.list<ScimUser>("/Users", options);
  }

  // ---- groups ------------------------------------------------------------------------------

  async getGroup(id: string, options: { excludeMembers?: boolean } = {}): Promise<ScimGroup | undefined> {
    const req = queryRequest(`/Groups/${seg(id)}`, options.excludeMembers ? { excludedAttributes: ["members"] } : {});
    const res = await this.send(req, [404]);
    return res.status === 404 ? undefined : processGroup(res.body, "GET /Groups");
  }

  /** exact `displayName` (case-insensitive when no exact match); several matches → "SCIM_AMBIGUOUS_GROUP" */
  async findGroupByDisplayName(displayName: string): Promise<ScimGroup | undefined> {
    if (typeof displayName !== "string" || displayName === "") throw new TypeError(`"displayName" must be a non-empty string`);
    return pickGroupByDisplayName(await this.query<ScimGroup>("/Groups", eq("displayName", displayName), ["members"]), displayName);
  }

  /**
   * The groups named by `displayNames` in one request per {@link OR_FILTER_MAX} characters of
   * filter: `displayName eq "a" or displayName eq "b" …`, with `excludedAttributes=members`.
   * `undefined` when the server does not take the filter as written: it refuses it (400, 501),
   * answers more than one page, or answers a group that none of the names match (a filter it
   * ignored or read otherwise). A name it answers no group for is the caller's to look up alone:
   * a server may also apply such a filter in part.
   */
  async findGroupsByDisplayNames(displayNames: readonly string[]): Promise<ScimGroup[] | undefined> {
    for (const name of displayNames) if (typeof name !== "string" || name === "") throw new TypeError(`"displayNames" must hold non-empty strings`);
    const wanted = new Set(displayNames.map((n) => n.toLowerCase()));
    const chunks: string[][] = [];
    let length = 0;
    for (const name of new Set(displayNames)) {
      const size = eq("displayName", name).text.length + 4;
      if (chunks.length === 0 || length + size > OR_FILTER_MAX) {
        chunks.push([]);
        length = 0;
      }
      chunks.at(-1)!.push(name);
      length += size;
    }
    const count = Math.min(OR_LOOKUP_COUNT, this.discoveredCapabilities()?.pageCap ?? Number.POSITIVE_INFINITY);
    const answers = await Promise.all(
      chunks.map(async (names) => {
        const filter = or(...names.map((n) => eq("displayName", n)));
        const res = await this.send(queryRequest("/Groups", { filter, excludedAttributes: ["members"], count }), [400, 501]);
        if (res.status !== 200) return undefined;
        const page = processListResponse<ScimGroup>(res.body, "GET /Groups");
        if (page.totalResults > page.Resources.length) return undefined;
        const groups = page.Resources.filter((g) => typeof g.displayName === "string" && typeof g.id === "string");
        if (groups.some((g) => !wanted.has(g.displayName.toLowerCase()))) return undefined;
        return groups;
      }),
    );
    if (answers.some((a) => a === undefined)) return undefined;
    const byId = new Map<string, ScimGroup>();
    for (const g of answers.flat()) byId.set(g!.id, g!);
    return [...byId.values()];
  }

  /** always with `excludedAttributes=members` */
  listGroups(options: ListOptions = {}): AsyncIterable<ScimGroup> {
    const excluded = [...new Set([...(options.excludedAttributes ?? []), "members"])];
    return this.list<ScimGroup>("/Groups", { ...options, excludedAttributes: excluded });
  }

  async listGroupMembers(groupId: string): Promise<string[]> {
    const res = await this.send(queryRequest(`/Groups/${seg(groupId)}`, { attributes: ["members"] }), [404]);
    if (res.status === 404) throw new ProvisioningError("SCIM_GROUP_NOT_FOUND", `catalog group "${groupId}" does not exist`);
    const g = processGroup(res.body, "GET /Groups", false);
    return (g.members ?? []).map((m) => m.value).filter((v): v is string => typeof v === "string");
  }

  /** User `groups` when the server fills it, else the `members[value eq]` filter, else undefined */
  async findGroupsOfUser(userId: string): Promise<string[] | undefined> {
    const caps = await this.capabilities();
    if (caps.userGroups) {
      const user = await this.getUser(userId);
      return (user?.groups ?? []).map((g) => g.value);
    }
    if (caps.memberFilter) {
      const ids: string[] = [];
      for await (const g of this.list<ScimGroup>("/Groups", {
        filter: valuePath("members", eq("value", userId)).text,
        attributes: ["id", "displayName"],
        excludedAttributes: [],
      })) {
        ids.push(g.id);
      }
      return ids;
    }
    return undefined;
  }

  /**
   * Batched member changes: `add` of explicit values, `remove` with `members[value eq "…"]`.
   * A batch refused with 400 is split in halves until the bad values are isolated; those are
   * reported in `failed` and the rest applied. A single `remove` answered 400 `noTarget`
   * (nothing to remove) is done. A 404 (group gone) throws "SCIM_GROUP_NOT_FOUND"; any other
   * failure marks the values not yet applied as failed and stops.
   */
  async patchGroupMembers(
    groupId: string,
    change: { add?: string[]; remove?: string[] },
    options: { batchSize?: number } = {},
  ): Promise<MemberPatchResult> {
    const batchSize = Math.max(1, options.batchSize ?? this.memberBatchSize);
    const result: MemberPatchResult = { added: [], removed: [], failed: [], requests: 0 };
    const adds = [...new Set(change.add ?? [])];
    const addSet = new Set(adds);
    const removes = [...new Set(change.remove ?? [])].filter((v) => !addSet.has(v));
    const items: Item[] = [...adds.map((value) => ({ op: "add" as const, value })), ...removes.map((value) => ({ op: "remove" as const, value }))];
    const path = `/Groups/${seg(groupId)}`;
    let stopped: Error | undefined;

    const apply = async (batch: Item[]): Promise<void> => {
      if (stopped) {
        for (const it of batch) result.failed.push({ ...it, error: stopped });
        return;
      }
      const addValues = batch.filter((i) => i.op === "add").map((i) => i.value);
      const ops: PatchOperation[] = [
        ...(addValues.length ? [addMembers(addValues)] : []),
        ...batch.filter((i) => i.op === "remove").map((i) => removeMember(i.value)),
      ];
      result.requests++;
      try {
        // no `attributes`/`excludedAttributes` on PATCH: scimmy applies them to the resource it
        // patches and drops the existing members (see test/interop/scimmy.test.ts)
        await this.send({ method: "PATCH", path, body: patchRequest(ops) }, [204]);
        for (const it of batch) (it.op === "add" ? result.added : result.removed).push(it.value);
      } catch (e) {
        if (e instanceof ScimResponseError && e.httpStatus === 404) {
          throw new ProvisioningError("SCIM_GROUP_NOT_FOUND", `catalog group "${groupId}" does not exist`, { cause: e });
        }
        if (!(e instanceof ScimResponseError && e.httpStatus === 400)) {
          stopped = e as Error;
          for (const it of batch) result.failed.push({ ...it, error: stopped });
          return;
        }
        if (batch.length === 1) {
          const it = batch[0]!;
          if (it.op === "remove" && e.scimType === "noTarget") result.removed.push(it.value);
          else result.failed.push({ ...it, error: e });
          return;
        }
        const mid = Math.ceil(batch.length / 2);
        await apply(batch.slice(0, mid));
        await apply(batch.slice(mid));
      }
    };

    for (let i = 0; i < items.length; i += batchSize) await apply(items.slice(i, i + batchSize));
    return result;
  }

  // ---- bulk --------------------------------------------------------------------------------

  /**
   * POST /Bulk within the advertised limits, split into several requests when needed;
   * `bulkId:` references resolve across requests. Stops sending further requests once
   * `failOnErrors` errors have been seen.
   */
  async bulk(operations: BulkOperation[], options: { failOnErrors?: number } = {}): Promise<BulkOperationResponse[]> {
    const caps = await this.capabilities();
    if (!caps.bulk.supported) throw new ProvisioningError("SCIM_BULK_FAILED", `the catalog does not advertise "/Bulk"`);
    const chunks = splitBulkOperations(operations, caps.bulk, options.failOnErrors);
    const known = new Map<string, string>();
    const out: BulkOperationResponse[] = [];
    let errors = 0;
    for (const chunk of chunks) {
      if (options.failOnErrors !== undefined && errors >= options.failOnErrors) break;
      const remaining = options.failOnErrors === undefined ? undefined : options.failOnErrors - errors;
      const body = bulkRequest(chunk.map((op) => resolveBulkIds(op, known)), remaining);
      const res = await this.send({ method: "POST", path: "/Bulk", body });
      for (const r of processBulkResponse(res.body)) {
        out.push(r);
        if (!isBulkSuccess(r)) errors++;
        else if (r.bulkId) {
          const id = bulkResourceId(r);
          if (id) known.set(r.bulkId, id);
        }
      }
    }
    return out;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private async query<T>(path: string, filter: Filter, excludedAttributes?: string[]): Promise<T[]> {
    const res = await this.send(queryRequest(path, { filter, ...(excludedAttributes ? { excludedAttributes } : {}) }));
    return processListResponse<T>(res.body, `GET ${path}`).Resources;
  }

  private async *list<T extends { id?: string }>(path: string, options: ListOptions): AsyncGenerator<T> {
    const count = Math.min(options.count ?? 100, this.discoveredCapabilities()?.pageCap ?? Number.POSITIVE_INFINITY);
    yield* paginate<T>(async (startIndex, c) => {
      const res = await this.send(
        queryRequest(path, {
          ...(options.filter !== undefined ? { filter: options.filter } : {}),
          ...(options.attributes ? { attributes: options.attributes } : {}),
          ...(options.excludedAttributes ? { excludedAttributes: options.excludedAttributes } : {}),
          startIndex,
          count: c,
        }),
      );
      return processListResponse<T>(res.body, `GET ${path}`);
    }, { count });
  }
}

interface Item {
  op: "add" | "remove";
  value: string;
}

function processUser(body: unknown, where: string): ScimUser {
  const u = body as Partial<ScimUser> | undefined;
  if (!u || typeof u !== "object" || typeof u.id !== "string" || typeof u.userName !== "string") {
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${where} did not return a User with "id" and "userName"`);
  }
  return u as ScimUser;
}

function processGroup(body: unknown, where: string, needName = true): ScimGroup {
  const g = body as Partial<ScimGroup> | undefined;
  if (!g || typeof g !== "object" || typeof g.id !== "string" || (needName && typeof g.displayName !== "string")) {
    throw new ProvisioningError("SCIM_INVALID_RESPONSE", `scim ${where} did not return a Group with "id" and "displayName"`);
  }
  return g as ScimGroup;
}
