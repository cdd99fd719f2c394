/**
 * The one errors module.
 *
 * Three tiers, as in jose and oauth4webapi:
 * - caller misuse throws a plain `TypeError`;
 * - our own failures throw {@link ProvisioningError} with a stable `code`;
 * - a SCIM server's error response throws {@link ScimResponseError}.
 *
 * Messages are lowercase, without a trailing period, and never contain a secret.
 * `publicReason` is the short text that may be shown to an end user
 * (for example through `api.access.deny`); `message` is internal detail for logs.
 */

/** The closed set of error codes this project raises. */
export type ErrorCode =
  // SCIM client
  | "SCIM_HTTP_FORBIDDEN_SCHEME"
  | "SCIM_TIMEOUT"
  | "SCIM_NETWORK"
  | "SCIM_BUDGET_EXHAUSTED"
  | "SCIM_INVALID_RESPONSE"
  | "SCIM_AMBIGUOUS_GROUP"
  | "SCIM_GROUP_NOT_FOUND"
  | "SCIM_USER_INVISIBLE"
  | "SCIM_BULK_FAILED"
  | "SCIM_CIRCUIT_OPEN"
  // configuration
  | "CONFIG_INVALID"
  | "CONFIG_NOT_FOUND"
  | "CONFIG_PLACEHOLDER_UNRESOLVED"
  | "CONFIG_MISSING_SECRET"
  // action
  | "ACTION_CONFLICT"
  | "ACTION_INTERNAL"
  // sync
  | "SYNC_SOURCE_INCOMPLETE"
  | "SYNC_SOURCE_FAILED"
  | "SYNC_GUARD_DELETIONS"
  | "SYNC_GUARD_REMOVALS"
  | "SYNC_LOCKED"
  | "SYNC_STATE_CORRUPT"
  | "SYNC_STATE_MISMATCH"
  | "SYNC_PLAN_STALE"
  | "SYNC_OPERATIONS_FAILED"
  // deploy
  | "DEPLOY_BUILD_FAILED"
  | "DEPLOY_BUILD_TIMEOUT"
  | "DEPLOY_BUNDLE_INVALID"
  | "DEPLOY_UNLISTED_SECRETS"
  | "DEPLOY_PINNED"
  | "DEPLOY_STEP_FAILED"
  | "DEPLOY_NOT_FOUND"
  // doctor / verify
  | "CHECK_FAILED";

/**
 * Process exit codes shared by every CLI (ARCHITECTURE.md). An enum so that bundles inline
 * the numbers.
 */
export enum ExitCode {
  OK = 0,
  OPERATIONS_FAILED = 1,
  CONFIG = 2,
  REFUSED = 3,
  LOCKED = 4,
  SOURCE_INCOMPLETE = 5,
}

const exitCodeByCode: Partial<Record<ErrorCode, ExitCode>> = {
  CONFIG_INVALID: ExitCode.CONFIG,
  CONFIG_NOT_FOUND: ExitCode.CONFIG,
  CONFIG_PLACEHOLDER_UNRESOLVED: ExitCode.CONFIG,
  CONFIG_MISSING_SECRET: ExitCode.CONFIG,
  SCIM_HTTP_FORBIDDEN_SCHEME: ExitCode.CONFIG,
  SYNC_SOURCE_INCOMPLETE: ExitCode.SOURCE_INCOMPLETE,
  SYNC_SOURCE_FAILED: ExitCode.SOURCE_INCOMPLETE,
  SYNC_GUARD_DELETIONS: ExitCode.REFUSED,
  SYNC_GUARD_REMOVALS: ExitCode.REFUSED,
  SYNC_STATE_MISMATCH: ExitCode.REFUSED,
  SYNC_STATE_CORRUPT: ExitCode.REFUSED,
  SYNC_PLAN_STALE: ExitCode.REFUSED,
  DEPLOY_UNLISTED_SECRETS: ExitCode.REFUSED,
  DEPLOY_PINNED: ExitCode.REFUSED,
  DEPLOY_BUNDLE_INVALID: ExitCode.REFUSED,
  SYNC_LOCKED: ExitCode.LOCKED,
};

