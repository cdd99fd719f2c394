/**
 * Auth0 Post-Login Action: just-in-time provisioning of Catalog users and group memberships.
 * `npm run build` bundles this file into `dist/actions/catalog-provisioning.js` with the
 * compiled config from provisioning.yaml injected as `__CATALOG_ACTION_CONFIG__`.
 */
import type { ActionConfig } from "../src/config/action-config.js";
import { createPostLoginHandler, type PostLoginApi, type PostLoginEvent } from "../src/action/index.js";

declare const __CATALOG_ACTION_CONFIG__: ActionConfig;

const handler = createPostLoginHandler(__CATALOG_ACTION_CONFIG__);

export const onExecutePostLogin = async (event: PostLoginEvent, api: PostLoginApi): Promise<void> => {
  try {
    await handler(event, api);
  } catch {
    // never let an error escape the Action
  }
};
