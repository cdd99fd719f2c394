/**
 * `npm run build`: the compiled CLIs (`dist/cli/*.js`, see scripts/cli.mjs), then the Post-Login
 * Action bundle dist/actions/catalog-provisioning.js.
 * Honours PROVISIONING_CONFIG. Exit 1 when the CLIs do not build, 2 on a configuration error, 3
 * when the Action bundle fails its checks (over Auth0's 100 kB, the Action's code over its 30 kB
 * budget, a foreign `require`, no `onExecutePostLogin`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, ExitCode } from "../src/errors.js";
import { buildActionBundle, checkBundle } from "../src/deploy/bundle.js";
import { buildCliBundles } from "./cli.mjs";

const OUT = "dist/actions/catalog-provisioning.js";

async function main(): Promise<number> {
  try {
    const written = await buildCliBundles();
    console.log(`dist/cli: ${written.length} compiled CLIs, ${Math.round(written.reduce((n, w) => n + w.bytes, 0) / 1024)} kB`);
  } catch (e) {
    console.error(`building "dist/cli" failed: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.OPERATIONS_FAILED;
  }
  let bundle;
  try {
    bundle = await buildActionBundle(process.env.PROVISIONING_CONFIG ? { configFile: process.env.PROVISIONING_CONFIG } : {});
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.format());
      return ExitCode.CONFIG;
    }
    console.error(`build failed: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.OPERATIONS_FAILED;
  }
  const check = checkBundle(bundle.code, { configBytes: bundle.configBytes });
  const out = resolve(OUT);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bundle.code);
  console.log(`${OUT} ${bundle.bytes} bytes (mapping ${bundle.configBytes}) sha256 ${bundle.sha256}`);
  for (const w of check.warnings) console.error(`warning: ${w}`);
  if (!check.ok) {
    for (const p of check.problems) console.error(p);
    return ExitCode.REFUSED;
  }
  return ExitCode.OK;
}

main().then((code) => process.exit(code));
