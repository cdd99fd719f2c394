/**
 * Suite hooks around one sandbox process.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { lateBound } from "./late.js";
import { startSandbox, type SandboxHandle, type SandboxOptions } from "./sandbox.js";

/**
 * One sandbox for the enclosing suite: started before all its tests, stopped after them, and
 * before each test its faults cleared and its Catalog reset to `options.groups`.
 */
export function useSandbox(options: SandboxOptions & { groups: string[] }): SandboxHandle {
  let sandbox: SandboxHandle | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(options);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });
  beforeEach(async () => {
    await sandbox!.setFaults([]);
    await sandbox!.reset(options.groups);
  });
  return lateBound(() => sandbox, "sandbox");
}

/** The Action's Catalog secrets for a sandbox. */
export function catalogSecrets(sandbox: SandboxHandle): Record<string, string> {
  return { CATALOG_SCIM_URL: sandbox.baseUrl, CATALOG_API_KEY: sandbox.apiKey };
}
