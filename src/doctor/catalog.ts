/**
 * Doctor checks of one target's Catalog: URL, TLS, API key(s), capabilities, the mapped
 * Catalog groups, privileged groups. GET requests only, no retries: a doctor reports what it
 * sees now.
 */
import { isLoopback } from "../config/load.js";
import { managedCatalogGroups, formatMappingKey, isStrongRef } from "../config/mapping.js";
import type { ProvisioningConfig, TargetConfig } from "../config/types.js";
import { ConfigError, ProvisioningError, ScimResponseError } from "../errors.js";
import { ScimClient } from "../scim/client.js";
import type { Capabilities, ServiceProviderConfig } from "../scim/types.js";
import { catalogEndpoint, type Env } from "../sync/run.js";
import { managedGroupNames } from "../sync/scope.js";
import { lookupGroups } from "../verify/read.js";
import type { CheckResult } from "./types.js";

export interface CatalogCheckOptions {
  config: ProvisioningConfig;
  target: TargetConfig;
  env: Env;
  fetch: typeof fetch;
  timeoutMs?: number;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH|ALTNAME/i;

/** Why a first request failed, as a doctor row (never the key). */
export function explainFailure(e: unknown, what: string, keyVar: string, t: string): CheckResult {
  if (e instanceof ScimResponseError) {
    if (e.httpStatus === 401) {
      return { target: t, check: what === "catalog reachable" ? "api key" : what, status: "fail", detail: `the Catalog rejects "${keyVar}" (401)`, fix: `issue a valid key in the Catalog and set it in "${keyVar}"` };
    }
    if (e.httpStatus === 403) {
      return { target: t, check: what === "catalog reachable" ? "api key" : what, status: "fail", detail: `"${keyVar}" is valid but not allowed to read users (403)`, fix: "give the key the Catalog's SCIM provisioning permission" };
    }
    return { target: t, check: what, status: "fail", detail: `the Catalog answered ${e.httpStatus}${e.detail ? `: ${e.detail.slice(0, 120)}` : ""}`, fix: "check that the URL is the Catalog's SCIM base URL (ending in /scim/v2)" };
  }
  if (e instanceof ProvisioningError && e.code === "SCIM_NETWORK") {
    const code = networkCode(e.cause) ?? "";
    if (TLS_CODES.test(code) || TLS_CODES.test(e.message)) {
      return {
        target: t,
        check: "tls",
        status: "fail",
        detail: `TLS handshake failed${code ? ` (${code})` : ""}`,
        fix: "the Catalog's certificate is not trusted for this host: fix the certificate, or give its CA with NODE_EXTRA_CA_CERTS",
      };
    }
    return { target: t, check: "catalog reachable", status: "fail", detail: `cannot connect${code ? ` (${code})` : ""}`, fix: "check the URL, DNS and the firewall between this host and the Catalog" };
  }
  if (e instanceof ProvisioningError && e.code === "SCIM_TIMEOUT") {
    return { target: t, check: "catalog reachable", status: "fail", detail: "the Catalog did not answer in time", fix: "check the network path, or raise scim.timeoutMs" };
  }
  return { target: t, check: what, status: "fail", detail: e instanceof Error ? e.message : String(e), fix: "run again with DEBUG=1 for details" };
}

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR_SOCKET") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function describeCaps(c: Capabilities): string {
  const yn = (b: boolean) => (b ? "yes" : "no");
  return [
    `bulk ${c.bulk.supported ? `yes (${c.bulk.maxOperations} ops)` : "no"}`,
    `etag ${yn(c.etag)}`,
    `"groups" on User ${yn(c.userGroups)}`,
    `member filter ${yn(c.memberFilter)}`,
    `case-insensitive "userName" ${yn(c.userNameCaseInsensitive)}`,
    `"or" filter ${yn(c.orFilter)}`,
    `page cap ${c.pageCap}`,
  ].join(", ");
}

/** Catalog groups whose name suggests power but that `privileged` does not list */
const POWERFUL = /admin|owner|steward|superuser|root/i;

