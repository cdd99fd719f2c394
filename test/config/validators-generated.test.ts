import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED_DIR, generateValidators } from "../../scripts/generate-validators.js";
import { parseYamlText, validateWithSchema } from "../../src/config/yaml.js";
import { provisioningSchema } from "../../src/config/schema.js";
import validateProvisioning from "../../src/config/generated/provisioning-validator.js";
import validateTenant from "../../src/config/generated/tenant-validator.js";
import { tenantSchema } from "../../src/deploy/tenant.js";

describe("validators generated ahead of time from the JSON Schemas", () => {
  it("the files in src/config/generated match the schemas (run `npm run generate:validators` after changing a schema)", () => {
    for (const [name, content] of Object.entries(generateValidators())) {
      expect(readFileSync(join(GENERATED_DIR, name), "utf8"), name).toBe(content);
    }
  });

  const cases: { name: string; schema: object; generated: typeof validateTenant; text: string }[] = [
    { name: "provisioning: unknown key, wrong type, below minimum", schema: provisioningSchema, generated: validateProvisioning, text: "catalog:\n  url: https://x.example\n  urll: 1\nsync:\n  batchSize: 0\n  concurrency: many\n" },
    { name: "provisioning: valid", schema: provisioningSchema, generated: validateProvisioning, text: "catalog:\n  url: https://x.example\ngroups:\n  a: B\n" },
    { name: "tenant: missing name, unknown key", schema: tenantSchema, generated: validateTenant, text: "actions:\n  - code: x.js\n    runtimee: node22\n" },
  ];
  for (const c of cases) {
    it(`reports exactly what the schema compiled at run time reports: ${c.name}`, () => {
      const doc = parseYamlText(c.text, "x.yaml");
      const fromGenerated = validateWithSchema(doc, c.schema, c.generated).map((e) => e.format());
      const compiledNow = validateWithSchema(doc, c.schema).map((e) => e.format());
      expect(fromGenerated).toEqual(compiledNow);
      if (!c.name.endsWith("valid")) expect(fromGenerated.length).toBeGreaterThan(0);
    });
  }
});
