/**
 * PATCH request builders (RFC 7644 §3.5.2). Membership changes use only `add` of explicit
 * values and `remove` with a `members[value eq "…"]` filter: never a bare `remove members`
 * (which removes every member) and never a `replace` of the member list.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.5.2
 */
import { SCHEMA_PATCH_OP, type PatchOperation, type PatchRequest, type ScimEmail, type ScimUser, type ScimUserInput } from "./types.js";
import { eq, valuePath } from "./filter.js";

/** `{"schemas":[PatchOp],"Operations":[…]}` */
export function patchRequest(operations: PatchOperation[]): PatchRequest {
  return { schemas: [SCHEMA_PATCH_OP], Operations: operations };
}

function assertId(value: unknown): asserts value is string {
  if (typeof value !== "string" || value === "") throw new TypeError(`member "value" must be a non-empty string`);
}

/** `add` of explicit member values (RFC 7644 §3.5.2.1) */
export function addMembers(values: string[]): PatchOperation {
  if (values.length === 0) throw new TypeError(`"addMembers" needs at least one value`);
  values.forEach(assertId);
  return { op: "add", path: "members", value: values.map((value) => ({ value })) };
}

/** `remove` of one member with `members[value eq "…"]` (RFC 7644 §3.5.2.2) */
export function removeMember(value: string): PatchOperation {
  assertId(value);
  return { op: "remove", path: valuePath("members", eq("value", value)).text };
}

export function removeMembers(values: string[]): PatchOperation[] {
  return values.map(removeMember);
}

/**
 * True when an operation could touch members other than the explicit ones named:
 * a path-less or bare `members` remove, or a `replace` of members.
 */
export function isUnsafeMemberOperation(op: PatchOperation): boolean {
  const path = (op.path ?? "").trim().toLowerCase();
  const o = op.op.toLowerCase();
  if (o === "replace" && (path === "members" || path.startsWith("members[") || (path === "" && hasMembers(op.value)))) return true;
  if (o === "remove" && (path === "" || path === "members")) return true;
  return false;
}

function hasMembers(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.keys(v).some((k) => k.toLowerCase() === "members");
}

/** `replace active=false`, what Okta and Entra send to deprovision */
export function deactivate(): PatchOperation[] {
  return [{ op: "replace", path: "active", value: false }];
}

/** The email a user is reached at: the `work` one, else the primary one, else the first. */
export function workEmail(emails: ScimEmail[] | undefined): ScimEmail | undefined {
  if (!emails || emails.length === 0) return undefined;
  return emails.find((e) => e.type === "work") ?? emails.find((e) => e.primary === true) ?? emails[0];
}

/**
 * `replace` operations for the attributes of `desired` that differ from `current`.
 * Only attributes present in `desired` are compared. `userName` is compared
 * case-insensitively (RFC 7643 `caseExact: false`). The email is changed through
 * `emails[type eq "work"].value` (or `emails[primary eq true].value`), never by replacing
 * the whole `emails` list; a user without emails gets an `add`.
 */
export function userChanges(current: ScimUser, desired: Partial<ScimUserInput>): PatchOperation[] {
  const ops: PatchOperation[] = [];
  if (desired.userName !== undefined && desired.userName.toLowerCase() !== current.userName.toLowerCase()) {
    ops.push({ op: "replace", path: "userName", value: desired.userName });
  }
  if (desired.externalId !== undefined && desired.externalId !== current.externalId) {
    ops.push({ op: "replace", path: "externalId", value: desired.externalId });
  }
  if (desired.displayName !== undefined && desired.displayName !== current.displayName) {
    ops.push({ op: "replace", path: "displayName", value: desired.displayName });
  }
  if (desired.name) {
    for (const k of ["givenName", "familyName", "formatted"] as const) {
      const v = desired.name[k];
      if (v !== undefined && v !== current.name?.[k]) ops.push({ op: "replace", path: `name.${k}`, value: v });
    }
  }
  if (desired.active !== undefined && desired.active !== (current.active ?? true)) {
    ops.push({ op: "replace", path: "active", value: desired.active });
  }
  const wanted = workEmail(desired.emails);
  if (wanted) {
    const emails = current.emails ?? [];
    const work = emails.find((e) => e.type === "work");
    const primary = emails.find((e) => e.primary === true);
    const target = work ?? primary;
    if (target) {
      if (target.value !== wanted.value) {
        const path = work ? valuePath("emails", eq("type", "work")).text : valuePath("emails", eq("primary", true)).text;
        ops.push({ op: "replace", path: `${path}.value`, value: wanted.value });
      }
    } else if (!emails.some((e) => e.value === wanted.value)) {
      ops.push({ op: "add", path: "emails", value: [{ value: wanted.value, type: wanted.type ?? "work", primary: emails.length === 0 }] });
    }
  }
  return ops;
}
