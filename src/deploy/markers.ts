/** Trailing comments the deploy appends to published Action code (pure constants). */

/** carries the build fingerprint: `//# catalog-deploy: v1 <hex>` */
export const FINGERPRINT_MARKER = "//# catalog-deploy: v1 ";
/** records a rollback pin in the draft: `//# catalog-deploy-pin: v<number> <version id>` */
export const PIN_MARKER = "//# catalog-deploy-pin: ";
