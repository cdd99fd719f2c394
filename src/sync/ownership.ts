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

/** target → id → user: no key string made per user and look-up */
class ByTarget {
  readonly #maps = new Map<string, Map<string, LedgerUser>>();

  get(target: string, id: string): LedgerUser | undefined {
    return this.#maps.get(target)?.get(id);
  }

  has(target: string, id: string): boolean {
    return this.#maps.get(target)?.has(id) === true;
  }

  set(target: string, id: string, u: LedgerUser): void {
    let m = this.#maps.get(target);
    if (!m) this.#maps.set(target, (m = new Map()));
    m.set(id, u);
  }

  /** set unless present (first match wins) */
  add(target: string, id: string, u: LedgerUser): void {
    let m = this.#maps.get(target);
    if (!m) this.#maps.set(target, (m = new Map()));
    if (!m.has(id)) m.set(id, u);
  }

  delete(target: string, id: string): void {
    this.#maps.get(target)?.delete(id);
  }
}

const copyUser = (u: LedgerUser): LedgerUser => ({ ...u, granted: [...u.granted] });

/**
 * A ledger being updated operation by operation, with indexes by Catalog id and by
 * `externalId`: the same transitions as {@link ledgerAfter}, in time proportional to the
 * operation rather than to the ledger (a run of 100,000 operations stays linear). Holds its
 * own copy of the users; the ledger it was made from is never changed.
 */
export class LedgerIndex {
  readonly #users: LedgerUser[];
  readonly #byScimId = new ByTarget();
  readonly #byExternalId = new ByTarget();

  /**
   * `adopt`: the index takes the ledger's users as they are (a ledger just read from its file,
   * that no one else holds) instead of copying them; they are then changed in place.
   */
  constructor(ledger: Ledger, options: { adopt?: boolean } = {}) {
    this.#users = options.adopt ? ledger.users : ledger.users.map(copyUser);
    for (const u of this.#users) this.#index(u);
  }

  /** how many users the ledger holds */
  get size(): number {
    return this.#users.length;
  }

  /** the current ledger (shares this index's users: read it, do not change it) */
  ledger(): Ledger {
    return { version: 1, users: this.#users };
  }

  /** first match wins, as `findIndex` would */
  #index(u: LedgerUser): void {
    this.#byScimId.add(u.target, u.scimId, u);
    this.#byExternalId.add(u.target, u.externalId, u);
  }

  /** rebuilds both indexes for the keys of `u` after it was replaced or removed (rare: linear) */
  #reindex(u: LedgerUser): void {
    const t = u.target;
    this.#byScimId.delete(t, u.scimId);
    this.#byExternalId.delete(t, u.externalId);
    for (const x of this.#users) {
      if (x.target !== t) continue;
      if (x.scimId === u.scimId) this.#byScimId.add(t, u.scimId, x);
      if (x.externalId === u.externalId) this.#byExternalId.add(t, u.externalId, x);
    }
  }

  #replace(old: LedgerUser, fresh: LedgerUser | undefined): void {
    const i = this.#users.indexOf(old);
    if (fresh) this.#users[i] = fresh;
    else this.#users.splice(i, 1);
    this.#reindex(old);
    if (fresh) this.#reindex(fresh);
  }

  #find(target: string, ref: MemberRef): LedgerUser | undefined {
    return "scimId" in ref ? this.#byScimId.get(target, ref.scimId) : this.#byExternalId.get(target, ref.externalId);
  }

  /** Applies one accepted operation (see {@link ledgerAfter}). */
  apply(op: SyncOperation, result: AppliedResult): void {
    const t = result.target;
    const base = (scimId: string, externalId: string, origin: LedgerUser["origin"]): LedgerUser => {
      const u: LedgerUser = { scimId, externalId, target: t, origin, granted: [] };
      if (result.connection !== undefined) u.connection = result.connection;
      return u;
    };
    const add = (u: LedgerUser): void => {
      this.#users.push(u);
      this.#index(u);
    };
    switch (op.op) {
      case "createUser": {
        if (result.scimId === undefined || result.scimId === "") throw new TypeError('"scimId" is required to record a created user');
        const fresh = base(result.scimId, op.externalId, "created");
        const byExternal = this.#byExternalId.get(t, op.externalId);
        const byScim = this.#byScimId.get(t, result.scimId);
        const existing =
          byExternal && byScim && byExternal !== byScim
            ? this.#users.indexOf(byExternal) < this.#users.indexOf(byScim)
              ? byExternal
              : byScim
            : (byExternal ?? byScim);
        if (existing) this.#replace(existing, fresh);
        else add(fresh);
        break;
      }
      case "adoptUser": {
        const existing = this.#byScimId.get(t, op.scimId);
        if (existing) this.#replace(existing, { ...existing, externalId: op.externalId });
        else add(base(op.scimId, op.externalId, "adopted"));
        break;
      }
      case "updateUser":
        break;
      case "reactivateUser": {
        const u = this.#find(t, { scimId: op.scimId });
        if (u) delete u.deactivatedAt;
        break;
      }
      case "deactivateUser": {
        const u = this.#find(t, { scimId: op.scimId });
        if (u) u.deactivatedAt = result.now;
        break;
      }
      case "deleteUser": {
        const u = this.#find(t, { scimId: op.scimId });
        if (u) this.#replace(u, undefined);
        break;
      }
      case "addMembers":
        for (const ref of op.members) {
          const u = this.#find(t, ref);
          if (u && !u.granted.includes(op.groupId)) u.granted.push(op.groupId);
        }
        break;
      case "removeMembers":
        for (const scimId of op.scimIds) {
          const u = this.#find(t, { scimId });
          if (u) u.granted = u.granted.filter((g) => g !== op.groupId);
        }
        break;
    }
  }
}

/**
 * The ledger after one accepted operation: createUser → a new owned user (origin "created"),
 * adoptUser → owned (origin "adopted"), addMembers → granted += group, removeMembers →
 * granted -= group, deactivateUser → deactivatedAt = now, reactivateUser → deactivatedAt
 * cleared, deleteUser → removed. updateUser changes nothing. Returns a new ledger.
 * For a long run of operations use {@link LedgerIndex}, which applies the same transitions.
 */
export function ledgerAfter(ledger: Ledger, op: SyncOperation, result: AppliedResult): Ledger {
  const index = new LedgerIndex(ledger);
  index.apply(op, result);
  return index.ledger();
}