export async function checkCatalog(options: CatalogCheckOptions): Promise<CheckResult[]> {
  const { config, target, env } = options;
  const t = target.name;
  const out: CheckResult[] = [];

  // URL and keys from the environment (or the file)
  let endpoint;
  try {
    endpoint = catalogEndpoint(target, env, config);
  } catch (e) {
    const c = e as ConfigError;
    return [{ target: t, check: "catalog url and key", status: "fail", config: true, detail: c.message, ...(c.hint ? { fix: c.hint } : {}) }];
  }
  let url: URL;
  try {
    url = new URL(endpoint.baseUrl);
  } catch {
    return [{ target: t, check: "catalog url", status: "fail", config: true, detail: `"${target.catalog.urlSecret}" is not a valid URL`, fix: "write it like https://catalog.example.com/scim/v2" }];
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    return [{ target: t, check: "catalog url", status: "fail", config: true, detail: `"${url.origin}" must use https`, fix: "http:// is allowed only for loopback (127.0.0.1, localhost, [::1])" }];
  }
  out.push({ target: t, check: "catalog url", status: "pass", detail: `${url.origin}${url.pathname}${url.protocol === "http:" ? " (loopback http)" : ""}` });

  const client = (apiKey: string) =>
    new ScimClient({ baseUrl: endpoint.baseUrl, apiKey, fetch: options.fetch, timeoutMs: options.timeoutMs ?? 15_000, retries: 0 });
  const current = client(endpoint.apiKey);

  // reachability and TLS: /ServiceProviderConfig (may be public), then the key on /Users
  let spc: ServiceProviderConfig;
  try {
    spc = await current.serviceProviderConfig();
    if (url.protocol === "https:") out.push({ target: t, check: "tls", status: "pass", detail: "certificate trusted" });
  } catch (e) {
    out.push(explainFailure(e, "catalog reachable", target.catalog.apiKeySecret, t));
    return out;
  }
  const probeKey = async (c: ScimClient, keyVar: string): Promise<CheckResult | undefined> => {
    try {
      await c.transport.request({ method: "GET", path: "/Users", query: { startIndex: 1, count: 1 } });
      return undefined;
    } catch (e) {
      return explainFailure(e, "api key", keyVar, t);
    }
  };
  const keyProblem = await probeKey(current, target.catalog.apiKeySecret);
  if (keyProblem) {
    out.push(keyProblem);
    return out;
  }
  out.push({ target: t, check: "api key", status: "pass", detail: `"${target.catalog.apiKeySecret}" is accepted` });

  // the mapped Catalog groups: each exists once, under that displayName
  const names = managedGroupNames(managedCatalogGroups(target.groups), target);
  let lookups;
  try {
    lookups = await lookupGroups(current, names);
  } catch (e) {
    out.push(explainFailure(e, "catalog groups", target.catalog.apiKeySecret, t));
    return out;
  }

  // rotation: the next key works too, and sees the same Catalog
  if (endpoint.apiKeyNext) {
    const next = client(endpoint.apiKeyNext);
    const nextVar = target.catalog.apiKeyNextSecret;
    const problem = await probeKey(next, nextVar);
    if (problem) {
      out.push({ ...problem, check: "rotation: next key", fix: `${problem.fix ?? ""}; until it works, unset "${nextVar}" (the Action falls back to "${target.catalog.apiKeySecret}" on every 401)`.replace(/^; /, "") });
    } else {
      const known = lookups.find((l) => l.status === "found");
      let same = true;
      let why = "";
      try {
        const spcNext = await next.serviceProviderConfig();
        if (stable(spcNext) !== stable(spc)) {
          same = false;
          why = "a different ServiceProviderConfig";
        } else if (known && known.status === "found") {
          const [other] = await lookupGroups(next, [known.name]);
          if (!other || other.status !== "found" || other.id !== known.id) {
            same = false;
            why = `another id for the group "${known.name}"`;
          }
        }
      } catch (e) {
        same = false;
        why = e instanceof Error ? e.message : String(e);
      }
      out.push(
        same
          ? { target: t, check: "rotation: next key", status: "pass", detail: `"${nextVar}" is accepted and sees the same Catalog` }
          : { target: t, check: "rotation: next key", status: "fail", detail: `"${nextVar}" works but sees another Catalog (${why})`, fix: `issue the new key in the same Catalog (tenant/environment) as "${target.catalog.apiKeySecret}"` },
      );
    }
  }

  // capabilities: information for the operator
  try {
    const caps = await current.capabilities();
    out.push({ target: t, check: "catalog capabilities", status: "info", detail: describeCaps(caps) });
    if (!caps.userGroups && !caps.memberFilter) {
      out.push({ target: t, check: "catalog capabilities", status: "info", detail: "neither \"groups\" on User nor member filters: the Action reads group members to learn a user's groups (slower logins on large groups)" });
    }
  } catch (e) {
    out.push({ ...explainFailure(e, "catalog capabilities", target.catalog.apiKeySecret, t), status: "warn" });
  }

  for (const l of lookups) {
    const check = `group "${l.name}"`;
    switch (l.status) {
      case "found":
        out.push({ target: t, check, status: "pass", detail: `exists once (id ${l.id})` });
        break;
      case "case-variant":
        out.push({ target: t, check, status: "warn", detail: `exists only as "${l.displayName}" (id ${l.id})`, fix: `write "${l.displayName}" in the mapping, exactly as the Catalog names it` });
        break;
      case "missing":
        out.push({ target: t, check, status: "fail", detail: "does not exist in the Catalog", fix: "create it in the Catalog first: provisioning never creates Catalog groups" });
        break;
      case "duplicated":
        out.push({ target: t, check, status: "fail", detail: `${l.ids.length} Catalog groups have this name (ids ${l.ids.join(", ")})`, fix: "rename or remove the duplicates in the Catalog so that exactly one group has this name" });
        break;
    }
  }

  // privileged groups: mapped only by id or DN (the loader refuses anything else; this shows it)
  const privileged = new Set(target.groups.privileged.map((p) => p.toLowerCase()));
  for (const p of target.groups.privileged) {
    const weak = target.groups.rules.filter((r) => r.catalogGroups.some((c) => c.toLowerCase() === p.toLowerCase()) && !isStrongRef(r.idp));
    out.push(
      weak.length === 0
        ? { target: t, check: `privileged "${p}"`, status: "pass", detail: "mapped only by id or DN" }
        : { target: t, check: `privileged "${p}"`, status: "fail", detail: `mapped by ${weak.map((r) => `"${formatMappingKey(r.idp)}"`).join(", ")}`, fix: 'use "id:<group object id>" or "dn:<distinguished name>" keys' },
    );
  }
  for (const g of names) {
    if (privileged.has(g.toLowerCase()) || !POWERFUL.test(g)) continue;
    const byName = target.groups.rules.filter((r) => r.catalogGroups.includes(g) && !isStrongRef(r.idp));
    if (byName.length === 0) continue;
    out.push({
      target: t,
      check: `privileged "${g}"`,
      status: "warn",
      detail: `looks privileged but is granted by name (${byName.map((r) => `"${formatMappingKey(r.idp)}"`).join(", ")})`,
      fix: `list it under "privileged" and map it by "id:" or "dn:", or ignore if anyone in those IdP groups may hold it`,
    });
  }
  return out;
}
