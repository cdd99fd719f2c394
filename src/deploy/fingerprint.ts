/**
 * Build fingerprints for published Actions (the crypto edge of the deploy planner).
 *
 * A fingerprint is an HMAC-SHA-256 over the code, the dependencies, the runtime, the
 * supported triggers and the secret names and values. It is keyed from the deploy
 * credential (HKDF-SHA-256 of the client secret) or from a dedicated
 * `DEPLOY_FINGERPRINT_KEY`, so a fingerprint published in the Action code never lets anyone
 * check a guess of a secret value. It is appended to the published code as a trailing
 * comment and read back from the tenant to decide whether anything changed.
 */
import { createHash, createHmac, hkdfSync } from "node:crypto";


export interface FingerprintInput {
  code: string;
  runtime: string;
  dependencies: { name: string; version: string; registry_url?: string }[];
  supported_triggers: { id: string; version?: string }[];
  secrets: { name: string; value: string }[];
}

/**
 * Derive the fingerprint key. `DEPLOY_FINGERPRINT_KEY` (shared by CI and admins) wins;
 * otherwise the key comes from the deploy client's secret.
 */
export function deriveFingerprintKey(input: { clientSecret?: string; dedicatedKey?: string }): Buffer {
  const ikm = input.dedicatedKey ?? input.clientSecret;
  if (ikm === undefined || ikm === "") {
    throw new TypeError("a fingerprint key needs \"AUTH0_CLIENT_SECRET\" or \"DEPLOY_FINGERPRINT_KEY\"");
  }
  return Buffer.from(hkdfSync("sha256", ikm, "auth0-catalog-provisioning", "catalog-deploy fingerprint v1", 32));
}

/** HMAC fingerprint of one Action build, 64 lowercase hex characters */
export function fingerprintAction(key: Buffer, input: FingerprintInput): string {
  const canonical = JSON.stringify({
    v: 1,
    code: createHash("sha256").update(input.code, "utf8").digest("hex"),
    runtime: input.runtime,
    dependencies: [...input.dependencies]
      .map((d) => [d.name, d.version, d.registry_url ?? ""])
      .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    supported_triggers: [...input.supported_triggers].map((t) => [t.id, t.version ?? ""]).sort(),
    secrets: [...input.secrets].map((s) => [s.name, s.value]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
  });
  return createHmac("sha256", key).update(canonical, "utf8").digest("hex");
}
