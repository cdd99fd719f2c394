/**
 * npm run sandbox -- --port <n> --api-key <key> --groups <a,b,c> [--groups-file <file>]
 *   [--db <file>|:memory:] [--profile full|minimal] [--max-page-size <n>] [--host 127.0.0.1]
 *
 * Serves a strict local Catalog SCIM 2.0 API and prints its base URL once when ready.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ExitCode } from "../src/errors.js";
import { startSandboxServer } from "../src/sandbox/server.js";

function fail(message: string): never {
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(ExitCode.CONFIG);
}

function readGroupsFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    fail(`cannot read groups file "${file}"`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      fail(`groups file "${file}" is not valid JSON`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { groups?: unknown }).groups;
    if (!Array.isArray(list) || list.some((g) => typeof g !== "string")) fail(`groups file "${file}" must hold an array of group names`);
    return list as string[];
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        "api-key": { type: "string" },
        groups: { type: "string" },
        "groups-file": { type: "string" },
        db: { type: "string", default: ":memory:" },
        profile: { type: "string", default: "full" },
        "max-page-size": { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const apiKey = values["api-key"] ?? process.env.CATALOG_API_KEY;
  if (!apiKey) fail(`"--api-key" is required`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`"--port" must be an integer between 0 and 65535`);
  const profile = values.profile;
  if (profile !== "full" && profile !== "minimal") fail(`"--profile" must be "full" or "minimal"`);
  let maxPageSize: number | undefined;
  if (values["max-page-size"] !== undefined) {
    maxPageSize = Number(values["max-page-size"]);
    if (!Number.isInteger(maxPageSize) || maxPageSize < 1) fail(`"--max-page-size" must be a positive integer`);
  }
  const groups = [
    ...(values.groups ? values.groups.split(",").map((g) => g.trim()).filter(Boolean) : []),
    ...(values["groups-file"] ? readGroupsFile(values["groups-file"]) : []),
  ];

  const server = await startSandboxServer({
    apiKey,
    groups,
    db: values.db!,
    profile,
    host: values.host!,
    port,
    ...(maxPageSize !== undefined ? { maxPageSize } : {}),
  });
  process.stdout.write(`${server.baseUrl}\n`);

  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(ExitCode.OK),
      () => process.exit(ExitCode.OK),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(ExitCode.OPERATIONS_FAILED);
});
