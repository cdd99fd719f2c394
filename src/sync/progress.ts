/**
 * Progress while a plan is applied: a redrawn bar on a terminal, plain lines elsewhere (CI),
 * nothing when silenced. Writes to stderr so that `--json` output on stdout stays one line.
 */
import type { OperationOutcome } from "./executor.js";

export interface ProgressReporter {
  start(target: string, total: number): void;
  tick(outcome: OperationOutcome): void;
  finish(): void;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export const silentProgress: ProgressReporter = { start() {}, tick() {}, finish() {} };

/** A bar when `stream.isTTY`, otherwise a line at every tenth of the work and at the end. */
export function createProgress(stream: ProgressStream): ProgressReporter {
  let total = 0;
  let done = 0;
  let failed = 0;
  let target = "";
  let lastTenth = -1;
  const tty = stream.isTTY === true;
  const draw = (): void => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
    const filled = total === 0 ? width : Math.round((done / total) * width);
    stream.write(`\r${target} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}${failed ? ` (${failed} failed)` : ""}`);
  };
  return {
    start(t, n) {
      target = t;
      total = n;
      done = 0;
      failed = 0;
      lastTenth = -1;
      if (n === 0) return;
      if (tty) draw();
      else stream.write(`${t}: applying ${n} operation(s)\n`);
    },
    tick(outcome) {
      done++;
      if (outcome.status === "failed") failed++;
      if (tty) {
        draw();
        return;
      }
      const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
      if (tenth !== lastTenth && (tenth < 10 || done === total)) {
        lastTenth = tenth;
        stream.write(`${target}: ${done}/${total} operation(s)${failed ? `, ${failed} failed` : ""}\n`);
      }
    },
    finish() {
      if (tty && total > 0) stream.write("\n");
    },
  };
}
