/**
 * A `fetch` for the CLIs, backed by an undici `Agent` (keep-alive, bounded connections).
 * The Action must not import this module: its bundle uses the global `fetch`.
 */
import { Agent, fetch as undiciFetch } from "undici";

export interface CliFetchOptions {
  /** connections per origin (default 16) */
  maxConnections?: number;
  /** idle keep-alive in ms (default 30 000) */
  keepAliveTimeoutMs?: number;
}

export interface CliFetch {
  fetch: typeof fetch;
  /** closes idle connections; pending requests finish first */
  close(): Promise<void>;
}

export function createCliFetch(options: CliFetchOptions = {}): CliFetch {
  const maxConnections = options.maxConnections ?? 16;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new TypeError(`"maxConnections" must be a positive integer`);
  const agent = new Agent({
    connections: maxConnections,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 30_000, 60_000),
  });
  const f = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: agent,
    })) as unknown as typeof fetch;
  return { fetch: f, close: () => agent.close() };
}
