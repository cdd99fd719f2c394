/**
 * What `verify` reports: the Catalog as it is against what the mapping and the last
 * provisioning say it should be. Pure (no I/O, no clock: `now` is an input).
 *
 * With a sync source, the expected state is the sync planner's: anything the next sync would
 * change, and anything it reports but never touches, is a finding. Without one (native SCIM or
 * the login Action alone), the ownership ledger is the reference. Checks that need neither
 * (case-variant userNames, a shared `externalId`, owned users in no managed group) always run.
 */
import type { AttributeMapping, ConnectionConfig, SyncPolicy, TargetConfig } from "../config/types.js";
import { normalizeUserName } from "../identity.js";
import type { Directory } from "../sync/directory.js";
import { planSync } from "../sync/plan.js";
import type { CatalogState, Ledger } from "../sync/plan-types.js";
import type { GroupLookup } from "./read.js";

export type FindingKind =
  | "missing-group"
  | "duplicate-group"
  | "missing-user"
  | "inactive-user"
  | "stale-user"
  | "attribute-drift"
  | "missing-member"
  | "extra-member"
  | "externalId-conflict"
  | "case-duplicate"
  | "owned-without-group";

export interface Finding {
  kind: FindingKind;
  target: string;
  /** Catalog group displayName, for group and membership findings */
  group?: string;
  userName?: string;
  scimId?: string;
  externalId?: string;
  /** lowercase, names in double quotes */
  detail: string;
}

