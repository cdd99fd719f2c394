/**
 * The sandbox's resource schemas (RFC 7643 §4, §8.7.1), used to validate writes and to answer
 * `/Schemas` and `/ResourceTypes`. Attributes not declared here are dropped on write.
 * @see https://datatracker.ietf.org/doc/html/rfc7643#section-7
 */
import { ScimResponseError } from "../errors.js";
import { SCHEMA_GROUP, SCHEMA_USER } from "../scim/types.js";

export const SCHEMA_ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

export interface AttributeDef {
  name: string;
  type: "string" | "boolean" | "complex" | "reference" | "dateTime" | "integer";
  multiValued: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: "readOnly" | "readWrite" | "immutable";
  uniqueness?: "none" | "server";
  subAttributes?: AttributeDef[];
}

const str = (name: string, extra: Partial<AttributeDef> = {}): AttributeDef => ({ name, type: "string", multiValued: false, ...extra });
const multi = (name: string, subs: AttributeDef[], extra: Partial<AttributeDef> = {}): AttributeDef => ({
  name,
  type: "complex",
  multiValued: true,
  subAttributes: subs,
  ...extra,
});
const typedValue = [str("value"), str("display"), str("type"), { name: "primary", type: "boolean", multiValued: false } as AttributeDef];

export const USER_ATTRIBUTES: AttributeDef[] = [
  str("externalId", { caseExact: true }),
  str("userName", { required: true, uniqueness: "server" }),
  {
    name: "name",
    type: "complex",
    multiValued: false,
    subAttributes: ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"].map((n) => str(n)),
  },
  ...["displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone"].map((n) => str(n)),
  { name: "active", type: "boolean", multiValued: false },
  multi("emails", typedValue),
  multi("phoneNumbers", typedValue),
  multi("addresses", [
    ...["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"].map((n) => str(n)),
    { name: "primary", type: "boolean", multiValued: false },
  ]),
  multi("roles", typedValue),
  multi("entitlements", typedValue),
  multi("groups", [str("value", { caseExact: true }), str("$ref"), str("display"), str("type")], { mutability: "readOnly" }),
];

export const ENTERPRISE_ATTRIBUTES: AttributeDef[] = [
  ...["employeeNumber", "costCenter", "organization", "division", "department"].map((n) => str(n)),
  {
    name: "manager",
    type: "complex",
    multiValued: false,
    subAttributes: [str("value", { caseExact: true }), str("$ref"), str("displayName")],
  },
];

export const GROUP_ATTRIBUTES: AttributeDef[] = [
  str("externalId", { caseExact: true }),
  str("displayName", { required: true }),
  multi("members", [str("value", { caseExact: true, mutability: "immutable" }), str("$ref"), str("display"), str("type")]),
];

export type ResourceTypeName = "User" | "Group";

export function attributesOf(type: ResourceTypeName, schema?: string): AttributeDef[] | undefined {
  if (schema === undefined) return type === "User" ? USER_ATTRIBUTES : GROUP_ATTRIBUTES;
  if (type === "User" && schema.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase()) return ENTERPRISE_ATTRIBUTES;
  return undefined;
}

export function findAttr(defs: AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === lower);
}

function invalidValue(detail: string): ScimResponseError {
  return new ScimResponseError(400, { scimType: "invalidValue", detail });
}

function checkSimple(def: AttributeDef, v: unknown, where: string): unknown {
  if (def.type === "boolean") {
    if (typeof v !== "boolean") throw invalidValue(`"${where}" must be a boolean`);
    return v;
  }
  if (def.type === "integer") {
    if (!Number.isInteger(v)) throw invalidValue(`"${where}" must be an integer`);
    return v;
  }
  if (typeof v !== "string") throw invalidValue(`"${where}" must be a string`);
  return v;
}

function normalizeComplex(def: AttributeDef, v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw invalidValue(`"${where}" must be an object`);
  const out: Record<string, unknown> = {};
  for (const [k, sv] of Object.entries(v as Record<string, unknown>)) {
    const sub = findAttr(def.subAttributes, k);
    if (!sub || sv === null || sv === undefined) continue;
    out[sub.name] = checkSimple(sub, sv, `${where}.${sub.name}`);
  }
  return out;
}

