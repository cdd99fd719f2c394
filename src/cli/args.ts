/**
 * Command-line parsing shared by the CLIs: a thin layer over `node:util` `parseArgs` that
 * turns a mistake into a {@link UsageError} (exit 2) instead of a stack trace.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../errors.js";

export type OptionSpec = { type: "string" | "boolean"; short?: string; multiple?: boolean };

/** A command-line mistake: exit 2 like every configuration error. */
export class UsageError extends ConfigError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.name = "UsageError";
  }
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parseCommandLine(argv: readonly string[], options: Record<string, OptionSpec>, usage?: string): ParsedArgs {
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: r.values as ParsedArgs["values"], positionals: r.positionals };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(firstLine(msg).replace(/\.$/, "").replace(/^./, (c) => c.toLowerCase()), usage);
  }
}

/**
 * {@link parseCommandLine} with a `--help`/`-h` flag added: when it is given, writes the usage
 * to `out` and returns undefined (the CLI then exits 0).
 */
export function parseCommandLineOrHelp(
  argv: readonly string[],
  options: Record<string, OptionSpec>,
  usage: string,
  out: { write(text: string): unknown } = process.stdout,
): ParsedArgs | undefined {
  const args = parseCommandLine(argv, { ...options, help: { type: "boolean", short: "h" } }, usage);
  if (booleanOption(args, "help")) {
    out.write(`${usage}\n`);
    return undefined;
  }
  return args;
}

/** A string option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

export function booleanOption(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A non-negative integer option, or undefined; anything else is a usage error. */
export function countOption(args: ParsedArgs, name: string): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`"--${name}" must be a non-negative integer, got "${v}"`);
  return Number(v);
}

/** One of `choices`, or undefined. */
export function choiceOption<T extends string>(args: ParsedArgs, name: string, choices: readonly T[]): T | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`"--${name}" must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got "${v}"`);
  }
  return v as T;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
