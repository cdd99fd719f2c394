/**
 * Pure ledger transitions: what the ownership ledger becomes once the Catalog has accepted one
 * operation of a plan. The executor calls {@link ledgerAfter} after each accepted operation
 * (with the operation as applied: for a partly failed batch, only the members that were
 * accepted) and persists the result; this module never reads or writes a file.
 */
import type { Ledger, LedgerUser, MemberRef, SyncOperation } from "./plan-types.js";

export interface AppliedResult {
  /** the plan's target */
  target: string;
  /** ISO time the operation was accepted (deactivation time for the grace period) */
  now: string;
  /** the source's Auth0 connection, when it has one */
  connection?: string;
  /** the Catalog id the server assigned, required for createUser */
  scimId?: string;
}

function findIndex(users: readonly LedgerUser[], target: string, ref: MemberRef): number {
  return "scimId" in ref
    ? users.findIndex((u) => u.target === target && u.scimId === ref.scimId)
    : users.findIndex((u) => u.target === target && u.externalId === ref.externalId);
}

/**
 * The ledger after one accepted operation: createUser → a new owned user (origin "created"),
 * adoptUser → owned (origin "adopted"), addMembers → granted += group, removeMembers →
 * granted -= group, deactivateUser → deactivatedAt = now, reactivateUser → deactivatedAt
 * cleared, deleteUser → removed. updateUser changes nothing. Returns a new ledger.
 */
export function ledgerAfter(ledger: Ledger, op: SyncOperation, result: AppliedResult): Ledger {
  const users = ledger.users.map((u) => ({ ...u, granted: [...u.granted] }));
  const t = result.target;
  const base = (scimId: string, externalId: string, origin: LedgerUser["origin"]): LedgerUser => {
    const u: LedgerUser = { scimId, externalId, target: t, origin, granted: [] };
    if (result.connection !== undefined) u.connection = result.connection;
    return u;
  };
  switch (op.op) {
    case "createUser": {
      if (result.scimId === undefined || result.scimId === "") throw new TypeError('"scimId" is required to record a created user');
      const fresh = base(result.scimId, op.externalId, "created");
      const i = users.findIndex((u) => u.target === t && (u.externalId === op.externalId || u.scimId === result.scimId));
      if (i >= 0) users[i] = fresh;
      else users.push(fresh);
      break;
    }
    case "adoptUser": {
      const i = users.findIndex((u) => u.target === t && u.scimId === op.scimId);
      if (i >= 0) users[i] = { ...users[i]!, externalId: op.externalId };
      else users.push(base(op.scimId, op.externalId, "adopted"));
      break;
    }
    case "updateUser":
      break;
    case "reactivateUser": {
      const i = findIndex(users, t, { scimId: op.scimId });
      if (i >= 0) delete users[i]!.deactivatedAt;
      break;
    }
    case "deactivateUser": {
      const i = findIndex(users, t, { scimId: op.scimId });
      if (i >= 0) users[i]!.deactivatedAt = result.now;
      break;
    }
    case "deleteUser": {
      const i = findIndex(users, t, { scimId: op.scimId });
      if (i >= 0) users.splice(i, 1);
      break;
    }
    case "addMembers":
      for (const ref of op.members) {
        const i = findIndex(users, t, ref);
        if (i >= 0 && !users[i]!.granted.includes(op.groupId)) users[i]!.granted.push(op.groupId);
      }
      break;
    case "removeMembers":
      for (const scimId of op.scimIds) {
        const i = findIndex(users, t, { scimId });
        if (i >= 0) users[i]!.granted = users[i]!.granted.filter((g) => g !== op.groupId);
      }
      break;
  }
  return { version: 1, users };
}
