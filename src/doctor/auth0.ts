/**
 * Doctor checks of the Auth0 side: the Management API credentials work and grant the scopes
 * the deploy needs. The token's `scope` claim is decoded without verifying the signature: the
 * token came straight from the tenant's token endpoint over TLS, and it is only read here,
 * never trusted for anything else. The token and the client secret are never printed.
 */
import { normaliseDomain } from "../deploy/run.js";
import { DEPLOY_SCOPES, type CheckResult } from "./types.js";

/** Scopes granted by a client-credentials answer: the JWT's `scope` claim, else the response's `scope`. Pure. */
export function grantedScopes(accessToken: unknown, responseScope: unknown): string[] | undefined {
  if (typeof accessToken === "string") {
    const parts = accessToken.split(".");
    if (parts.length === 3) {
      try {
        const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { scope?: unknown; permissions?: unknown };
        if (typeof payload.scope === "string") return payload.scope.split(/\s+/).filter(Boolean);
        if (Array.isArray(payload.permissions)) return payload.permissions.filter((p): p is string => typeof p === "string");
      } catch {
        // not a JWT after all: fall back to the response's scope
      }
    }
  }
  if (typeof responseScope === "string") return responseScope.split(/\s+/).filter(Boolean);
  return undefined;
}

export interface Auth0CheckOptions {
  env: Record<string, string | undefined>;
  /** transport for the Auth0 requests (tests send them to a local double) */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export async function checkAuth0(options: Auth0CheckOptions): Promise<CheckResult[]> {
  const { env } = options;
  const names = ["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"];
  const missing = names.filter((k) => !env[k]);
  if (missing.length === names.length) {
    return [{ target: "", check: "auth0 credentials", status: "skip", detail: "AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are not set: deploy checks skipped" }];
  }
  if (missing.length > 0) {
    return [
      {
        target: "",
        check: "auth0 credentials",
        status: "fail",
        config: true,
        detail: `missing environment ${missing.map((k) => `"${k}"`).join(", ")}`,
        fix: "set all three of AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET for the deploy's Management API application",
      },
    ];
  }
  const f = options.fetch ?? globalThis.fetch;
  const domain = normaliseDomain(env.AUTH0_DOMAIN!);
  const base = `https://${domain}`;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  const out: CheckResult[] = [];
  let token: { access_token?: unknown; scope?: unknown };
  try {
    const res = await f(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: env.AUTH0_CLIENT_ID, client_secret: env.AUTH0_CLIENT_SECRET, audience: `${base}/api/v2/` }),
      signal,
    });
    const body = (await res.json().catch(() => ({}))) as { error?: unknown; access_token?: unknown; scope?: unknown };
    if (!res.ok || typeof body.access_token !== "string") {
      const why = typeof body.error === "string" ? ` "${body.error}"` : "";
      return [
        {
          target: "",
          check: "auth0 credentials",
          status: "fail",
          detail: `the token endpoint of "${domain}" refused the client credentials (${res.status}${why})`,
          fix: "check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, and that the application is authorized for the Auth0 Management API",
        },
      ];
    }
    token = body;
  } catch (e) {
    return [{ target: "", check: "auth0 credentials", status: "fail", detail: `cannot reach "${domain}": ${describeNetworkError(e)}`, fix: "check AUTH0_DOMAIN (host, or host:port) and the network path to it" }];
  }
  out.push({ target: "", check: "auth0 credentials", status: "pass", detail: `client credentials accepted by "${domain}"` });

  const scopes = grantedScopes(token.access_token, token.scope);
  const lacking = DEPLOY_SCOPES.filter((s) => !scopes?.includes(s));
  if (scopes === undefined) {
    out.push({ target: "", check: "auth0 scopes", status: "warn", detail: "the access token carries no readable scope", fix: `make sure the application has ${DEPLOY_SCOPES.join(" ")}` });
  } else if (lacking.length > 0) {
    out.push({
      target: "",
      check: "auth0 scopes",
      status: "fail",
      detail: `missing scope(s) ${lacking.map((s) => `"${s}"`).join(", ")}`,
      fix: "in the Auth0 dashboard, Applications > APIs > Auth0 Management API > Machine to Machine Applications, grant the deploy application read:actions create:actions update:actions",
    });
  } else {
    out.push({ target: "", check: "auth0 scopes", status: "pass", detail: `token grants ${DEPLOY_SCOPES.join(" ")}` });
  }

  try {
    const res = await f(`${base}/api/v2/actions/actions?per_page=1`, { headers: { authorization: `Bearer ${token.access_token as string}` }, signal });
    await res.body?.cancel().catch(() => undefined);
    out.push(
      res.ok
        ? { target: "", check: "auth0 actions api", status: "pass", detail: "the Actions API answers to this token" }
        : { target: "", check: "auth0 actions api", status: "fail", detail: `GET /api/v2/actions/actions answered ${res.status}`, fix: "grant read:actions to the deploy application" },
    );
  } catch (e) {
    out.push({ target: "", check: "auth0 actions api", status: "fail", detail: `GET /api/v2/actions/actions failed: ${describeNetworkError(e)}`, fix: "check the network path to the tenant" });
  }
  return out;
}

/** the error code of a failed fetch (e.g. "ECONNREFUSED", "DEPTH_ZERO_SELF_SIGNED_CERT"), never its full text */
export function describeNetworkError(e: unknown): string {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  if (e instanceof Error && e.name === "TimeoutError") return "timed out";
  return "network error";
}
