/**
 * The sandbox's SCIM protocol logic, synchronous over the SQLite store: Users and Groups
 * CRUD, listing, discovery and Bulk (RFC 7644 §3). Every write runs in one transaction and
 * leaves an audit entry. Errors are thrown as {@link ScimResponseError}.
 */
import { ScimResponseError } from "../errors.js";
import {
  SCHEMA_ERROR,
  SCHEMA_GROUP,
  SCHEMA_LIST_RESPONSE,
  SCHEMA_SERVICE_PROVIDER_CONFIG,
  SCHEMA_USER,
} from "../scim/types.js";
import { processBulk, type BulkExec } from "./bulk.js";
import { createUuidV7Generator, type IdGenerator } from "./ids.js";
import { CORE_SCHEMAS, FilterSyntaxError, filterAttributes, indexedEquality, matchesFilter, parseFilter, type Filter } from "./filter.js";
import { applyPatch, parsePatchRequest, type MemberOps } from "./patch.js";
import { checkFilterSupported, type ProfileRules } from "./profiles.js";
import { normalizeResource, resourceTypeResources, schemaResources, SCHEMA_ENTERPRISE_USER, type ResourceTypeName } from "./schemas.js";
import type { SandboxStore, StoredResource } from "./store.js";

export interface ScimRequest {
  method: string;
  /** path without the base, e.g. `/Users/abc` */
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** size of the raw body in bytes */
  bodySize: number;
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface ScimResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ServiceOptions {
  maxPageSize: number;
  bulkMaxOperations: number;
  bulkMaxPayloadSize: number;
  now?: () => string;
  /** resource ids; default time-ordered UUIDs (version 7) */
  newId?: IdGenerator;
}

const SCHEMA_SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/** a Bulk operation failed inside the request's single transaction: roll back, run again one by one */
class OperationFailed extends Error {}

const err = (status: number, scimType: string | undefined, detail: string): ScimResponseError =>
  new ScimResponseError(status, { ...(scimType ? { scimType } : {}), detail });

export function errorBody(e: ScimResponseError): Record<string, unknown> {
  return {
    schemas: [SCHEMA_ERROR],
    status: String(e.httpStatus),
    ...(e.scimType ? { scimType: e.scimType } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

const etagOf = (r: StoredResource): string => `W/"${r.version}"`;
const clone = <T>(v: T): T => structuredClone(v);

function parseList(v: string | null | undefined): string[] {
  if (!v) return [];
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(urn:.*):([^:]+)$/i.exec(s);
      if (m && CORE_SCHEMAS.has(m[1]!.toLowerCase())) return m[2]!.toLowerCase();
      return s.toLowerCase();
    });
}

/** RFC 7644 §3.4.2.5; `id` and `schemas` are always returned */
export function project(resource: Record<string, unknown>, attributes: string[], excluded: string[]): Record<string, unknown> {
  if (attributes.length === 0 && excluded.length === 0) return resource;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) {
    const lk = k.toLowerCase();
    if (lk === "id" || lk === "schemas") {
      out[k] = v;
      continue;
    }
    if (attributes.length > 0) {
      if (attributes.includes(lk)) out[k] = v;
      else {
        const subs = attributes.filter((a) => a.startsWith(`${lk}.`)).map((a) => a.slice(lk.length + 1));
        if (subs.length === 0) continue;
        const pick = (o: unknown): unknown =>
          o && typeof o === "object" ? Object.fromEntries(Object.entries(o).filter(([sk]) => subs.includes(sk.toLowerCase()))) : o;
        out[k] = Array.isArray(v) ? v.map(pick) : pick(v);
      }
      continue;
    }
    if (excluded.includes(lk)) continue;
    const subs = excluded.filter((a) => a.startsWith(`${lk}.`)).map((a) => a.slice(lk.length + 1));
    if (subs.length > 0 && v && typeof v === "object") {
      const drop = (o: unknown): unknown =>
        o && typeof o === "object" ? Object.fromEntries(Object.entries(o).filter(([sk]) => !subs.includes(sk.toLowerCase()))) : o;
      out[k] = Array.isArray(v) ? v.map(drop) : drop(v);
    } else out[k] = v;
  }
  return out;
}

export class ScimService {
  baseUrl = "";
  private readonly now: () => string;
  private readonly newId: IdGenerator;

  constructor(
    readonly store: SandboxStore,
    readonly rules: ProfileRules,
    private readonly options: ServiceOptions,
  ) {
    this.now = options.now ?? (() => new Date().toISOString());
    this.newId = options.newId ?? createUuidV7Generator();
  }

