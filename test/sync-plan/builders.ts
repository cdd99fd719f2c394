/** Small in-memory builders for planner vectors, and a tiny applier that plays a plan. */
import { parseMappingKey } from "../../src/config/mapping.js";
import type { AttributeMapping, ConnectionConfig, SyncPolicy, TargetConfig } from "../../src/config/types.js";
import type { PatchOperation } from "../../src/scim/types.js";
import type { Directory, DirectoryGroup, DirectoryUser } from "../../src/sync/directory.js";
import { ledgerAfter } from "../../src/sync/ownership.js";
import type { PlanInput } from "../../src/sync/plan.js";
import type { CatalogState, Ledger, LedgerUser, SyncOperation, SyncPlan } from "../../src/sync/plan-types.js";

export const NOW = "2025-03-01T12:00:00.000Z";

export const attributes: AttributeMapping = { userName: "email", givenName: "givenName", familyName: "familyName", displayName: "displayName", email: "email" };

export function target(mapping: Record<string, string[]>, over: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name: "default",
    match: { connections: [], organizations: [] },
    catalog: { urlSecret: "CATALOG_SCIM_URL", apiKeySecret: "CATALOG_API_KEY", apiKeyNextSecret: "CATALOG_API_KEY_NEXT" },
    domains: [],
    groups: { rules: Object.entries(mapping).map(([k, v]) => ({ idp: parseMappingKey(k), catalogGroups: v })), caseInsensitive: true, privileged: [] },
    exclude: { users: [], groups: [] },
    include: { users: [] },
    ...over,
  };
}

export function policy(over: { scope?: SyncPolicy["scope"]; deprovision?: Partial<SyncPolicy["deprovision"]>; allowMissingGroups?: string[] } = {}): SyncPolicy {
  return {
    source: { type: "file", path: "directory.json" },
    mode: "live",
    scope: over.scope ?? "mapped",
    deprovision: { removeMemberships: true, deleteAfterDays: null, ...over.deprovision },
    guards: {
      deletions: { min: 5, ratio: 0.1 },
      groupRemovals: { min: 5, ratio: 0.2 },
      totalRemovals: { min: 20, ratio: 0.1 },
      allowMissingGroups: over.allowMissingGroups ?? [],
    },
    batchSize: 100,
    concurrency: 8,
    auditEveryHours: 24,
    statePath: "state.db",
    ledgerPath: "ledger.json",
    lockPath: "sync.lock",
    auditLogPath: "audit.jsonl",
  };
}

export function connection(lifecycle: "sync" | "login"): ConnectionConfig {
  return { lifecycle, anchor: "user_id", mode: "on" };
}

/** a directory user; `id` doubles as the local part of the email unless given */
export function user(id: string, over: Partial<DirectoryUser> = {}): DirectoryUser {
  const first = id.charAt(0).toUpperCase() + id.slice(1);
  return { id, email: `${id}@example.com`, givenName: first, familyName: "Doe", displayName: `${first} Doe`, active: true, ...over };
}

export function group(name: string, members: string[], over: Partial<DirectoryGroup> = {}): DirectoryGroup {
  return { id: `g-${name}`, name, members, ...over };
}

export function directory(users: DirectoryUser[], groups: DirectoryGroup[]): Directory {
  return { users, groups };
}

export type CatalogUser = CatalogState["users"][number];

/** a Catalog user as the sync would have created it for `d` */
export function catalogUserFor(d: DirectoryUser, scimId: string, over: Partial<CatalogUser> = {}): CatalogUser {
  const u: CatalogUser = {
    id: scimId,
    userName: d.email,
    externalId: d.id,
    active: true,
    emails: [{ value: d.email, type: "work", primary: true }],
  };
  if (d.displayName !== undefined) u.displayName = d.displayName;
  const name: { givenName?: string; familyName?: string } = {};
  if (d.givenName !== undefined) name.givenName = d.givenName;
  if (d.familyName !== undefined) name.familyName = d.familyName;
  u.name = name;
  return { ...u, ...over };
}

export function catalog(users: CatalogUser[], groups: Record<string, string[]>): CatalogState {
  return { users, groups: Object.entries(groups).map(([name, members]) => ({ id: `cg-${name}`, displayName: name, members })) };
}

