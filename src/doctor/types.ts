/** One row of the doctor's table. `detail` and `fix` never contain a secret. */
export interface CheckResult {
  /** target name, or "" for checks that are not per target */
  target: string;
  check: string;
  status: "pass" | "fail" | "warn" | "info" | "skip";
  detail: string;
  /** how to fix a failure or a warning */
  fix?: string;
  /** a configuration error (exit 2 rather than 1) */
  config?: boolean;
}

/** The deploy needs these on the Management API to publish and bind Actions. */
export const DEPLOY_SCOPES = ["read:actions", "create:actions", "update:actions"] as const;