export interface ProvisioningErrorOptions {
  cause?: unknown;
  /** short text that may be shown to an end user; never internal detail */
  publicReason?: string;
  /** a file the error is about, for configuration errors */
  file?: string;
  /** 1-based line in `file` */
  line?: number;
  /** 1-based column in `file` */
  column?: number;
  /** how to fix it */
  hint?: string;
  /** structured detail that is safe to log (never secrets) */
  details?: Record<string, unknown>;
}

/** Our own failures: one class, a closed union of codes. */
export class ProvisioningError extends Error {
  declare readonly code: ErrorCode;
  declare readonly publicReason: string;
  declare readonly file?: string;
  declare readonly line?: number;
  declare readonly column?: number;
  declare readonly hint?: string;
  declare readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ProvisioningErrorOptions = {}) {
    const { cause, publicReason = "provisioning failed", ...where } = options;
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ProvisioningError";
    // file, line, column, hint and details only when given
    for (const [k, v] of Object.entries({ ...where, code, publicReason })) if (v !== undefined) Object.assign(this, { [k]: v });
  }

  /** the CLI exit code for this error */
  get exitCode(): ExitCode {
    return exitCodeByCode[this.code] ?? ExitCode.OPERATIONS_FAILED;
  }
}

/** A configuration mistake, reported with file, line and hint. */
export class ConfigError extends ProvisioningError {
  constructor(message: string, options: ProvisioningErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? "CONFIG_INVALID", message, options);
    this.name = "ConfigError";
  }

  /** `file:line:column: message (hint)` */
  format(): string {
    const where = this.file ? `${this.file}${this.line ? `:${this.line}${this.column ? `:${this.column}` : ""}` : ""}: ` : "";
    return `${where}${this.message}${this.hint ? ` (hint: ${this.hint})` : ""}`;
  }
}

/**
 * A SCIM service provider's error response (RFC 7644 §3.12).
 * `status` is kept as the server sent it: RFC says a string, some servers send a number.
 * @see https://datatracker.ietf.org/doc/html/rfc7644#section-3.12
 */
export class ScimResponseError extends Error {
  declare readonly status: string | number;
  declare readonly httpStatus: number;
  declare readonly scimType?: string;
  declare readonly detail?: string;
  declare readonly method?: string;
  /** request path without the query string (never contains the key) */
  declare readonly path?: string;

  constructor(
    httpStatus: number,
    body: { status?: string | number | undefined; scimType?: string | undefined; detail?: string | undefined } | undefined,
    request: { method?: string; path?: string } = {},
    options: { cause?: unknown } = {},
  ) {
    const scimType = body?.scimType;
    const detail = body?.detail;
    super(
      `scim ${request.method ?? "request"} ${request.path ?? ""} failed with ${httpStatus}${scimType ? ` "${scimType}"` : ""}${detail ? `: ${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}` : ""}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ScimResponseError";
    const fields = { httpStatus, status: body?.status ?? httpStatus, scimType, detail, method: request.method, path: request.path };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) Object.assign(this, { [k]: v });
  }

  /** a 409 `uniqueness`: the resource already exists and may be adopted */
  get isUniqueness(): boolean {
    return this.httpStatus === 409 && (this.scimType === undefined || this.scimType === "uniqueness");
  }
}

export function isUniquenessError(e: unknown): e is ScimResponseError {
  return e instanceof ScimResponseError && e.isUniqueness;
}

/** exit code for any thrown value */
export function exitCodeOf(e: unknown): ExitCode {
  if (e instanceof ProvisioningError) return e.exitCode;
  return ExitCode.OPERATIONS_FAILED;
}
