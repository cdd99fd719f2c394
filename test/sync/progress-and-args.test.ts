import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { choiceOption, countOption, parseCommandLine } from "../../src/cli/args.js";
import { formatError } from "../../src/cli/output.js";
import { createProgress } from "../../src/sync/progress.js";
import type { OperationOutcome } from "../../src/sync/executor.js";

const outcome = (status: OperationOutcome["status"]): OperationOutcome => ({
  index: 0,
  status,
  operation: { op: "deactivateUser", scimId: "u1", externalId: "e1" },
});

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 100, write: (c: string) => chunks.push(c) } };
}

describe("progress", () => {
  it("redraws one bar on a terminal", () => {
    const s = sink(true);
    const p = createProgress(s.stream);
    p.start("default", 4);
    for (let i = 0; i < 4; i++) p.tick(outcome(i === 1 ? "failed" : "done"));
    p.finish();
    expect(s.chunks.every((c) => c.startsWith("\r") || c === "\n")).toBe(true);
    expect(s.chunks.at(-2)).toContain("4/4 (1 failed)");
  });

  it("prints plain lines, at most one per tenth, elsewhere (CI)", () => {
    const s = sink(false);
    const p = createProgress(s.stream);
    p.start("default", 100);
    for (let i = 0; i < 100; i++) p.tick(outcome("done"));
    p.finish();
    expect(s.chunks.every((c) => c.endsWith("\n") && !c.includes("\r"))).toBe(true);
    expect(s.chunks.length).toBeLessThanOrEqual(12);
    expect(s.chunks.at(-1)).toBe("default: 100/100 operation(s)\n");
  });
});

describe("cli arguments", () => {
  const spec = { "allow-deletions": { type: "string" }, mode: { type: "string" }, json: { type: "boolean" } } as const;

  it("parses counts and choices", () => {
    const a = parseCommandLine(["--allow-deletions", "7", "--mode", "snapshot", "--json"], spec);
    expect(countOption(a, "allow-deletions")).toBe(7);
    expect(choiceOption(a, "mode", ["live", "snapshot"])).toBe("snapshot");
  });

  it("reports mistakes as configuration errors (exit 2) with quoted names", () => {
    expect(() => countOption(parseCommandLine(["--allow-deletions", "many"], spec), "allow-deletions")).toThrowError(/"--allow-deletions" must be a non-negative integer/);
    expect(() => choiceOption(parseCommandLine(["--mode", "cache"], spec), "mode", ["live", "snapshot"])).toThrowError(/"--mode" must be one of "live", "snapshot"/);
    let e: unknown;
    try {
      parseCommandLine(["--nope"], spec);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).exitCode).toBe(2);
  });

  it("prints a configuration error as file:line: message", () => {
    expect(formatError(new ConfigError('"sync.concurrency" must be a number', { file: "/x/provisioning.yaml", line: 9 }))).toBe(
      '/x/provisioning.yaml:9: "sync.concurrency" must be a number',
    );
  });
});
