/**
 * Prints what each source file contributes to the minified Post-Login Action bundle
 * (esbuild's bytesInOutput), largest first, and the total.
 */
import { buildActionBundle } from "../src/deploy/bundle.js";

const { bytes, metafile } = await buildActionBundle({ metafile: true });
const output = Object.values(metafile?.outputs ?? {})[0];
const rows = Object.entries(output?.inputs ?? {})
  .map(([file, { bytesInOutput }]) => [file, bytesInOutput] as const)
  .filter(([, b]) => b > 0)
  .sort((a, b) => b[1] - a[1]);
for (const [file, b] of rows) console.log(`${String(b).padStart(7)}  ${file}`);
console.log(`${String(bytes).padStart(7)}  total`);
