/**
 * Deterministic synthetic directories for the benchmarks and the bench smoke test.
 *
 * The same `{ users, groups, memberships, seed }` always yields the same directory, byte for
 * byte: a small seeded PRNG (mulberry32) drives every choice, nothing reads the clock.
 *
 * Shape: `groups` IdP groups `idp-group-NNNN`, each mapped one-to-one to a Catalog group
 * `catalog-group-NNNN`; every user belongs to at least one group (so every user is in scope),
 * and the memberships are spread as evenly as `memberships / users` allows, groups picked at
 * random without repetition per user.
 */
import type { Directory, DirectoryGroup, DirectoryUser } from "../src/sync/directory.js";

export interface GenerateOptions {
  users: number;
  groups: number;
  /** total user-group memberships; at least `users`, at most `users * groups` */
  memberships: number;
  /** default 1 */
  seed?: number;
}

export interface GeneratedDirectory {
  directory: Directory;
  /** IdP group name → Catalog group displayName (one-to-one) */
  mapping: Record<string, string>;
  /** the Catalog groups to seed in the sandbox, in order */
  catalogGroups: string[];
}

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; returns [0, 1) */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex32(rand: () => number): string {
  return Math.floor(rand() * 0x100000000)
    .toString(16)
    .padStart(8, "0");
}

/** a GUID-shaped, lowercase immutable id (like an Entra `objectId` or AD `objectGUID`) */
function guid(rand: () => number): string {
  const h = hex32(rand) + hex32(rand) + hex32(rand) + hex32(rand);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

export function idpGroupName(i: number): string {
  return `idp-group-${pad(i, 4)}`;
}

export function catalogGroupName(i: number): string {
  return `catalog-group-${pad(i, 4)}`;
}

export function userEmail(i: number): string {
  return `user${pad(i, 6)}@bench.example.com`;
}

/** @throws TypeError when the sizes are inconsistent */
export function generateDirectory(options: GenerateOptions): GeneratedDirectory {
  const { users: nUsers, groups: nGroups, memberships } = options;
  if (!Number.isInteger(nUsers) || nUsers < 1) throw new TypeError(`"users" must be a positive integer`);
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new TypeError(`"groups" must be a positive integer`);
  if (!Number.isInteger(memberships) || memberships < nUsers || memberships > nUsers * nGroups) {
    throw new TypeError(`"memberships" must be an integer between "users" and "users" × "groups"`);
  }
  const rand = createRandom(options.seed ?? 1);

  const users: DirectoryUser[] = [];
  for (let i = 0; i < nUsers; i++) {
    users.push({
      id: guid(rand),
      email: userEmail(i),
      givenName: `Given${i}`,
      familyName: `Family${i}`,
      displayName: `Given${i} Family${i}`,
      active: true,
    });
  }

  const members: string[][] = Array.from({ length: nGroups }, () => []);
  const base = Math.floor(memberships / nUsers);
  const extra = memberships - base * nUsers;
  const picked = new Set<number>();
  for (let i = 0; i < nUsers; i++) {
    const k = base + (i < extra ? 1 : 0);
    picked.clear();
    while (picked.size < k) picked.add(Math.floor(rand() * nGroups));
    for (const g of picked) members[g]!.push(users[i]!.id);
  }

  const groups: DirectoryGroup[] = [];
  const mapping: Record<string, string> = {};
  const catalogGroups: string[] = [];
  for (let g = 0; g < nGroups; g++) {
    const name = idpGroupName(g);
    groups.push({ id: guid(rand), name, members: members[g]! });
    mapping[name] = catalogGroupName(g);
    catalogGroups.push(catalogGroupName(g));
  }
  return { directory: { users, groups }, mapping, catalogGroups };
}

export interface ChangeSet {
  /** users whose email changed: one PATCH each */
  renamed: number;
  /** per IdP group index: members added */
  added: Map<number, number>;
  /** per IdP group index: members removed */
  removed: Map<number, number>;
}

/**
 * A `share` (e.g. 0.01) of the users changes, deterministically: a third are renamed (new
 * email), a third join one more group, a third leave one of their groups (only users in two or
 * more groups, so nobody leaves the sync's scope). Returns a new directory; the input is left
 * untouched.
 */
export function changeDirectory(input: Directory, share: number, seed = 2): { directory: Directory; changes: ChangeSet } {
  const rand = createRandom(seed);
  const users = input.users.map((u) => ({ ...u }));
  const groups = input.groups.map((g) => ({ ...g, members: [...g.members] }));
  const memberOf = new Map<string, number[]>();
  groups.forEach((g, gi) => {
    for (const m of g.members) {
      const list = memberOf.get(m);
      if (list) list.push(gi);
      else memberOf.set(m, [gi]);
    }
  });
  const count = Math.max(3, Math.round(users.length * share));
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, users.length)) chosen.add(Math.floor(rand() * users.length));
  const changes: ChangeSet = { renamed: 0, added: new Map(), removed: new Map() };
  const bump = (m: Map<number, number>, g: number): void => {
    m.set(g, (m.get(g) ?? 0) + 1);
  };
  const removals = new Map<number, Set<string>>();
  let n = 0;
  for (const ui of chosen) {
    const user = users[ui]!;
    const kind = n++ % 3;
    const mine = memberOf.get(user.id) ?? [];
    if (kind === 0) {
      user.email = user.email.replace("@", ".renamed@");
      changes.renamed++;
    } else if (kind === 1 && mine.length < groups.length) {
      let g: number;
      do g = Math.floor(rand() * groups.length);
      while (mine.includes(g));
      groups[g]!.members.push(user.id);
      mine.push(g);
      bump(changes.added, g);
    } else if (kind === 2 && mine.length >= 2) {
      const g = mine[Math.floor(rand() * mine.length)]!;
      let set = removals.get(g);
      if (!set) removals.set(g, (set = new Set()));
      set.add(user.id);
      mine.splice(mine.indexOf(g), 1);
      bump(changes.removed, g);
    } else {
      user.email = user.email.replace("@", ".renamed@");
      changes.renamed++;
    }
  }
  for (const [g, set] of removals) groups[g]!.members = groups[g]!.members.filter((m) => !set.has(m));
  return { directory: { users, groups }, changes };
}