  get pageCap(): number {
    return Math.max(1, Math.min(this.options.maxPageSize, this.rules.pageCap));
  }

  /** handles one SCIM request; writes are transactional and audited */
  handle(req: ScimRequest): ScimResult {
    const method = req.method.toUpperCase();
    const segs = req.path.split("/").filter(Boolean);
    const isSearch = segs[segs.length - 1] === ".search";
    const isWrite = ["POST", "PUT", "PATCH", "DELETE"].includes(method) && !isSearch;
    if (!isWrite) return this.route(method, segs, req, { summary: "" });
    const ctx = { summary: `${method.toLowerCase()} ${req.path}`, resourceType: null as "User" | "Group" | "Bulk" | null, resourceId: null as string | null };
    let status = 500;
    try {
      const result = segs[0] === "Bulk" ? this.route(method, segs, req, ctx) : this.store.transaction(() => this.route(method, segs, req, ctx));
      status = result.status;
      return result;
    } catch (e) {
      if (e instanceof ScimResponseError) {
        status = e.httpStatus;
        ctx.summary = `${ctx.summary}: refused (${e.scimType ?? e.httpStatus})`;
      }
      throw e;
    } finally {
      this.store.addAudit({
        time: this.now(),
        method,
        path: req.path,
        status,
        resourceType: ctx.resourceType ?? (segs[0] === "Users" ? "User" : segs[0] === "Groups" ? "Group" : segs[0] === "Bulk" ? "Bulk" : null),
        resourceId: ctx.resourceId ?? (segs.length === 2 && segs[0] !== "Bulk" ? segs[1]! : null),
        summary: ctx.summary,
      });
    }
  }

  private route(
    method: string,
    segs: string[],
    req: ScimRequest,
    ctx: { summary: string; resourceType?: "User" | "Group" | "Bulk" | null; resourceId?: string | null },
  ): ScimResult {
    const [head, id, extra] = segs;
    if (extra !== undefined) throw err(404, undefined, `unknown endpoint "${req.path}"`);
    const onlyGet = (): void => {
      if (method !== "GET") throw err(405, undefined, `method "${method}" is not allowed on "${req.path}"`);
    };
    switch (head) {
      case "ServiceProviderConfig":
        onlyGet();
        if (id !== undefined) break;
        return { status: 200, body: this.serviceProviderConfig() };
      case "Schemas": {
        onlyGet();
        const all = schemaResources(this.baseUrl, this.rules);
        if (id === undefined) return { status: 200, body: this.listOf(all) };
        const one = all.find((s) => s.id === id);
        if (!one) throw err(404, undefined, `schema "${id}" not found`);
        return { status: 200, body: one };
      }
      case "ResourceTypes": {
        onlyGet();
        const all = resourceTypeResources(this.baseUrl);
        if (id === undefined) return { status: 200, body: this.listOf(all) };
        const one = all.find((s) => s.id === id);
        if (!one) throw err(404, undefined, `resource type "${id}" not found`);
        return { status: 200, body: one };
      }
      case "Bulk":
        if (id !== undefined) break;
        if (!this.rules.bulk) throw err(501, undefined, "bulk operations are not supported");
        if (method !== "POST") throw err(405, undefined, `method "${method}" is not allowed on "/Bulk"`);
        ctx.resourceType = "Bulk";
        ctx.summary = `bulk (${Array.isArray((req.body as { Operations?: unknown[] } | null)?.Operations) ? (req.body as { Operations: unknown[] }).Operations.length : 0} operations)`;
        return { status: 200, body: this.bulk(req) };
      case "Users":
      case "Groups": {
        const type: ResourceTypeName = head === "Users" ? "User" : "Group";
        ctx.resourceType = type;
        if (id === ".search") {
          if (method !== "POST") throw err(405, undefined, `use POST for ".search"`);
          return this.search(type, req.body);
        }
        if (id === undefined) {
          if (method === "GET") return this.list(type, req.query.get("filter") ?? undefined, req.query);
          if (method === "POST") return this.create(type, req, ctx);
          throw err(405, undefined, `method "${method}" is not allowed on "${req.path}"`);
        }
        ctx.resourceId = id;
        if (method === "GET") return this.getOne(type, id, req);
        if (method === "PUT") return this.replace(type, id, req, ctx);
        if (method === "PATCH") return this.patch(type, id, req, ctx);
        if (method === "DELETE") return this.remove(type, id, req, ctx);
        throw err(405, undefined, `method "${method}" is not allowed on "${req.path}"`);
      }
      default:
        break;
    }
    throw err(404, undefined, `unknown endpoint "${req.path}"`);
  }