export function owned(scimId: string, externalId: string, granted: string[] = [], over: Partial<LedgerUser> = {}): LedgerUser {
  return { scimId, externalId, target: "default", origin: "created", granted: granted.map((g) => `cg-${g}`), ...over };
}

export function ledger(users: LedgerUser[] = []): Ledger {
  return { version: 1, users };
}

export function input(p: Partial<PlanInput> & Pick<PlanInput, "target" | "directory" | "catalog">): PlanInput {
  return { policy: policy(), attributes, connections: {}, ledger: ledger(), now: NOW, ...p };
}

export function ops<K extends SyncOperation["op"]>(plan: SyncPlan, kind: K): Extract<SyncOperation, { op: K }>[] {
  return plan.operations.filter((o): o is Extract<SyncOperation, { op: K }> => o.op === kind);
}

function applyPatch(u: CatalogUser, patch: PatchOperation[]): void {
  for (const p of patch) {
    const v = p.value as string;
    if (p.path === "externalId") u.externalId = v;
    else if (p.path === "userName") u.userName = v;
    else if (p.path === "displayName") u.displayName = v;
    else if (p.path === "name.givenName") u.name = { ...u.name, givenName: v };
    else if (p.path === "name.familyName") u.name = { ...u.name, familyName: v };
    else if (p.path === 'emails[type eq "work"].value') u.emails = (u.emails ?? []).map((e) => (e.type === "work" ? { ...e, value: v } : e));
    else if (p.path === "emails[primary eq true].value") u.emails = (u.emails ?? []).map((e) => (e.primary ? { ...e, value: v } : e));
    else if (p.path === "emails" && p.op === "add") u.emails = [...(u.emails ?? []), ...(p.value as { value: string }[])];
    else throw new Error(`applier does not know patch path ${String(p.path)}`);
  }
}

/** Applies a plan to in-memory Catalog state and ledger, as a Catalog that accepts everything would. */
export function apply(plan: SyncPlan, state: CatalogState, led: Ledger, now = NOW): { catalog: CatalogState; ledger: Ledger } {
  const cat: CatalogState = structuredClone(state);
  let l = led;
  let next = 1;
  for (const op of plan.operations) {
    let scimId: string | undefined;
    const find = (id: string) => {
      const u = cat.users.find((x) => x.id === id);
      if (!u) throw new Error(`no catalog user ${id}`);
      return u;
    };
    switch (op.op) {
      case "createUser": {
        scimId = `new-${next++}`;
        const u: CatalogUser = { id: scimId, userName: op.user.userName, externalId: op.externalId, active: true };
        if (op.user.displayName !== undefined) u.displayName = op.user.displayName;
        if (op.user.name !== undefined) u.name = { ...op.user.name };
        if (op.user.emails !== undefined) u.emails = op.user.emails.map((e) => ({ ...e }));
        cat.users.push(u);
        break;
      }
      case "adoptUser":
      case "updateUser":
        applyPatch(find(op.scimId), op.patch);
        break;
      case "reactivateUser":
        find(op.scimId).active = true;
        break;
      case "deactivateUser":
        find(op.scimId).active = false;
        break;
      case "deleteUser":
        cat.users = cat.users.filter((u) => u.id !== op.scimId);
        for (const g of cat.groups) g.members = g.members.filter((m) => m !== op.scimId);
        break;
      case "addMembers": {
        const g = cat.groups.find((x) => x.id === op.groupId)!;
        for (const r of op.members) {
          const id = "scimId" in r ? r.scimId : cat.users.find((u) => u.externalId === r.externalId)!.id;
          if (!g.members.includes(id)) g.members.push(id);
        }
        break;
      }
      case "removeMembers": {
        const g = cat.groups.find((x) => x.id === op.groupId)!;
        g.members = g.members.filter((m) => !op.scimIds.includes(m));
        break;
      }
    }
    const result: { target: string; now: string; scimId?: string } = { target: plan.target, now };
    if (scimId !== undefined) result.scimId = scimId;
    l = ledgerAfter(l, op, result);
  }
  return { catalog: cat, ledger: l };
}
