/**
 * YAML with positions: parse a file into plain data while keeping the ability to say on which
 * line and column a value sits, and validate it against a JSON Schema with messages that carry
 * file, line and a hint. Shared by `provisioning.yaml` and `tenant.yaml`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { ConfigError } from "../errors.js";

export interface LocatedYaml {
  value: unknown;
  file: string;
  /**
   * 1-based position of the entry at `path`: for a mapping entry the position of its key, for a
   * sequence item the position of the item. Falls back to the nearest located ancestor.
   */
  locate(path: (string | number)[]): { line: number; column: number } | undefined;
}

/** Parse YAML text; syntax errors throw one `ConfigError` (every syntax error in `details.errors`). */
export function parseYamlText(text: string, file: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return new ConfigError(`invalid yaml: ${firstLine(e.message)}`, {
        file,
        line: pos.line,
        column: pos.col,
        hint: e.code === "DUPLICATE_KEY" ? "each key may appear only once in a mapping" : "check indentation, quotes and colons",
        details: { keyword: "yaml", yamlCode: e.code },
      });
    });
    throw aggregate(errors, file);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? null;
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return {
    value,
    file,
    locate(path) {
      let node: unknown = doc.contents;
      let found: { line: number; column: number } | undefined = node && (node as Node).range ? pos((node as Node).range![0]) : undefined;
      for (const step of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && keyString(p.key) === String(step));
          if (!pair) return found;
          const keyNode = pair.key as Node | null;
          if (keyNode && keyNode.range) found = pos(keyNode.range[0]);
          node = pair.value;
        } else if (isSeq(node) && typeof step === "number") {
          const item = node.items[step] as Node | undefined;
          if (!item) return found;
          if (item.range) found = pos(item.range[0]);
          node = item;
        } else {
          return found;
        }
      }
      return found;
    },
  };
}

/** Read and parse a YAML file; a missing file throws `ConfigError` with code `CONFIG_NOT_FOUND`. */
export function parseYamlFile(file: string): LocatedYaml {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ConfigError(`config file "${file}" not found`, {
        code: "CONFIG_NOT_FOUND",
        file,
        hint: "create it, or point PROVISIONING_CONFIG at the file to use",
        cause: e,
      });
    }
    throw new ConfigError(`config file "${file}" could not be read (${code ?? "error"})`, { file, cause: e });
  }
  return parseYamlText(text, file);
}

/** the options of every validator, compiled here or generated ahead (`npm run generate:validators`) */
/** `inlineRefs: false`: each `$ref`'d section is its own function (compiled on first use) */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, allowUnionTypes: true, inlineRefs: false } as const;

const compiled = new WeakMap<object, ValidateFunction>();
let ajv: Ajv | undefined;

/**
 * Validate a parsed document against a JSON Schema (draft-07, ajv 8, every error collected).
 * Unknown keys (`additionalProperties: false`) come back with a "did you mean" hint when a
 * known key is close. Each error has `details.keyword`, `details.path` and, for unknown keys,
 * `details.key`.
 */
