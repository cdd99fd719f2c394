/**
 * Capabilities for a client or fake Catalog in tests: no Bulk, no ETag, no User `groups`, the
 * member filter, `or` and case-insensitive `userName` working, pages of 100; `overrides` on top.
 */
import type { Capabilities } from "../../src/scim/types.js";

export function testCapabilities(overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    etag: false,
    userGroups: false,
    memberFilter: true,
    userNameCaseInsensitive: true,
    orFilter: true,
    pageCap: 100,
    ...overrides,
  };
}
