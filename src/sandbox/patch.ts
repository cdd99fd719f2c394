/**
 * PATCH (RFC 7644 §3.5.2) applied to a resource's attributes. Group members are handled
 * through an injected {@link MemberOps} so that large groups are never loaded whole; the
 * caller runs the whole PATCH in one transaction, which makes it atomic.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.2
 */
import { ScimResponseError } from "../errors.js";
import { SCHEMA_PATCH_OP } from "../scim/types.js";
import { FilterSyntaxError, matchesFilter, parsePatchPath, type Filter, type PatchPath } from "./filter.js";
import { attributesOf, findAttr, SCHEMA_ENTERPRISE_USER, type AttributeDef, type ResourceTypeName } from "./schemas.js";

export interface MemberOps {
  has(value: string): boolean;
  /** @throws ScimResponseError 400 invalidValue for an unknown member */
  add(value: string): boolean;
  remove(value: string): boolean;
  clear(): number;
  list(): Record<string, unknown>[];
}

export interface PatchOutcome {
  /** the resource attributes after the PATCH (the input object, mutated) */
  attributes: Record<string, unknown>;
  membersAdded: number;
  membersRemoved: number;
  /** one line per operation, for the audit log */
  summary: string[];
}

const err = (status: number, scimType: string | undefined, detail: string): ScimResponseError =>
  new ScimResponseError(status, { ...(scimType ? { scimType } : {}), detail });

interface Op {
  op: "add" | "remove" | "replace";
  path?: string;
  value?: unknown;
}

/** @throws ScimResponseError 400 invalidSyntax */
export function parsePatchRequest(body: unknown): Op[] {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw err(400, "invalidSyntax", "the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.schemas) || !b.schemas.includes(SCHEMA_PATCH_OP)) {
    throw err(400, "invalidSyntax", `"schemas" must contain "${SCHEMA_PATCH_OP}"`);
  }
  if (!Array.isArray(b.Operations)) throw err(400, "invalidSyntax", `"Operations" must be an array`);
  return b.Operations.map((raw, i) => {
    if (raw === null || typeof raw !== "object") throw err(400, "invalidSyntax", `"Operations[${i}]" must be an object`);
    const o = raw as Record<string, unknown>;
    const op = typeof o.op === "string" ? o.op.toLowerCase() : "";
    if (op !== "add" && op !== "remove" && op !== "replace") throw err(400, "invalidSyntax", `"Operations[${i}].op" must be "add", "remove" or "replace"`);
    if (o.path !== undefined && typeof o.path !== "string") throw err(400, "invalidPath", `"Operations[${i}].path" must be a string`);
    const out: Op = { op };
    if (o.path !== undefined && o.path !== "") out.path = o.path as string;
    if ("value" in o) out.value = o.value;
    return out;
  });
}

function propKey(obj: Record<string, unknown>, name: string): string {
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower) ?? name;
}