function normalizeAttr(def: AttributeDef, v: unknown, where: string): unknown {
  if (def.multiValued) {
    if (!Array.isArray(v)) throw invalidValue(`"${where}" must be an array`);
    const items = v.map((it, i) => (def.type === "complex" ? normalizeComplex(def, it, `${where}[${i}]`) : checkSimple(def, it, where)));
    if (def.type === "complex" && items.filter((it) => (it as Record<string, unknown>).primary === true).length > 1) {
      throw invalidValue(`"${where}" has more than one primary value`);
    }
    return items;
  }
  return def.type === "complex" ? normalizeComplex(def, v, where) : checkSimple(def, v, where);
}

/**
 * Validates and cleans resource attributes (no `id`, `meta`, `members`, `groups`): unknown
 * and read-only attributes are dropped, types are checked, required attributes enforced.
 * @throws ScimResponseError 400 `invalidValue`
 */
export function normalizeResource(type: ResourceTypeName, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === null || v === undefined) continue;
    if (/^urn:/i.test(k)) {
      const ext = attributesOf(type, k);
      if (!ext) continue;
      if (typeof v !== "object" || Array.isArray(v)) throw invalidValue(`"${k}" must be an object`);
      const extOut: Record<string, unknown> = {};
      for (const [ek, ev] of Object.entries(v as Record<string, unknown>)) {
        const d = findAttr(ext, ek);
        if (!d || ev === null || ev === undefined) continue;
        extOut[d.name] = normalizeAttr(d, ev, `${k}:${d.name}`);
      }
      out[SCHEMA_ENTERPRISE_USER] = extOut;
      continue;
    }
    const def = findAttr(attributesOf(type), k);
    if (!def || def.mutability === "readOnly" || def.name === "members") continue;
    out[def.name] = normalizeAttr(def, v, def.name);
  }
  for (const def of attributesOf(type)!) {
    if (def.required && (typeof out[def.name] !== "string" || (out[def.name] as string).trim() === "")) {
      throw invalidValue(`"${def.name}" is required and must be a non-empty string`);
    }
  }
  return out;
}

function schemaAttr(def: AttributeDef): Record<string, unknown> {
  return {
    name: def.name,
    type: def.type,
    multiValued: def.multiValued,
    description: "",
    required: def.required ?? false,
    caseExact: def.caseExact ?? false,
    mutability: def.mutability ?? "readWrite",
    returned: "default",
    uniqueness: def.uniqueness ?? "none",
    ...(def.subAttributes ? { subAttributes: def.subAttributes.map(schemaAttr) } : {}),
  };
}

/** RFC 7643 §7 schema representations */
export function schemaResources(baseUrl: string, profile: { userGroups: boolean }): Record<string, unknown>[] {
  const userAttrs = USER_ATTRIBUTES.filter((a) => a.name !== "groups" || profile.userGroups);
  const mk = (id: string, name: string, attrs: AttributeDef[]): Record<string, unknown> => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id,
    name,
    description: `${name} schema`,
    attributes: attrs.map(schemaAttr),
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${id}` },
  });
  return [
    mk(SCHEMA_USER, "User", userAttrs),
    mk(SCHEMA_GROUP, "Group", GROUP_ATTRIBUTES),
    mk(SCHEMA_ENTERPRISE_USER, "EnterpriseUser", ENTERPRISE_ATTRIBUTES),
  ];
}

/** RFC 7643 §6 resource types */
export function resourceTypeResources(baseUrl: string): Record<string, unknown>[] {
  const rt = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
  return [
    {
      schemas: [rt],
      id: "User",
      name: "User",
      endpoint: "/Users",
      schema: SCHEMA_USER,
      schemaExtensions: [{ schema: SCHEMA_ENTERPRISE_USER, required: false }],
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [rt],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      schema: SCHEMA_GROUP,
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}
