/**
 * Deterministic fault injection: each fault counts the requests its route matches; `share`
 * fires on a fixed, evenly spread subset (counter-based), `count` limits it to the first N.
 */
import type { FaultSpec } from "./types.js";

export type FaultAction =
  | { kind: "none"; latencyMs: number }
  | { kind: "429"; latencyMs: number; retryAfter: string }
  | { kind: "5xx"; latencyMs: number; status: number }
  | { kind: "drop"; latencyMs: number };

interface ActiveFault {
  spec: FaultSpec;
  route: RegExp | undefined;
  seen: number;
  fired: number;
}

/** @throws TypeError on an invalid fault */
export function validateFaults(input: unknown): FaultSpec[] {
  if (!Array.isArray(input)) throw new TypeError(`"faults" must be an array`);
  return input.map((f, i) => {
    if (!f || typeof f !== "object") throw new TypeError(`"faults[${i}]" must be an object`);
    const s = f as FaultSpec;
    if (!["latency", "429", "5xx", "drop"].includes(s.kind)) throw new TypeError(`"faults[${i}].kind" must be "latency", "429", "5xx" or "drop"`);
    if (s.route !== undefined) new RegExp(s.route);
    if (s.share !== undefined && !(typeof s.share === "number" && s.share >= 0 && s.share <= 1)) throw new TypeError(`"faults[${i}].share" must be between 0 and 1`);
    if (s.count !== undefined && !(Number.isInteger(s.count) && s.count >= 0)) throw new TypeError(`"faults[${i}].count" must be a non-negative integer`);
    if (s.status !== undefined && !(Number.isInteger(s.status) && s.status >= 500 && s.status <= 599)) throw new TypeError(`"faults[${i}].status" must be a 5xx status`);
    return s;
  });
}

export class FaultInjector {
  private faults: ActiveFault[] = [];

  set(specs: FaultSpec[]): void {
    this.faults = specs.map((spec) => ({ spec, route: spec.route === undefined ? undefined : new RegExp(spec.route), seen: 0, fired: 0 }));
  }

  list(): FaultSpec[] {
    return this.faults.map((f) => f.spec);
  }

  /** decides what happens to one request, `"METHOD /path-without-base"` */
  decide(routeKey: string): FaultAction {
    let latencyMs = 0;
    let terminal: FaultAction | undefined;
    for (const f of this.faults) {
      if (f.route && !f.route.test(routeKey)) continue;
      f.seen++;
      if (f.spec.count !== undefined && f.fired >= f.spec.count) continue;
      const share = f.spec.share;
      if (share !== undefined && Math.floor(f.seen * share) <= Math.floor((f.seen - 1) * share)) continue;
      if (f.spec.kind === "latency") {
        f.fired++;
        latencyMs += f.spec.latencyMs ?? 100;
        continue;
      }
      if (terminal) continue;
      f.fired++;
      if (f.spec.kind === "429") terminal = { kind: "429", latencyMs: 0, retryAfter: f.spec.retryAfter ?? "1" };
      else if (f.spec.kind === "5xx") terminal = { kind: "5xx", latencyMs: 0, status: f.spec.status ?? 503 };
      else terminal = { kind: "drop", latencyMs: 0 };
    }
    return terminal ? { ...terminal, latencyMs } : { kind: "none", latencyMs };
  }
}