function sameItem(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** eq-only conjunction → attributes of the value it describes (for `add` that creates) */
function eqAttributes(f: Filter): Record<string, unknown> | undefined {
  if (f.op === "eq" && !f.path.sub && f.value !== null) return { [f.path.name]: f.value };
  if (f.op === "and") {
    const l = eqAttributes(f.left);
    const r = eqAttributes(f.right);
    return l && r ? { ...l, ...r } : undefined;
  }
  return undefined;
}

class Patcher {
  membersAdded = 0;
  membersRemoved = 0;
  summary: string[] = [];

  constructor(
    private readonly type: ResourceTypeName,
    private readonly attrs: Record<string, unknown>,
    private readonly resourceId: string,
    private readonly members: MemberOps | undefined,
  ) {}

  apply(op: Op): void {
    if (op.path === undefined) {
      if (op.op === "remove") throw err(400, "noTarget", `"remove" requires a "path"`);
      if (op.value === null || typeof op.value !== "object" || Array.isArray(op.value)) {
        throw err(400, "invalidValue", `"${op.op}" without a "path" requires an object "value"`);
      }
      for (const [k, v] of Object.entries(op.value as Record<string, unknown>)) {
        const lk = k.toLowerCase();
        if (lk === "schemas" || lk === "meta") continue;
        if (lk === "id") {
          if (v !== this.resourceId) throw err(400, "mutability", `"id" is read-only`);
          continue;
        }
        if (/^urn:/i.test(k) && v !== null && typeof v === "object" && !Array.isArray(v)) {
          for (const [ek, ev] of Object.entries(v as Record<string, unknown>)) this.applyPath(op.op, { path: { schema: k, name: ek } }, ev);
          continue;
        }
        this.applyPath(op.op, parseOrThrow(k), v);
      }
      this.summary.push(`${op.op} (${Object.keys(op.value as object).join(", ")})`);
      return;
    }
    this.applyPath(op.op, parseOrThrow(op.path), op.value);
  }

  private applyPath(kind: Op["op"], pp: PatchPath, value: unknown): void {
    const { path } = pp;
    let container = this.attrs;
    let defs: AttributeDef[] | undefined;
    if (path.schema) {
      defs = attributesOf(this.type, path.schema);
      if (!defs) throw err(400, "invalidPath", `unknown schema "${path.schema}"`);
      const existing = this.attrs[SCHEMA_ENTERPRISE_USER];
      if (existing && typeof existing === "object") container = existing as Record<string, unknown>;
      else {
        container = {};
        if (kind !== "remove") this.attrs[SCHEMA_ENTERPRISE_USER] = container;
      }
    } else defs = attributesOf(this.type);
    if (path.name.toLowerCase() === "id" || path.name.toLowerCase() === "meta") throw err(400, "mutability", `"${path.name}" is read-only`);
    if (path.name.toLowerCase() === "schemas") return;
    const def = findAttr(defs, path.name);
    if (!def) throw err(400, "invalidPath", `unknown attribute "${path.name}"`);
    if (def.mutability === "readOnly") throw err(400, "mutability", `"${def.name}" is read-only`);

    if (def.name === "members" && !path.schema && this.members) {
      this.applyMembers(kind, pp, value);
      return;
    }
    const label = pp.filter ? `${def.name}[…]${pp.sub ? `.${pp.sub}` : ""}` : path.sub ? `${def.name}.${path.sub}` : def.name;
    this.summary.push(`${kind} ${label}`);
    const key = propKey(container, def.name);

    if (pp.filter) {
      if (!def.multiValued) throw err(400, "invalidPath", `"${def.name}" is not multi-valued`);
      const items = Array.isArray(container[key]) ? (container[key] as Record<string, unknown>[]) : [];
      const matched = items.filter((it) => safeMatch(pp.filter!, it, def.name));
      if (kind === "remove") {
        if (pp.sub) for (const it of matched) delete it[propKey(it, pp.sub)];
        else container[key] = items.filter((it) => !matched.includes(it));
        if (Array.isArray(container[key]) && (container[key] as unknown[]).length === 0) delete container[key];
        return;
      }
      if (matched.length === 0) {
        const base = kind === "add" ? eqAttributes(pp.filter) : undefined;
        if (!base) throw err(400, "noTarget", `no value of "${def.name}" matches the filter`);
        const created: Record<string, unknown> = { ...base };
        if (pp.sub) created[pp.sub] = value;
        else if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(created, value);
        else throw err(400, "invalidValue", `"value" must be an object`);
        container[key] = [...items, created];
        return;
      }
      for (const it of matched) {
        if (pp.sub) it[propKey(it, pp.sub)] = value;
        else if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(it, value);
        else throw err(400, "invalidValue", `"value" must be an object`);
      }
      if (value && typeof value === "object" && (value as Record<string, unknown>).primary === true) {
        for (const it of items) if (!matched.includes(it) && it.primary === true) it.primary = false;
      }
      return;
    }

    if (path.sub) {
      if (def.multiValued) throw err(400, "invalidPath", `"${def.name}.${path.sub}" needs a value filter, e.g. "${def.name}[type eq \\"work\\"].${path.sub}"`);
      if (def.type !== "complex" || !findAttr(def.subAttributes, path.sub)) throw err(400, "invalidPath", `unknown attribute "${def.name}.${path.sub}"`);
      const cur = (container[key] && typeof container[key] === "object" ? container[key] : {}) as Record<string, unknown>;
      const subKey = propKey(cur, findAttr(def.subAttributes, path.sub)!.name);
      if (kind === "remove") delete cur[subKey];
      else cur[subKey] = value;
      if (Object.keys(cur).length > 0) container[key] = cur;
      else delete container[key];
      return;
    }

    if (kind === "remove") {
      delete container[key];
      return;
    }
    if (value === undefined) throw err(400, "invalidValue", `"${kind}" requires a "value"`);
    if (def.multiValued) {
      const incoming = Array.isArray(value) ? value : [value];
      if (kind === "replace") container[key] = incoming;
      else {
        const items = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
        const added = incoming.filter((v) => !items.some((it) => sameItem(it, v)));
        if (added.some((v) => v && typeof v === "object" && (v as Record<string, unknown>).primary === true)) {
          for (const it of items) if (it && typeof it === "object" && (it as Record<string, unknown>).primary === true) (it as Record<string, unknown>).primary = false;
        }
        container[key] = [...items, ...added];
      }
      return;
    }
    if (def.type === "complex" && value && typeof value === "object" && !Array.isArray(value)) {
      const cur = (container[key] && typeof container[key] === "object" ? container[key] : {}) as Record<string, unknown>;
      container[key] = { ...cur, ...(value as Record<string, unknown>) };
      return;
    }
    container[key] = value;
  }

  private applyMembers(kind: Op["op"], pp: PatchPath, value: unknown): void {
    const members = this.members!;
    const values = (v: unknown): string[] => {
      const list = Array.isArray(v) ? v : [v];
      return list.map((m, i) => {
        const id = m && typeof m === "object" ? (m as Record<string, unknown>).value : undefined;
        if (typeof id !== "string" || id === "") throw err(400, "invalidValue", `"members[${i}].value" must be a non-empty string`);
        return id;
      });
    };
    if (pp.sub || pp.path.sub) throw err(400, "mutability", `sub-attributes of "members" are immutable`);
    if (!pp.filter) {
      if (kind === "remove") {
        const n = members.clear();
        this.membersRemoved += n;
        this.summary.push(`remove members (all, ${n})`);
        return;
      }
      if (value === undefined) throw err(400, "invalidValue", `"${kind}" requires a "value"`);
      const ids = values(value);
      if (kind === "replace") this.membersRemoved += members.clear();
      let n = 0;
      for (const id of ids) if (members.add(id)) n++;
      this.membersAdded += n;
      this.summary.push(`${kind} members (${ids.length} given, ${n} added)`);
      return;
    }
    if (kind === "add") throw err(400, "invalidPath", `"add" with a value filter on "members" is not supported`);
    const f = pp.filter;
    let matched: string[];
    if (f.op === "eq" && f.path.name.toLowerCase() === "value" && !f.path.sub && typeof f.value === "string") {
      matched = members.has(f.value) ? [f.value] : [];
    } else {
      matched = members
        .list()
        .filter((m) => safeMatch(f, m, "members"))
        .map((m) => m.value as string);
    }
    if (kind === "remove") {
      for (const id of matched) if (members.remove(id)) this.membersRemoved++;
      this.summary.push(`remove members[…] (${matched.length} matched)`);
      return;
    }
    if (matched.length === 0) throw err(400, "noTarget", `no member matches the filter`);
    if (value === undefined) throw err(400, "invalidValue", `"replace" requires a "value"`);
    for (const id of matched) if (members.remove(id)) this.membersRemoved++;
    for (const id of values(value)) if (members.add(id)) this.membersAdded++;
    this.summary.push(`replace members[…] (${matched.length} matched)`);
  }
}

function parseOrThrow(path: string): PatchPath {
  try {
    return parsePatchPath(path);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw err(400, "invalidPath", `invalid path "${path}": ${e.message}`);
    throw e;
  }
}

function safeMatch(f: Filter, item: unknown, parent: string): boolean {
  try {
    return matchesFilter(f, item, parent);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw err(400, "invalidFilter", e.message);
    throw e;
  }
}

/**
 * Applies the operations, in order, to `attributes` (mutated) and, for Groups, to `members`.
 * @throws ScimResponseError (400 noTarget, invalidPath, invalidValue, mutability, invalidSyntax)
 */
export function applyPatch(
  type: ResourceTypeName,
  resourceId: string,
  attributes: Record<string, unknown>,
  operations: Op[],
  members?: MemberOps,
): PatchOutcome {
  const p = new Patcher(type, attributes, resourceId, members);
  for (const op of operations) p.apply(op);
  return { attributes, membersAdded: p.membersAdded, membersRemoved: p.membersRemoved, summary: p.summary };
}
