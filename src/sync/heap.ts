/**
 * Heap tuning for the sync process. A sync allocates much short-lived data (parsed directory,
 * request bodies, responses) around a live set that stays small (about 120 MB at 100,000
 * users), and V8 by default lets the old generation grow to several times what survived the
 * last full collection before collecting again: most of the peak RSS is then garbage. A
 * smaller growing factor collects earlier; it sets no limit, so a larger directory still fits.
 *
 * Called by the sync command's entry (and the benchmark's sync child, which measures the same
 * process), never by library code: tests and other commands keep V8's defaults.
 */
import { setFlagsFromString } from "node:v8";

/** old-generation growth per full collection, in percent (V8's default is dynamic, up to 4×) */
export const SYNC_HEAP_GROWING_PERCENT = 50;

export function tuneHeapForSync(): void {
  setFlagsFromString(`--heap-growing-percent=${SYNC_HEAP_GROWING_PERCENT}`);
}
