/** Shared bits of the REST source tests: config from YAML, a recording sleep. */
import { loadProvisioningConfigText } from "../../../src/config/load.js";
import type { SyncSourceConfig } from "../../../src/config/types.js";

export function sourceConfig(yamlSource: string): SyncSourceConfig {
  const text = `catalog:\n  url: https://catalog.example.com/scim/v2\ngroups:\n  analysts-finance: finance-readers\nsync:\n  source:\n${yamlSource
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n`;
  return loadProvisioningConfigText(text, "/tmp/provisioning.yaml", { env: {} }).sync!.source;
}

export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** The error thrown by `fn`, for assertions on code and message. */
export async function caught(fn: () => Promise<unknown>): Promise<Error & { code?: string; exitCode?: number }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { code?: string; exitCode?: number };
  }
  throw new Error("expected a throw");
}
