/**
 * Printing errors and results the same way in every CLI, and the one place that turns a
 * thrown value into an exit code. Only `runMain` calls `process.exit`.
 */
import { ConfigError, ExitCode, ProvisioningError, ScimResponseError, exitCodeOf } from "../errors.js";

export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A configuration error as `file:line: message (hint: …)`; others as `error: message`. */
export function formatError(e: unknown): string {
  if (e instanceof ConfigError) return e.format();
  if (e instanceof ProvisioningError) {
    const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ""}: ` : "";
    return `${where}${e.message}${e.hint && !e.message.includes(e.hint) ? ` (hint: ${e.hint})` : ""}`;
  }
  if (e instanceof ScimResponseError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The JSON form of an error for `--json` output (code, message, hint, file, line). */
export function errorJson(e: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { message: e instanceof Error ? e.message : String(e) };
  if (e instanceof ProvisioningError) {
    out.code = e.code;
    if (e.hint) out.hint = e.hint;
    if (e.file) out.file = e.file;
    if (e.line) out.line = e.line;
  }
  return out;
}

export { exitCodeOf, ExitCode };

/**
 * Run a CLI's main function and exit with its code. A thrown error is printed on stderr
 * (no stack unless `DEBUG` is set) and mapped to its exit code.
 */
export function runMain(main: () => Promise<number>, stderr: Writer = process.stderr): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      stderr.write(`${formatError(e)}\n`);
      if (process.env.DEBUG && e instanceof Error && e.stack) stderr.write(`${e.stack}\n`);
      process.exit(exitCodeOf(e));
    },
  );
}

/** A plain fixed-width table. */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "";
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}
