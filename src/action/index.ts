/**
 * The Post-Login handler, wired to the SCIM client and the global `fetch`.
 * The clock (`Date.now`) and randomness are read only here, at the edge.
 */
import type { ActionConfig } from "../config/action-config.js";
import { ActionScimClient } from "./scim-lite.js";
import type { PostLoginApi, PostLoginEvent } from "./auth0-types.js";
import { runPostLogin, type ExecutorDeps } from "./executor.js";

export type { PostLoginApi, PostLoginEvent } from "./auth0-types.js";
export { runPostLogin, summaryLine, type ExecutorDeps, type LoginSummary } from "./executor.js";

export function defaultDeps(): ExecutorDeps {
  return {
    createClient: (options) => new ActionScimClient(options),
    now: () => Date.now(),
    random: () => Math.random(),
    log: (line) => console.log(line),
  };
}

/** `onExecutePostLogin` for a compiled config; never throws. */
export function createPostLoginHandler(config: ActionConfig, deps: Partial<ExecutorDeps> = {}) {
  return async (event: PostLoginEvent, api: PostLoginApi): Promise<void> => {
    await runPostLogin(event, api, config, { ...defaultDeps(), ...deps });
  };
}