export interface CompareInput {
  target: TargetConfig;
  catalog: CatalogState;
  lookups: readonly GroupLookup[];
  ledger: Ledger;
  attributes: AttributeMapping;
  connections: Record<string, ConnectionConfig>;
  /** the sync source's directory and policy, when this target is fed by a source */
  source?: { directory: Directory; policy: SyncPolicy; connection?: string };
  /** ISO time (the grace period of the planner) */
  now: string;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareCatalog(input: CompareInput): Finding[] {
  const { target, catalog, ledger } = input;
  const t = target.name;
  const findings: Finding[] = [];
  const userById = new Map(catalog.users.map((u) => [u.id, u]));
  const nameOf = (id: string): string | undefined => userById.get(id)?.userName;
  const withUser = (id: string): { scimId: string; userName?: string } => {
    const n = nameOf(id);
    return n !== undefined ? { scimId: id, userName: n } : { scimId: id };
  };

  for (const l of input.lookups) {
    if (l.status === "missing") {
      findings.push({ kind: "missing-group", target: t, group: l.name, detail: `catalog group "${l.name}" does not exist: create it in the Catalog first` });
    } else if (l.status === "duplicated") {
      findings.push({ kind: "duplicate-group", target: t, group: l.name, detail: `${l.ids.length} catalog groups are named "${l.name}"` });
    }
  }
  const groupById = new Map(catalog.groups.map((g) => [g.id, g]));
  const owned = ledger.users.filter((u) => u.target === t);

  if (input.source) {
    const { directory, policy, connection } = input.source;
    const plan = planSync({
      target,
      policy,
      attributes: input.attributes,
      connections: input.connections,
      ...(connection !== undefined ? { sourceConnection: connection } : {}),
      directory,
      catalog,
      ledger,
      now: input.now,
    });
    const emailOf = new Map(directory.users.map((d) => [d.id, d.email]));
    for (const op of plan.operations) {
      switch (op.op) {
        case "createUser":
          findings.push({ kind: "missing-user", target: t, userName: op.user.userName, externalId: op.externalId, detail: `"${op.user.userName}" is in the source but not in the Catalog` });
          break;
        case "adoptUser":
          findings.push({
            kind: "missing-user",
            target: t,
            ...withUser(op.scimId),
            externalId: op.externalId,
            detail: `"${nameOf(op.scimId) ?? op.scimId}" exists but is not linked to the source (no "externalId" or not provisioned yet)`,
          });
          break;
        case "updateUser":
          findings.push({
            kind: "attribute-drift",
            target: t,
            ...withUser(op.scimId),
            externalId: op.externalId,
            detail: `attributes differ from the source: ${op.patch.map((p) => `"${p.path ?? "(root)"}"`).join(", ")}`,
          });
          break;
        case "reactivateUser":
          findings.push({ kind: "inactive-user", target: t, ...withUser(op.scimId), externalId: op.externalId, detail: `"${nameOf(op.scimId) ?? op.scimId}" is active in the source but deactivated in the Catalog` });
          break;
        case "deactivateUser":
          findings.push({ kind: "stale-user", target: t, ...withUser(op.scimId), externalId: op.externalId, detail: `"${nameOf(op.scimId) ?? op.scimId}" left the source but is still active in the Catalog` });
          break;
        case "deleteUser":
          findings.push({ kind: "stale-user", target: t, ...withUser(op.scimId), externalId: op.externalId, detail: `"${nameOf(op.scimId) ?? op.scimId}" is past its grace period and not deleted yet` });
          break;
        case "addMembers":
          for (const m of op.members) {
            const who = "scimId" in m ? (nameOf(m.scimId) ?? m.scimId) : (emailOf.get(m.externalId) ?? m.externalId);
            findings.push({
              kind: "missing-member",
              target: t,
              group: op.groupName,
              ...("scimId" in m ? withUser(m.scimId) : { userName: who, externalId: m.externalId }),
              detail: `"${who}" should be a member of "${op.groupName}"`,
            });
          }
          break;
        case "removeMembers":
          for (const id of op.scimIds) {
            findings.push({
              kind: "extra-member",
              target: t,
              group: op.groupName,
              ...withUser(id),
              detail: `"${nameOf(id) ?? id}" is a member of "${op.groupName}" but ${op.reason === "left-group" ? "no longer in a mapped IdP group for it" : "left the source"}`,
            });
          }
          break;
      }
    }
    for (const u of plan.report.unmanagedMembers) {
      findings.push({
        kind: "extra-member",
        target: t,
        group: u.groupName,
        ...withUser(u.scimId),
        detail: `"${nameOf(u.scimId) ?? u.scimId}" is a member of "${u.groupName}" that the mapping does not grant (not removed by the sync)`,
      });
    }
    for (const c of plan.report.conflicts) {
      findings.push({
        kind: "externalId-conflict",
        target: t,
        userName: c.userName,
        externalId: c.externalId,
        ...(c.scimId ? { scimId: c.scimId } : {}),
        detail: `"${c.userName}" cannot be matched to the source user "${c.externalId}": ${c.reason}`,
      });
    }
  } else {
    // the ledger is the reference: what this project granted must still be there, and nothing else
    const present = new Set(catalog.users.map((u) => u.id));
    for (const lu of owned) {
      if (!present.has(lu.scimId)) {
        findings.push({ kind: "missing-user", target: t, scimId: lu.scimId, externalId: lu.externalId, detail: `owned user "${lu.externalId}" is no longer in the Catalog` });
        continue;
      }
      if (lu.deactivatedAt !== undefined) continue;
      for (const gid of lu.granted) {
        const g = groupById.get(gid);
        if (g && !g.members.includes(lu.scimId)) {
          findings.push({ kind: "missing-member", target: t, group: g.displayName, ...withUser(lu.scimId), externalId: lu.externalId, detail: `"${nameOf(lu.scimId)}" was granted "${g.displayName}" but is no longer a member` });
        }
      }
    }
    const grantedTo = new Map<string, Set<string>>();
    for (const lu of owned) for (const gid of lu.granted) (grantedTo.get(gid) ?? grantedTo.set(gid, new Set()).get(gid)!).add(lu.scimId);
    for (const g of [...catalog.groups].sort((a, b) => cmp(a.displayName, b.displayName))) {
      for (const m of g.members) {
        if (grantedTo.get(g.id)?.has(m)) continue;
        findings.push({ kind: "extra-member", target: t, group: g.displayName, ...withUser(m), detail: `"${nameOf(m) ?? m}" is a member of "${g.displayName}" not granted by this project` });
      }
    }
  }

  // checks that need no source
  const byFolded = new Map<string, CatalogState["users"]>();
  const byExternalId = new Map<string, CatalogState["users"]>();
  for (const u of catalog.users) {
    const k = normalizeUserName(u.userName);
    (byFolded.get(k) ?? byFolded.set(k, []).get(k)!).push(u);
    if (u.externalId) (byExternalId.get(u.externalId) ?? byExternalId.set(u.externalId, []).get(u.externalId)!).push(u);
  }
  for (const [, users] of [...byFolded].sort(([a], [b]) => cmp(a, b))) {
    if (users.length < 2) continue;
    findings.push({
      kind: "case-duplicate",
      target: t,
      userName: users[0]!.userName,
      detail: `${users.length} catalog users differ only by case: ${users.map((u) => `"${u.userName}" (${u.id})`).join(", ")}`,
    });
  }
  for (const [ext, users] of [...byExternalId].sort(([a], [b]) => cmp(a, b))) {
    if (users.length < 2) continue;
    findings.push({ kind: "externalId-conflict", target: t, externalId: ext, detail: `${users.length} catalog users share "externalId" "${ext}": ${users.map((u) => `"${u.userName}"`).join(", ")}` });
  }
  for (const lu of owned) {
    const c = userById.get(lu.scimId);
    if (!c) continue;
    if (c.externalId && c.externalId !== lu.externalId) {
      findings.push({ kind: "externalId-conflict", target: t, ...withUser(c.id), externalId: c.externalId, detail: `"${c.userName}" has "externalId" "${c.externalId}" but was provisioned as "${lu.externalId}"` });
    }
    if (c.active === false || lu.deactivatedAt !== undefined) continue;
    if (!catalog.groups.some((g) => g.members.includes(c.id))) {
      findings.push({ kind: "owned-without-group", target: t, ...withUser(c.id), externalId: lu.externalId, detail: `"${c.userName}" was provisioned by this project but is in no managed group` });
    }
  }
  return dedupe(findings);
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const k = `${f.kind}|${f.group ?? ""}|${f.scimId ?? ""}|${f.externalId ?? ""}|${f.detail}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
