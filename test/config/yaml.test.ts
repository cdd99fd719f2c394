import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { parseYamlFile, parseYamlText, validateWithSchema } from "../../src/config/yaml.js";

const schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    catalog: { type: "object", additionalProperties: false, properties: { url: { type: "string" } }, required: ["url"] },
    mode: { enum: ["live", "snapshot"] },
    items: { type: "array", items: { type: "integer" } },
  },
};

describe("located yaml", () => {
  it("locates keys and sequence items with 1-based line and column", () => {
    const doc = parseYamlText("catalog:\n  url: x\nitems:\n  - 1\n  - 2\n", "f.yaml");
    expect(doc.value).toEqual({ catalog: { url: "x" }, items: [1, 2] });
    expect(doc.locate(["catalog", "url"])).toEqual({ line: 2, column: 3 });
    expect(doc.locate(["items", 1])).toEqual({ line: 5, column: 5 });
    expect(doc.locate(["catalog", "missing"])).toEqual({ line: 1, column: 1 });
  });

  it("reports a yaml syntax error with file and line", () => {
    try {
      parseYamlText("catalog:\n  url: [unclosed\nother: 1\n", "bad.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const err = e as ConfigError;
      expect(err.file).toBe("bad.yaml");
      expect(err.line).toBeGreaterThan(0);
      expect(err.exitCode).toBe(2);
    }
  });

  it("reports a duplicate key", () => {
    expect(() => parseYamlText("a: 1\na: 2\n", "dup.yaml")).toThrow(/invalid yaml/);
  });

  it("a missing file is CONFIG_NOT_FOUND", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    try {
      parseYamlFile(join(dir, "nope.yaml"));
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).code).toBe("CONFIG_NOT_FOUND");
      expect((e as ConfigError).exitCode).toBe(2);
    }
    writeFileSync(join(dir, "ok.yaml"), "mode: live\n");
    expect(parseYamlFile(join(dir, "ok.yaml")).value).toEqual({ mode: "live" });
  });
});

describe("schema validation", () => {
  it("rejects unknown keys with a did-you-mean hint, at the key's line", () => {
    const doc = parseYamlText("catalog:\n  url: x\n  ulr: y\n", "f.yaml");
    const errors = validateWithSchema(doc, schema);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('unknown key "ulr" in "catalog"');
    expect(errors[0]!.hint).toBe('did you mean "url"?');
    expect(errors[0]!.line).toBe(3);
    expect(errors[0]!.format()).toBe('f.yaml:3:3: unknown key "ulr" in "catalog" (hint: did you mean "url"?)');
  });

  it("collects every error at once", () => {
    const doc = parseYamlText("catalog: {}\nmode: lve\nitems: [1, two]\n", "f.yaml");
    const errors = validateWithSchema(doc, schema);
    expect(errors.map((e) => e.line).sort()).toEqual([1, 2, 3]);
    expect(errors.find((e) => e.line === 2)!.hint).toBe('did you mean "live"?');
    expect(errors.find((e) => e.line === 3)!.message).toBe('"items.1" must be a whole number');
  });
});