/**
 * The fewest SCIM writes that can carry an initial load (issue 6): one create per user, plus per
 * Catalog group its members divided by the batch size; with Bulk, all those writes divided by
 * `maxOperations` (a member PATCH of `batchSize` values counts as one Bulk operation).
 */
export function minimumInitialWrites(generated: GeneratedDirectory, batchSize: number, bulkMaxOperations?: number): number {
  const perCatalogGroup = new Map<string, number>();
  for (const g of generated.directory.groups) {
    const target = generated.mapping[g.name]!;
    perCatalogGroup.set(target, (perCatalogGroup.get(target) ?? 0) + g.members.length);
  }
  let patches = 0;
  for (const n of perCatalogGroup.values()) patches += Math.ceil(n / batchSize);
  const creates = generated.directory.users.length;
  if (bulkMaxOperations && bulkMaxOperations > 1) return Math.ceil((creates + patches) / bulkMaxOperations);
  return creates + patches;
}

/**
 * The fewest writes for a change set: one PATCH per renamed user, per group its adds and
 * removes divided by the batch size; with Bulk, all those writes divided by `maxOperations`.
 */
export function minimumChangeWrites(changes: ChangeSet, batchSize: number, bulkMaxOperations?: number): number {
  const groups = new Set([...changes.added.keys(), ...changes.removed.keys()]);
  let patches = 0;
  for (const g of groups) patches += Math.ceil(((changes.added.get(g) ?? 0) + (changes.removed.get(g) ?? 0)) / batchSize);
  if (bulkMaxOperations && bulkMaxOperations > 1) return Math.ceil((changes.renamed + patches) / bulkMaxOperations);
  return changes.renamed + patches;
}
