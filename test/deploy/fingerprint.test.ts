import { describe, expect, it } from "vitest";
import { deriveFingerprintKey, fingerprintAction, type FingerprintInput } from "../../src/deploy/fingerprint.js";

const input: FingerprintInput = { code: "x", runtime: "node22", dependencies: [], supported_triggers: [{ id: "post-login", version: "v3" }], secrets: [{ name: "K", value: "v1" }] };

describe("build fingerprint (keyed HMAC)", () => {
  const key = deriveFingerprintKey({ clientSecret: "s" });
  it("is stable for the same input and key (two machines agree)", () => {
    expect(fingerprintAction(deriveFingerprintKey({ clientSecret: "s" }), input)).toBe(fingerprintAction(key, input));
  });
  it("changes with code, runtime, dependencies and each secret value", () => {
    const base = fingerprintAction(key, input);
    for (const changed of [
      { ...input, code: "y" },
      { ...input, runtime: "node18" },
      { ...input, dependencies: [{ name: "a", version: "1" }] },
      { ...input, secrets: [{ name: "K", value: "v2" }] },
      { ...input, secrets: [{ name: "K2", value: "v1" }] },
    ]) expect(fingerprintAction(key, changed)).not.toBe(base);
  });
  it("depends on the key: another credential or DEPLOY_FINGERPRINT_KEY gives another value", () => {
    expect(fingerprintAction(deriveFingerprintKey({ clientSecret: "other" }), input)).not.toBe(fingerprintAction(key, input));
    expect(fingerprintAction(deriveFingerprintKey({ clientSecret: "s", dedicatedKey: "k" }), input)).toBe(fingerprintAction(deriveFingerprintKey({ clientSecret: "zz", dedicatedKey: "k" }), input));
  });
  it("is 64 hex characters, whatever the secret value", () => {
    expect(fingerprintAction(key, { ...input, secrets: [{ name: "K", value: "not hex at all" }] })).toMatch(/^[0-9a-f]{64}$/);
  });
  it("secret order does not matter", () => {
    const two = { ...input, secrets: [{ name: "A", value: "1" }, { name: "B", value: "2" }] };
    expect(fingerprintAction(key, two)).toBe(fingerprintAction(key, { ...two, secrets: [...two.secrets].reverse() }));
  });
});
