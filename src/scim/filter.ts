/**
 * SCIM filter builders (RFC 7644 §3.4.2.2). Values are escaped with JSON string rules
 * (`compValue` follows RFC 7159), so quotes, backslashes, `)` and ` or ` inside a value can
 * never change the expression. Encode the whole filter with {@link encodeFilter} (or let the
 * transport do it) before putting it in a URL.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.4.2.2
 */

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
export type CompValue = string | number | boolean | null;

/** A built filter. `kind` tracks precedence so that `and`/`or` add parentheses only where needed. */
export class Filter {
  /** @internal */
  constructor(
    readonly text: string,
    readonly kind: "atom" | "and" | "or",
  ) {}
  toString(): string {
    return this.text;
  }
}

const ATTR_PATH = /^(?:urn:[A-Za-z0-9][A-Za-z0-9.:_-]*:)?[A-Za-z][A-Za-z0-9_$-]*(?:\.[A-Za-z][A-Za-z0-9_$-]*)?$/;
const OPS = new Set<CompareOp>(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);

function assertAttrPath(attr: string): void {
  if (typeof attr !== "string" || !ATTR_PATH.test(attr)) throw new TypeError(`"${String(attr)}" is not a valid SCIM attribute path`);
}

/** RFC 7644 `compValue`: JSON literal rules */
export function compValue(value: CompValue): string {
  if (value === null || typeof value === "string" || typeof value === "boolean" || Number.isFinite(value)) return JSON.stringify(value);
  throw new TypeError(`filter value must be a string, a finite number, a boolean or null`);
}

function atom(attr: string, op: CompareOp, value: CompValue): Filter {
  assertAttrPath(attr);
  return new Filter(`${attr} ${op} ${compValue(value)}`, "atom");
}

/** `attr op value` */
export function compare(attr: string, op: CompareOp, value: CompValue): Filter {
  if (!OPS.has(op)) throw new TypeError(`"${String(op)}" is not a SCIM comparison operator`);
  return atom(attr, op, value);
}

/** `attr eq value` */
export function eq(attr: string, value: CompValue): Filter {
  return atom(attr, "eq", value);
}

/** `attr pr` */
export function pr(attr: string): Filter {
  assertAttrPath(attr);
  return new Filter(`${attr} pr`, "atom");
}

/** `a and b and …`; an `or` operand is parenthesised */
export function and(...filters: Filter[]): Filter {
  if (filters.length === 0) throw new TypeError(`"and" needs at least one filter`);
  if (filters.length === 1) return filters[0]!;
  return new Filter(filters.map((f) => (f.kind === "or" ? `(${f.text})` : f.text)).join(" and "), "and");
}

/** `a or b or …` (`and` binds tighter, so no parentheses are needed) */
export function or(...filters: Filter[]): Filter {
  if (filters.length === 0) throw new TypeError(`"or" needs at least one filter`);
  if (filters.length === 1) return filters[0]!;
  return new Filter(filters.map((f) => f.text).join(" or "), "or");
}

/** `not (a)` */
export function not(filter: Filter): Filter {
  return new Filter(`not (${filter.text})`, "atom");
}

/** `attr[filter]`, e.g. `members[value eq "…"]` (also a PATCH `path`) */
export function valuePath(attr: string, filter: Filter): Filter {
  assertAttrPath(attr);
  return new Filter(`${attr}[${filter.text}]`, "atom");
}

/** URL-encodes a filter for the `filter` query parameter */
export function encodeFilter(filter: Filter | string): string {
  return encodeURIComponent(String(filter));
}
