/** The SCIM 2.0 client (without the CLI-only undici fetch, see `cli-fetch.ts`). */
export * from "./client.js";
export * from "./transport.js";
export * as filter from "./filter.js";
export * as patch from "./patch.js";
export * from "./list-response.js";
export * from "./bulk.js";
export * from "./discovery.js";
export * from "./errors.js";
export * from "./types.js";
