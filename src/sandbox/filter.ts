/**
 * SCIM filter parser and evaluator (RFC 7644 §3.4.2.2), used by the sandbox and usable as a
 * vector source by tests. Attribute names and operators are case-insensitive; string values
 * are JSON strings (RFC 7159 escapes are decoded); string comparison follows the attribute's
 * `caseExact` (RFC 7643 §2.2): `id`, `externalId`, member and group `value`, `$ref` and
 * `meta.version` are case-exact, everything else is not.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.4.2.2
 */

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
export type CompValue = string | number | boolean | null;

/** `urn:…:User:name.givenName` → `{ schema: "urn:…:User", name: "name", sub: "givenName" }` */
export interface AttrPath {
  schema?: string;
  name: string;
  sub?: string;
}

export type Filter =
  | { op: "and" | "or"; left: Filter; right: Filter }
  | { op: "not"; filter: Filter }
  | { op: "pr"; path: AttrPath }
  | { op: CompareOp; path: AttrPath; value: CompValue }
  | { op: "valuePath"; path: AttrPath; filter: Filter };

/** A PATCH `path` (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`. */
export interface PatchPath {
  path: AttrPath;
  filter?: Filter;
  /** sub-attribute after a value filter (`emails[type eq "work"].value`) */
  sub?: string;
}

/** Thrown for any malformed filter or path; the server maps it to 400 `invalidFilter` / `invalidPath`. */
export class FilterSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FilterSyntaxError";
  }
}

const COMPARE_OPS = new Set<string>(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
export const CORE_SCHEMAS = new Set([
  "urn:ietf:params:scim:schemas:core:2.0:user",
  "urn:ietf:params:scim:schemas:core:2.0:group",
]);
const CASE_EXACT = new Set(["id", "externalid", "members.value", "groups.value", "$ref", "members.$ref", "groups.$ref", "meta.version"]);

type Token =
  | { t: "("; at: number }
  | { t: ")"; at: number }
  | { t: "["; at: number }
  | { t: "]"; at: number }
  | { t: "word"; v: string; at: number }
  | { t: "string"; v: string; at: number }
  | { t: "number"; v: number; at: number }
  | { t: "dotword"; v: string; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "(" || c === ")" || c === "[" || c === "]") {
      tokens.push({ t: c, at: i });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) throw new FilterSyntaxError(`unterminated string at position ${i}`);
      const raw = text.slice(i, j + 1);
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch {
        throw new FilterSyntaxError(`invalid string literal at position ${i}`);
      }
      tokens.push({ t: "string", v: v as string, at: i });
      i = j + 1;
    } else if (c === "." && tokens.length > 0 && tokens[tokens.length - 1]!.t === "]") {
      const m = /^\.([A-Za-z$][\w$-]*)/.exec(text.slice(i));
      if (!m) throw new FilterSyntaxError(`invalid sub-attribute at position ${i}`);
      tokens.push({ t: "dotword", v: m[1]!, at: i });
      i += m[0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
      if (!m) throw new FilterSyntaxError(`invalid number at position ${i}`);
      tokens.push({ t: "number", v: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z$_]/.test(c)) {
      const m = /^[A-Za-z$_][\w.:$-]*/.exec(text.slice(i))!;
      tokens.push({ t: "word", v: m[0], at: i });
      i += m[0].length;
    } else {
      throw new FilterSyntaxError(`unexpected character "${c}" at position ${i}`);
    }
  }
  return tokens;
}