  serviceProviderConfig(): Record<string, unknown> {
    return {
      schemas: [SCHEMA_SERVICE_PROVIDER_CONFIG],
      patch: { supported: true },
      bulk: this.rules.bulk
        ? { supported: true, maxOperations: this.options.bulkMaxOperations, maxPayloadSize: this.options.bulkMaxPayloadSize }
        : { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: this.pageCap },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: this.rules.etag },
      authenticationSchemes: [
        { type: "oauthbearertoken", name: "Bearer API key", description: "the Catalog API key sent as a Bearer token", primary: true },
      ],
      meta: { resourceType: "ServiceProviderConfig", location: `${this.baseUrl}/ServiceProviderConfig` },
    };
  }

  private listOf(resources: Record<string, unknown>[]): Record<string, unknown> {
    return { schemas: [SCHEMA_LIST_RESPONSE], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
  }

  // rendering

  renderUser(r: StoredResource, withGroups = true): Record<string, unknown> {
    const schemas = [SCHEMA_USER];
    if (r.data[SCHEMA_ENTERPRISE_USER]) schemas.push(SCHEMA_ENTERPRISE_USER);
    const out: Record<string, unknown> = { schemas, id: r.id, ...clone(r.data) };
    if (this.rules.userGroups && withGroups) {
      out.groups = this.store.groupsOfUser(r.id).map((g) => ({ value: g.value, display: g.display, $ref: `${this.baseUrl}/Groups/${g.value}`, type: "direct" }));
    }
    out.meta = this.meta("User", r);
    return out;
  }

  renderGroup(r: StoredResource, withMembers = true): Record<string, unknown> {
    const out: Record<string, unknown> = { schemas: [SCHEMA_GROUP], id: r.id, ...clone(r.data) };
    if (withMembers) {
      out.members = this.store.members(r.id).map((m) => ({ value: m.value, display: m.display, type: "User", $ref: `${this.baseUrl}/Users/${m.value}` }));
    }
    out.meta = this.meta("Group", r);
    return out;
  }

  private meta(type: ResourceTypeName, r: StoredResource): Record<string, unknown> {
    return {
      resourceType: type,
      created: r.created,
      lastModified: r.lastModified,
      location: `${this.baseUrl}/${type}s/${r.id}`,
      ...(this.rules.etag ? { version: etagOf(r) } : {}),
    };
  }

  private render(type: ResourceTypeName, r: StoredResource, query?: URLSearchParams): Record<string, unknown> {
    const attributes = parseList(query?.get("attributes"));
    const excluded = parseList(query?.get("excludedAttributes"));
    const wants = (name: string): boolean =>
      attributes.length > 0 ? attributes.some((a) => a === name || a.startsWith(`${name}.`)) : !excluded.includes(name);
    const full = type === "User" ? this.renderUser(r, wants("groups")) : this.renderGroup(r, wants("members"));
    return project(full, attributes, excluded);
  }

  private single(type: ResourceTypeName, r: StoredResource, status: number, query?: URLSearchParams): ScimResult {
    const headers: Record<string, string> = {};
    if (this.rules.etag) headers.ETag = etagOf(r);
    if (status === 201) headers.Location = `${this.baseUrl}/${type}s/${r.id}`;
    return { status, body: this.render(type, r, query), headers };
  }

  private load(type: ResourceTypeName, id: string): StoredResource {
    const r = type === "User" ? this.store.getUser(id) : this.store.getGroup(id);
    if (!r) throw err(404, undefined, `${type.toLowerCase()} "${id}" not found`);
    return r;
  }

  private checkIfMatch(r: StoredResource, ifMatch: string | undefined): void {
    if (!this.rules.etag || ifMatch === undefined) return;
    const tags = ifMatch.split(",").map((t) => t.trim());
    if (tags.includes("*") || tags.includes(etagOf(r)) || tags.includes(etagOf(r).slice(2))) return;
    throw err(412, undefined, `"If-Match" does not match the current version ${etagOf(r)}`);
  }

  // reads

  private getOne(type: ResourceTypeName, id: string, req: ScimRequest): ScimResult {
    const r = this.load(type, id);
    if (this.rules.etag && req.ifNoneMatch !== undefined && req.ifNoneMatch.split(",").map((t) => t.trim()).includes(etagOf(r))) {
      return { status: 304, headers: { ETag: etagOf(r) } };
    }
    return this.single(type, r, 200, req.query);
  }

  private search(type: ResourceTypeName, body: unknown): ScimResult {
    const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    if (!Array.isArray(b.schemas) || !b.schemas.includes(SCHEMA_SEARCH_REQUEST)) {
      throw err(400, "invalidSyntax", `"schemas" must contain "${SCHEMA_SEARCH_REQUEST}"`);
    }
    const q = new URLSearchParams();
    for (const k of ["startIndex", "count"]) if (b[k] !== undefined) q.set(k, String(b[k]));
    for (const k of ["attributes", "excludedAttributes"]) if (Array.isArray(b[k])) q.set(k, (b[k] as string[]).join(","));
    return this.list(type, typeof b.filter === "string" ? b.filter : undefined, q);
  }

  list(type: ResourceTypeName, filterText: string | undefined, query: URLSearchParams): ScimResult {
    const si = Number.parseInt(query.get("startIndex") ?? "1", 10);
    const startIndex = Number.isFinite(si) && si >= 1 ? si : 1;
    const c = query.get("count");
    const requested = c === null ? this.pageCap : Number.parseInt(c, 10);
    const count = Number.isFinite(requested) ? Math.min(Math.max(requested, 0), this.pageCap) : this.pageCap;

    let page: StoredResource[];
    let total: number;
    if (filterText === undefined || filterText.trim() === "") {
      total = type === "User" ? this.store.countUsers() : this.store.countGroups();
      page = count === 0 ? [] : type === "User" ? this.store.pageUsers(startIndex - 1, count) : this.store.pageGroups(startIndex - 1, count);
    } else {
      let filter: Filter;
      try {
        filter = parseFilter(filterText);
      } catch (e) {
        if (e instanceof FilterSyntaxError) throw err(400, "invalidFilter", `invalid filter: ${e.message}`);
        throw e;
      }
      checkFilterSupported(this.rules, filter);
      const matched = this.filtered(type, filter);
      total = matched.length;
      page = matched.slice(startIndex - 1, startIndex - 1 + count);
    }
    const resources = page.map((r) => this.render(type, r, query));
    return {
      status: 200,
      body: { schemas: [SCHEMA_LIST_RESPONSE], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources },
    };
  }

  private filtered(type: ResourceTypeName, filter: Filter): StoredResource[] {
    const keys = [...filterAttributes(filter)].map((a) => a.key);
    const needs = (name: string): boolean => keys.some((k) => k === name || k.startsWith(`${name}.`));
    const indexed = type === "User" ? new Set(["id", "username", "externalid"]) : new Set(["id", "displayname", "externalid", "members.value"]);
    const hint = indexedEquality(filter, indexed);
    let candidates: Iterable<StoredResource>;
    if (!hint) candidates = type === "User" ? this.store.allUsers() : this.store.allGroups();
    else if (hint.key === "id") {
      const r = type === "User" ? this.store.getUser(hint.value) : this.store.getGroup(hint.value);
      candidates = r ? [r] : [];
    } else if (hint.key === "username") {
      const r = this.store.userByUserName(hint.value);
      candidates = r ? [r] : [];
    } else if (hint.key === "externalid") {
      candidates = type === "User" ? this.store.usersByExternalId(hint.value) : this.store.groupsByExternalId(hint.value);
    } else if (hint.key === "displayname") candidates = this.store.groupsByDisplayName(hint.value);
    else candidates = this.store.groupsByMember(hint.value);
    const out: StoredResource[] = [];
    for (const r of candidates) {
      const view = type === "User" ? this.renderUser(r, needs("groups")) : this.renderGroup(r, needs("members"));
      let ok: boolean;
      try {
        ok = matchesFilter(filter, view);
      } catch (e) {
        if (e instanceof FilterSyntaxError) throw err(400, "invalidFilter", e.message);
        throw e;
      }
      if (ok) out.push(r);
    }
    return out;
  }

  // writes

  private input(type: ResourceTypeName, body: unknown): Record<string, unknown> {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw err(400, "invalidSyntax", "the request body must be a JSON object");
    const b = body as Record<string, unknown>;
    const schema = type === "User" ? SCHEMA_USER : SCHEMA_GROUP;
    if (!Array.isArray(b.schemas) || !b.schemas.includes(schema)) throw err(400, "invalidSyntax", `"schemas" must contain "${schema}"`);
    return b;
  }

  private checkUserUnique(data: Record<string, unknown>, selfId?: string): void {
    const other = this.store.userByUserName(data.userName as string);
    if (other && other.id !== selfId) throw err(409, "uniqueness", `"userName" "${data.userName as string}" is already taken`);
    if (this.rules.externalIdUnique && typeof data.externalId === "string") {
      if (this.store.usersByExternalId(data.externalId).some((u) => u.id !== selfId)) {
        throw err(409, "uniqueness", `"externalId" "${data.externalId}" is already taken`);
      }
    }
  }

  private checkGroupUnique(data: Record<string, unknown>, selfId?: string): void {
    if (this.store.groupsByDisplayName(data.displayName as string).some((g) => g.id !== selfId)) {
      throw err(409, "uniqueness", `"displayName" "${data.displayName as string}" is already taken`);
    }
  }

  private userColumns(data: Record<string, unknown>): { userName: string; externalId: string | null; displayName: string | null } {
    return {
      userName: data.userName as string,
      externalId: typeof data.externalId === "string" ? data.externalId : null,
      displayName: typeof data.displayName === "string" ? data.displayName : null,
    };
  }

  private memberOps(groupId: string): MemberOps {
    const s = this.store;
    return {
      has: (v) => s.hasMember(groupId, v),
      add: (v) => {
        if (!s.userExists(v)) throw err(400, "invalidValue", `unknown member "${v}"`);
        return s.addMember(groupId, v);
      },
      remove: (v) => s.removeMember(groupId, v),
      clear: () => s.clearMembers(groupId),
      list: () => s.members(groupId).map((m) => ({ value: m.value, display: m.display, type: "User" })),
    };
  }

  private setMembers(groupId: string, members: unknown): number {
    if (members === undefined || members === null) return 0;
    if (!Array.isArray(members)) throw err(400, "invalidValue", `"members" must be an array`);
    const ops = this.memberOps(groupId);
    ops.clear();
    let n = 0;
    members.forEach((m, i) => {
      const v = m && typeof m === "object" ? (m as Record<string, unknown>).value : undefined;
      if (typeof v !== "string" || v === "") throw err(400, "invalidValue", `"members[${i}].value" must be a non-empty string`);
      if (ops.add(v)) n++;
    });
    this.checkMemberCap(groupId);
    return n;
  }

  private checkMemberCap(groupId: string): void {
    const cap = this.rules.maxMembersPerGroup;
    if (cap !== undefined && this.store.countMembers(groupId) > cap) throw err(400, "invalidValue", `a group holds at most ${cap} members`);
  }

  private create(type: ResourceTypeName, req: ScimRequest, ctx: { summary: string; resourceId?: string | null }): ScimResult {
    const b = this.input(type, req.body);
    const data = normalizeResource(type, b);
    const id = this.newId();
    const now = this.now();
    if (type === "User") {
      ctx.summary = `create user "${data.userName as string}"`;
      this.checkUserUnique(data);
      this.store.insertUser(id, this.userColumns(data), data, now);
    } else {
      ctx.summary = `create group "${data.displayName as string}"`;
      this.checkGroupUnique(data);
      this.store.insertGroup(id, data.displayName as string, typeof data.externalId === "string" ? data.externalId : null, data, now);
      const n = this.setMembers(id, b.members);
      if (n > 0) ctx.summary += ` with ${n} members`;
    }
    ctx.resourceId = id;
    return this.single(type, this.load(type, id), 201, req.query);
  }

  private replace(type: ResourceTypeName, id: string, req: ScimRequest, ctx: { summary: string }): ScimResult {
    const current = this.load(type, id);
    this.checkIfMatch(current, req.ifMatch);
    const b = this.input(type, req.body);
    const data = normalizeResource(type, b);
    const now = this.now();
    if (type === "User") {
      ctx.summary = `replace user "${data.userName as string}"`;
      this.checkUserUnique(data, id);
      this.store.updateUser(id, this.userColumns(data), data, now);
    } else {
      ctx.summary = `replace group "${data.displayName as string}"`;
      this.checkGroupUnique(data, id);
      this.store.updateGroup(id, data.displayName as string, typeof data.externalId === "string" ? data.externalId : null, data, now);
      this.setMembers(id, b.members ?? []);
    }
    return this.single(type, this.load(type, id), 200, req.query);
  }

  private patch(type: ResourceTypeName, id: string, req: ScimRequest, ctx: { summary: string }): ScimResult {
    const current = this.load(type, id);
    this.checkIfMatch(current, req.ifMatch);
    const ops = parsePatchRequest(req.body);
    const attrs = clone(current.data);
    const outcome = applyPatch(type, id, attrs, ops, type === "Group" ? this.memberOps(id) : undefined);
    const data = normalizeResource(type, outcome.attributes);
    ctx.summary = `patch ${type.toLowerCase()}: ${outcome.summary.join("; ") || "no operations"}`;
    const attrsChanged = JSON.stringify(data) !== JSON.stringify(current.data);
    const membersChanged = outcome.membersAdded + outcome.membersRemoved > 0;
    const now = this.now();
    if (type === "User") {
      if (attrsChanged) {
        this.checkUserUnique(data, id);
        this.store.updateUser(id, this.userColumns(data), data, now);
      }
    } else {
      if (membersChanged) this.checkMemberCap(id);
      if (attrsChanged) {
        this.checkGroupUnique(data, id);
        this.store.updateGroup(id, data.displayName as string, typeof data.externalId === "string" ? data.externalId : null, data, now);
      } else if (membersChanged) this.store.touchGroup(id, now);
    }
    if (!attrsChanged && !membersChanged) ctx.summary += " (no change)";
    const updated = this.load(type, id);
    if (type === "Group" && !req.query.has("attributes") && !req.query.has("excludedAttributes")) {
      return { status: 204, headers: this.rules.etag ? { ETag: etagOf(updated) } : {} };
    }
    return this.single(type, updated, 200, req.query);
  }

  private remove(type: ResourceTypeName, id: string, req: ScimRequest, ctx: { summary: string }): ScimResult {
    const current = this.load(type, id);
    this.checkIfMatch(current, req.ifMatch);
    ctx.summary = type === "User" ? `delete user "${current.data.userName as string}"` : `delete group "${current.data.displayName as string}"`;
    if (type === "User") this.store.deleteUser(id);
    else this.store.deleteGroup(id);
    return { status: 204 };
  }

  /**
   * A Bulk request (RFC 7644 §3.7) runs in one transaction: one commit per request instead of
   * one per operation. Each operation must still stand alone (one that fails leaves no partial
   * change behind while the others take effect), so on the first operation that fails the whole
   * transaction is rolled back and the request runs again with one transaction per operation.
   * Both runs answer the same; only the ids of created resources differ.
   */
  private bulk(req: ScimRequest): Record<string, unknown> {
    const limits = { maxOperations: this.options.bulkMaxOperations, maxPayloadSize: this.options.bulkMaxPayloadSize };
    try {
      return this.store.transaction(() => processBulk(req.body, req.bodySize, limits, this.bulkOperation(true)));
    } catch (e) {
      if (!(e instanceof OperationFailed)) throw e;
    }
    return processBulk(req.body, req.bodySize, limits, this.bulkOperation(false));
  }

  /** runs one Bulk operation; with `abortOnFailure`, a failure throws {@link OperationFailed} */
  private bulkOperation(abortOnFailure: boolean): BulkExec {
    return (m, p, data) => {
      const u = new URL(p, "http://bulk.invalid");
      const bodyText = data === undefined ? "" : JSON.stringify(data);
      let r: ScimResult;
      try {
        r = this.handle({ method: m, path: u.pathname, query: u.searchParams, body: data, bodySize: bodyText.length });
      } catch (e) {
        if (!(e instanceof ScimResponseError)) throw e;
        if (abortOnFailure) throw new OperationFailed();
        return { status: e.httpStatus, body: errorBody(e) };
      }
      if (abortOnFailure && r.status >= 400) throw new OperationFailed();
      const b = r.body as { id?: string; meta?: { location?: string } } | undefined;
      const segments = u.pathname.split("/").filter(Boolean);
      const location = b?.meta?.location ?? (segments.length === 2 ? `${this.baseUrl}${u.pathname}` : undefined);
      return {
        status: r.status,
        body: r.body,
        ...(b?.id ? { id: b.id } : {}),
        ...(location ? { location } : {}),
        ...(r.headers?.ETag ? { version: r.headers.ETag } : {}),
      };
    };
  }

  // admin helpers (never audited)

  seedGroup(displayName: string): string {
    const id = this.newId();
    const now = this.now();
    this.store.insertGroup(id, displayName, null, { displayName }, now);
    return id;
  }

  seedUser(body: Record<string, unknown>): string {
    const data = normalizeResource("User", body);
    this.checkUserUnique(data);
    const id = this.newId();
    this.store.insertUser(id, this.userColumns(data), data, this.now());
    return id;
  }
}
