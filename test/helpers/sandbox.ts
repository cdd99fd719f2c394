/**
 * Starts the local Catalog SCIM sandbox in its own process for integration tests, so its
 * synchronous SQLite work never blocks the client under test.
 */
import { spawnSandbox, type SandboxProcess } from "../../src/sandbox/process.js";

export type { AuditEntry, FaultSpec, RequestEntry, SandboxStats } from "../../src/sandbox/types.js";

export interface SandboxOptions {
  profile?: "full" | "minimal";
  apiKey?: string;
  /** Catalog groups seeded at start-up; default: the example mapping's Catalog groups */
  groups?: string[];
  maxPageSize?: number;
  /** a file path or ":memory:" (default) */
  db?: string;
  /** extra Node options for the sandbox process */
  nodeArgs?: string[];
}

export type SandboxHandle = SandboxProcess;

export const DEFAULT_SANDBOX_GROUPS = ["catalog-admins", "finance-readers", "mkt-readers", "data-stewards"];

export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  return spawnSandbox({ ...options, groups: options.groups ?? DEFAULT_SANDBOX_GROUPS });
}