/** Parses `userName`, `name.givenName`, `urn:…:User:userName`, `urn:…:enterprise:2.0:User:manager.value`. */
export function parseAttrPath(word: string): AttrPath {
  let schema: string | undefined;
  let rest = word;
  if (/^urn:/i.test(word)) {
    const k = word.lastIndexOf(":");
    schema = word.slice(0, k);
    rest = word.slice(k + 1);
  }
  const parts = rest.split(".");
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z$][\w$-]*$/.test(p))) {
    throw new FilterSyntaxError(`invalid attribute path "${word}"`);
  }
  const path: AttrPath = { name: parts[0]! };
  if (schema !== undefined && !CORE_SCHEMAS.has(schema.toLowerCase())) path.schema = schema;
  if (parts[1] !== undefined) path.sub = parts[1];
  return path;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private next(): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new FilterSyntaxError("unexpected end of filter");
    return t;
  }
  private isKeyword(t: Token | undefined, kw: string): boolean {
    return t?.t === "word" && t.v.toLowerCase() === kw;
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  expect(kind: Token["t"]): Token {
    const t = this.next();
    if (t.t !== kind) throw new FilterSyntaxError(`expected "${kind}" at position ${t.at}`);
    return t;
  }

  parseOr(): Filter {
    let left = this.parseAnd();
    while (this.isKeyword(this.peek(), "or")) {
      this.next();
      left = { op: "or", left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): Filter {
    let left = this.parseUnary();
    while (this.isKeyword(this.peek(), "and")) {
      this.next();
      left = { op: "and", left, right: this.parseUnary() };
    }
    return left;
  }

  private parseUnary(): Filter {
    const t = this.peek();
    if (!t) throw new FilterSyntaxError("unexpected end of filter");
    if (this.isKeyword(t, "not") && this.tokens[this.i + 1]?.t === "(") {
      this.next();
      this.next();
      const inner = this.parseOr();
      this.expect(")");
      return { op: "not", filter: inner };
    }
    if (t.t === "(") {
      this.next();
      const inner = this.parseOr();
      this.expect(")");
      return inner;
    }
    return this.parseAttrExpr();
  }

  private parseAttrExpr(): Filter {
    const t = this.next();
    if (t.t !== "word") throw new FilterSyntaxError(`expected an attribute at position ${t.at}`);
    const path = parseAttrPath(t.v);
    const n = this.peek();
    if (n?.t === "[") {
      if (path.sub !== undefined) throw new FilterSyntaxError(`invalid value filter on "${t.v}"`);
      this.next();
      const inner = this.parseOr();
      this.expect("]");
      return { op: "valuePath", path, filter: inner };
    }
    const opTok = this.next();
    if (opTok.t !== "word") throw new FilterSyntaxError(`expected an operator at position ${opTok.at}`);
    const op = opTok.v.toLowerCase();
    if (op === "pr") return { op: "pr", path };
    if (!COMPARE_OPS.has(op)) throw new FilterSyntaxError(`unknown operator "${opTok.v}"`);
    const v = this.next();
    let value: CompValue;
    if (v.t === "string" || v.t === "number") value = v.v;
    else if (v.t === "word" && /^(true|false|null)$/i.test(v.v)) {
      const lv = v.v.toLowerCase();
      value = lv === "null" ? null : lv === "true";
    } else throw new FilterSyntaxError(`expected a value at position ${v.at}`);
    return { op: op as CompareOp, path, value };
  }

  parsePatchPath(): PatchPath {
    const t = this.next();
    if (t.t !== "word") throw new FilterSyntaxError(`expected an attribute at position ${t.at}`);
    const path = parseAttrPath(t.v);
    const result: PatchPath = { path };
    if (this.peek()?.t === "[") {
      if (path.sub !== undefined) throw new FilterSyntaxError(`invalid value filter on "${t.v}"`);
      this.next();
      result.filter = this.parseOr();
      this.expect("]");
      const s = this.peek();
      if (s?.t === "dotword") {
        this.next();
        result.sub = s.v;
      }
    }
    return result;
  }
}

/** @throws FilterSyntaxError */
export function parseFilter(text: string): Filter {
  const p = new Parser(tokenize(text));
  if (p.done()) throw new FilterSyntaxError("empty filter");
  const f = p.parseOr();
  if (!p.done()) throw new FilterSyntaxError("unexpected text after the filter");
  return f;
}

/** @throws FilterSyntaxError */
export function parsePatchPath(text: string): PatchPath {
  const p = new Parser(tokenize(text));
  if (p.done()) throw new FilterSyntaxError("empty path");
  const r = p.parsePatchPath();
  if (!p.done()) throw new FilterSyntaxError(`invalid path "${text}"`);
  return r;
}

/** case-insensitive property lookup */
export function getProp(obj: unknown, name: string): unknown {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return undefined;
  const rec = obj as Record<string, unknown>;
  if (name in rec) return rec[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

function pathKey(path: AttrPath, parent?: string): string {
  const base = parent ? `${parent}.${path.name}` : path.name;
  return (path.sub ? `${base}.${path.sub}` : base).toLowerCase();
}

/** values addressed by a path in a resource, flattened over multi-valued attributes */
function valuesAt(resource: unknown, path: AttrPath, forCompare: boolean): unknown[] {
  const root = path.schema ? getProp(resource, path.schema) : resource;
  const top = getProp(root, path.name);
  const items = Array.isArray(top) ? top : top === undefined || top === null ? [] : [top];
  if (path.sub !== undefined) {
    return items.flatMap((it) => {
      const v = getProp(it, path.sub!);
      return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
    });
  }
  // comparing a multi-valued complex attribute compares its "value" (RFC 7644 §3.4.2.2)
  if (forCompare) return items.map((it) => (it !== null && typeof it === "object" ? getProp(it, "value") : it));
  return items;
}

function compare(op: CompareOp, actual: unknown, expected: CompValue, caseExact: boolean): boolean {
  if (expected === null) return false;
  if (typeof expected === "boolean") {
    if (op !== "eq" && op !== "ne") throw new FilterSyntaxError(`operator "${op}" does not apply to a boolean`);
    return actual === expected;
  }
  if (typeof expected === "number") {
    if (typeof actual !== "number") return false;
    switch (op) {
      case "eq": return actual === expected;
      case "gt": return actual > expected;
      case "ge": return actual >= expected;
      case "lt": return actual < expected;
      case "le": return actual <= expected;
      default: throw new FilterSyntaxError(`operator "${op}" does not apply to a number`);
    }
  }
  if (typeof actual !== "string") return false;
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case "eq": return a === e;
    case "co": return a.includes(e);
    case "sw": return a.startsWith(e);
    case "ew": return a.endsWith(e);
    case "gt": return a > e;
    case "ge": return a >= e;
    case "lt": return a < e;
    case "le": return a <= e;
    default: return false;
  }
}

/**
 * Does `resource` match `filter`? `parent` is the multi-valued attribute name when
 * evaluating inside a value filter (`emails[type eq "work"]`), for `caseExact`.
 */
export function matchesFilter(filter: Filter, resource: unknown, parent?: string): boolean {
  switch (filter.op) {
    case "and":
      return matchesFilter(filter.left, resource, parent) && matchesFilter(filter.right, resource, parent);
    case "or":
      return matchesFilter(filter.left, resource, parent) || matchesFilter(filter.right, resource, parent);
    case "not":
      return !matchesFilter(filter.filter, resource, parent);
    case "pr":
      return valuesAt(resource, filter.path, false).some((v) => v !== "" && !(Array.isArray(v) && v.length === 0));
    case "valuePath": {
      const items = valuesAt(resource, filter.path, false);
      const name = filter.path.name;
      return items.some((it) => matchesFilter(filter.filter, it, name));
    }
    default: {
      const key = pathKey(filter.path, parent);
      const implicitValue = parent === undefined && filter.path.sub === undefined ? `${key}.value` : key;
      const caseExact = CASE_EXACT.has(key) || CASE_EXACT.has(implicitValue);
      const values = valuesAt(resource, filter.path, true);
      if (filter.op === "ne") {
        return !values.some((v) => compare("eq", v, filter.value, caseExact));
      }
      if (filter.value === null) return filter.op === "eq" ? values.length === 0 : false;
      return values.some((v) => compare(filter.op as CompareOp, v, filter.value, caseExact));
    }
  }
}

/** Attributes a filter refers to, lowercased dotted paths (`emails.value`, `members.value`). */
export function* filterAttributes(filter: Filter, parent?: string): Generator<{ key: string; op: string }> {
  switch (filter.op) {
    case "and":
    case "or":
      yield* filterAttributes(filter.left, parent);
      yield* filterAttributes(filter.right, parent);
      return;
    case "not":
      yield { key: "", op: "not" };
      yield* filterAttributes(filter.filter, parent);
      return;
    case "valuePath":
      yield { key: pathKey(filter.path, parent), op: "valuePath" };
      yield* filterAttributes(filter.filter, pathKey(filter.path, parent));
      return;
    default:
      yield { key: pathKey(filter.path, parent), op: filter.op };
  }
}

/**
 * An indexed equality the store can use to narrow candidates before evaluating the whole
 * filter: a top-level `eq` (or one side of an `and`) on an indexed attribute.
 */
export function indexedEquality(filter: Filter, indexed: ReadonlySet<string>): { key: string; value: string } | undefined {
  if (filter.op === "and") return indexedEquality(filter.left, indexed) ?? indexedEquality(filter.right, indexed);
  if (filter.op === "eq" && typeof filter.value === "string" && !filter.path.schema) {
    const key = pathKey(filter.path);
    if (indexed.has(key)) return { key, value: filter.value };
  }
  if (filter.op === "valuePath" && !filter.path.schema && filter.filter.op === "eq" && typeof filter.filter.value === "string") {
    const key = `${filter.path.name}.${filter.filter.path.name}`.toLowerCase();
    if (!filter.filter.path.sub && indexed.has(key)) return { key, value: filter.filter.value };
  }
  return undefined;
}