export function validateWithSchema(doc: LocatedYaml, schema: object, generated?: ValidateFunction): ConfigError[] {
  // the validator generated from this schema ahead of time, when the caller has one (a test keeps them equal)
  let validate = generated ?? compiled.get(schema);
  if (!validate) {
    // the schema compiler is loaded only here: the commands validate with generated code, and
    // loading ajv's compiler costs every command start some 25 ms
    ajv ??= new (createRequire(import.meta.url)("ajv") as typeof import("ajv")).Ajv(AJV_OPTIONS);
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(doc.value)) return [];
  const out: ConfigError[] = [];
  const seen = new Set<string>();
  for (const err of validate.errors ?? []) {
    // noise from conditional and union keywords: their branches report the real problem
    if (err.keyword === "if" || err.keyword === "anyOf" || err.keyword === "oneOf" || err.keyword === "not") continue;
    const path = pointerToPath(err.instancePath);
    const e = toConfigError(doc, err, path);
    const key = `${e.line}:${e.column}:${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

/**
 * Join several errors into one whose message lists them all, one per line as
 * `file:line:column: message (hint: …)`; the list is also in `details.errors`.
 * A single error is returned as it is: print it with `format()`.
 */
export function aggregate(errors: readonly ConfigError[], file: string): ConfigError {
  if (errors.length === 1) return errors[0]!;
  const sorted = sortErrors(errors);
  // no line on the aggregate: each listed error carries its own, and format() stays readable
  return new ConfigError(`${sorted.length} configuration errors:\n${sorted.map((e) => `  ${e.format()}`).join("\n")}`, {
    code: sorted.every((e) => e.code === sorted[0]!.code) ? sorted[0]!.code : "CONFIG_INVALID",
    file,
    details: { errors: sorted },
  });
}

export function sortErrors(errors: readonly ConfigError[]): ConfigError[] {
  return [...errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** Levenshtein distance, small strings only. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= y.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (x[i - 1] === y[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[y.length]!;
}

/** the closest candidate within a small distance, for "did you mean" hints */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestD <= limit) return best;
  // "failure" → "fail", "concurrencyLimit" → "concurrency"
  const w = word.toLowerCase();
  return candidates.find((c) => c.length >= 3 && (w.startsWith(c.toLowerCase()) || c.toLowerCase().startsWith(w)) && w.length >= 3);
}

function toConfigError(doc: LocatedYaml, err: ErrorObject, path: (string | number)[]): ConfigError {
  const where = path.length > 0 ? `"${path.join(".")}"` : "the document";
  const base = { file: doc.file, details: { keyword: err.keyword, path: path.join(".") } as Record<string, unknown> };
  const at = (p: (string | number)[]) => {
    const l = doc.locate(p);
    return l ? { line: l.line, column: l.column } : {};
  };
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const props = Object.keys(((err.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      const guess = closest(key, props);
      return new ConfigError(`unknown key "${key}"${path.length > 0 ? ` in ${where}` : ""}`, {
        ...base,
        ...at([...path, key]),
        hint: guess ? `did you mean "${guess}"?` : props.length > 0 ? `allowed keys: ${props.join(", ")}` : "remove it",
        details: { ...base.details, key },
      });
    }
    case "required":
      return new ConfigError(`missing required key "${String(params.missingProperty)}"${path.length > 0 ? ` in ${where}` : ""}`, {
        ...base,
        ...at(path),
        hint: `add "${String(params.missingProperty)}"`,
      });
    case "type":
      return new ConfigError(`${where} must be ${article(String(params.type))}`, {
        ...base,
        ...at(path),
        hint: `got ${describe(err.data)}`,
      });
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      const guess = typeof err.data === "string" ? closest(err.data, (params.allowedValues as unknown[]).map(String)) : undefined;
      return new ConfigError(`${where} must be one of ${allowed.join(", ")}`, {
        ...base,
        ...at(path),
        hint: guess ? `did you mean "${guess}"?` : typeof err.data === "string" && err.data.length <= 40 ? `got "${err.data}"` : `got ${describe(err.data)}`,
      });
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return new ConfigError(`${where} must be ${String(params.comparison)} ${String(params.limit)}`, {
        ...base,
        ...at(path),
        hint: `got ${describe(err.data)}`,
      });
    case "minLength":
      return new ConfigError(`${where} must be a non-empty string`, { ...base, ...at(path), hint: "give it a value or remove the key" });
    case "minItems":
      return new ConfigError(`${where} must list at least ${String(params.limit)} item(s)`, { ...base, ...at(path), hint: "add an entry or remove the key" });
    case "pattern":
      return new ConfigError(`${where} has an invalid format`, { ...base, ...at(path), hint: `it must match ${String(params.pattern)}` });
    default:
      return new ConfigError(`${where} ${err.message ?? "is invalid"}`, { ...base, ...at(path), hint: "see docs/configuration.md" });
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function article(type: string): string {
  const t = type.replace(/,/g, " or ");
  if (t === "array") return "a list";
  if (t === "object") return "a mapping";
  if (t === "integer") return "a whole number";
  if (t === "boolean") return "true or false";
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string`;
  return `${typeof v} ${String(v)}`;
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? s).replace(/\.$/, "").replace(/^[A-Z]/, (c) => c.toLowerCase());
}
