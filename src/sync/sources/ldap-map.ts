/**
 * Pure mapping of LDAP search entries to the normalised directory.
 *
 * Input entries are shaped like ldapts `searchEntries` (`{ dn, attr: string | string[] | Buffer | Buffer[] }`),
 * so that Active Directory behaviour can be tested with recorded responses. No I/O, no clock:
 * the current time comes in as `nowMs`.
 */
import { canonicalImmutableId, guidFromBytes } from "../../identity.js";
import type { Directory, DirectoryGroup, DirectoryUser } from "../directory.js";

export type LdapValue = string | Uint8Array;
export interface LdapEntry {
  dn: string;
  [attribute: string]: LdapValue | LdapValue[];
}

export interface LdapAttributeMap {
  id: string;
  email: string;
  givenName: string;
  familyName: string;
  displayName: string;
  groupName: string;
  member: string;
  memberOf?: string;
}

export interface LdapMapOptions {
  attributes: LdapAttributeMap;
  /** userAccountControl, accountExpires and ranged `member` */
  activeDirectory: boolean;
  /** expand group members that are groups, transitively */
  nestedGroups: boolean;
  /** attribute that `memberUid` values refer to; default "uid" */
  uidAttribute?: string;
  /** milliseconds since the epoch, for `accountExpires` */
  nowMs: number;
}

export interface LdapMapResult {
  directory: Directory;
  /** reasons the read cannot be trusted as complete (empty when complete) */
  incompleteReasons: string[];
  /** entries skipped or oddities that do not make the read incomplete */
  warnings: string[];
}

const decoder = new TextDecoder();

/** Every value of an attribute, `[v].flat()` style: a single value → one item, absent → none. Case-insensitive name. */
export function attributeValues(entry: LdapEntry, attribute: string): LdapValue[] {
  const direct = entry[attribute];
  if (direct !== undefined && attribute !== "dn") return [direct].flat();
  const lower = attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key !== "dn" && key.toLowerCase() === lower) return [entry[key]!].flat();
  }
  return [];
}

export function stringValues(entry: LdapEntry, attribute: string): string[] {
  return attributeValues(entry, attribute).map((v) => (typeof v === "string" ? v : decoder.decode(v)));
}

function firstString(entry: LdapEntry, attribute: string): string | undefined {
  const v = stringValues(entry, attribute)
    .map((s) => s.trim())
    .find((s) => s !== "");
  return v;
}

/** Canonical immutable id: 16 bytes → lowercase GUID; GUID strings and base64 ImmutableIDs → lowercase GUID. */
export function canonicalLdapId(value: LdapValue): string {
  if (typeof value !== "string") {
    if (value.length === 16) return guidFromBytes(value);
    return canonicalImmutableId(decoder.decode(value));
  }
  return canonicalImmutableId(value);
}

/**
 * A DN in a comparable form: attribute types and values lowercased, spaces around separators removed,
 * escapes (`\,` and `\2C`) decoded and re-escaped one way.
 */
export function normalizeDn(dn: string): string {
  if (!/[\\+"]/.test(dn)) {
    // fast path: no escapes, no multi-valued RDN
    let out = "";
    for (const rdn of dn.split(",")) {
      const eq = rdn.indexOf("=");
      const ava =
        eq < 0 ? rdn.trim().toLowerCase() : `${rdn.slice(0, eq).trim().toLowerCase()}=${escapeDnValue(rdn.slice(eq + 1).trim().toLowerCase())}`;
      if (ava !== "") out = out === "" ? ava : `${out},${ava}`;
    }
    return out;
  }
  const rdns: string[] = [];
  let current = "";
  const parts: string[][] = [];
  let avas: string[] = [];
  const pushAva = () => {
    avas.push(current);
    current = "";
  };
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === "\\" && i + 1 < dn.length) {
      current += ch + dn[i + 1];
      i++;
    } else if (ch === ",") {
      pushAva();
      parts.push(avas);
      avas = [];
    } else if (ch === "+") {
      pushAva();
    } else {
      current += ch;
    }
  }
  pushAva();
  parts.push(avas);
  for (const rdn of parts) {
    const normalized = rdn.map(normalizeAva).filter((a) => a !== "");
    if (normalized.length > 0) rdns.push(normalized.sort().join("+"));
  }
  return rdns.join(",");
}

function normalizeAva(ava: string): string {
  const eq = findUnescaped(ava, "=");
  if (eq < 0) return ava.trim().toLowerCase();
  const type = ava.slice(0, eq).trim().toLowerCase();
  const value = unescapeDnValue(ava.slice(eq + 1).trim());
  return `${type}=${escapeDnValue(value.toLowerCase())}`;
}

function findUnescaped(s: string, ch: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === ch) return i;
  }
  return -1;
}

function unescapeDnValue(v: string): string {
  const bytes: number[] = [];
  let out = "";
  const flush = () => {
    if (bytes.length) {
      out += decoder.decode(Uint8Array.from(bytes));
      bytes.length = 0;
    }
  };
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === "\\" && i + 1 < v.length) {
      const hex = v.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
      flush();
      out += v[i + 1];
      i++;
      continue;
    }
    flush();
    out += ch;
  }
  flush();
  return out;
}

function escapeDnValue(v: string): string {
  return v.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}

/** `uniqueMember` values may carry an optional UID suffix: `dn#'0101'B`. */
function stripOptionalUid(value: string): string {
  return value.replace(/#'[01]*'B$/, "");
}

interface RangePart {
  start: number;
  end: number | "*";
  values: LdapValue[];
}

const RANGE_RE = /^(.+);range=(\d+)-(\d+|\*)$/i;

function rangeParts(entry: LdapEntry, attribute: string): RangePart[] {
  const lower = attribute.toLowerCase();
  const parts: RangePart[] = [];
  for (const key of Object.keys(entry)) {
    const m = RANGE_RE.exec(key);
    if (!m || m[1]!.toLowerCase() !== lower) continue;
    parts.push({ start: Number(m[2]), end: m[3] === "*" ? "*" : Number(m[3]), values: [entry[key]!].flat() });
  }
  return parts.sort((a, b) => a.start - b.start);
}

/**
 * Active Directory ranged retrieval (`member;range=0-1499`): the attribute to request next, e.g.
 * `member;range=1500-*`, or undefined when the entry holds no range or the final range (`;range=N-*`).
 */
export function nextRangeAttribute(entry: LdapEntry, attribute: string): string | undefined {
  const parts = rangeParts(entry, attribute);
  if (parts.length === 0 || parts.some((p) => p.end === "*")) return undefined;
  const last = parts[parts.length - 1]!;
  return `${attribute};range=${(last.end as number) + 1}-*`;
}

/** All values of an attribute, merging AD ranges; `complete` false when the ranges do not reach `*` contiguously. */
export function rangedValues(entry: LdapEntry, attribute: string): { values: LdapValue[]; complete: boolean } {
  const plain = attributeValues(entry, attribute);
  const parts = rangeParts(entry, attribute);
  if (parts.length === 0) return { values: plain, complete: true };
  const values: LdapValue[] = [...plain];
  let expected = 0;
  let complete = true;
  for (const p of parts) {
    if (p.start !== expected) complete = false;
    values.push(...p.values);
    if (p.end === "*") {
      expected = -1;
      break;
    }
    expected = p.end + 1;
  }
  if (expected !== -1) complete = false;
  return { values, complete };
}

/** FILETIME (100 ns since 1601-01-01 UTC) as milliseconds since the epoch; undefined for 0 and "never". */
export function filetimeToMs(value: string): number | undefined {
  let ft: bigint;
  try {
    ft = BigInt(value.trim());
  } catch {
    return undefined;
  }
  if (ft <= 0n || ft >= 0x7fffffffffffffffn) return undefined;
  return Number(ft / 10_000n - 11_644_473_600_000n);
}

const ADS_UF_ACCOUNTDISABLE = 0x2;

function isActive(entry: LdapEntry, options: LdapMapOptions): boolean {
  if (options.activeDirectory) {
    const uac = firstString(entry, "userAccountControl");
    if (uac !== undefined && (Number(uac) & ADS_UF_ACCOUNTDISABLE) !== 0) return false;
    const expires = firstString(entry, "accountExpires");
    if (expires !== undefined) {
      const ms = filetimeToMs(expires);
      if (ms !== undefined && ms <= options.nowMs) return false;
    }
    return true;
  }
  // OpenLDAP password policy: a locked account is not active
  return attributeValues(entry, "pwdAccountLockedTime").length === 0;
}

function firstRdnValue(dn: string): string {
  const n = normalizeDn(dn);
  const first = n.split(/(?<!\\),/)[0] ?? "";
  const eq = first.indexOf("=");
  return unescapeDnValue(first.slice(eq + 1));
}

/** Map user and group entries to the directory. Group entries must already hold every `member` range fetched. */
export function mapLdapDirectory(input: { users: LdapEntry[]; groups: LdapEntry[] }, options: LdapMapOptions): LdapMapResult {
  const a = options.attributes;
  const uidAttribute = options.uidAttribute ?? "uid";
  const warnings: string[] = [];
  const incompleteReasons: string[] = [];

  const users: DirectoryUser[] = [];
  const userIdByDn = new Map<string, string>();
  /** exact DN as the server wrote it: most member values match it without normalising */
  const userIdByRawDn = new Map<string, string>();
  const userIdByUid = new Map<string, string>();
  const seenIds = new Set<string>();
  const memberOfByUser: Array<[string, string[]]> = [];

  for (const entry of input.users) {
    const rawId = attributeValues(entry, a.id)[0];
    if (rawId === undefined || (typeof rawId === "string" && rawId.trim() === "")) {
      warnings.push(`user "${entry.dn}" has no "${a.id}" and was skipped`);
      continue;
    }
    const id = canonicalLdapId(rawId);
    const email = firstString(entry, a.email);
    if (email === undefined) {
      warnings.push(`user "${entry.dn}" has no "${a.email}" and was skipped`);
      continue;
    }
    if (seenIds.has(id)) {
      incompleteReasons.push(`two users share the id "${id}" (second one: "${entry.dn}")`);
      continue;
    }
    seenIds.add(id);
    const user: DirectoryUser = { id, email, active: isActive(entry, options) };
    const givenName = firstString(entry, a.givenName);
    const familyName = firstString(entry, a.familyName);
    const displayName = firstString(entry, a.displayName);
    if (givenName !== undefined) user.givenName = givenName;
    if (familyName !== undefined) user.familyName = familyName;
    if (displayName !== undefined) user.displayName = displayName;
    users.push(user);
    userIdByDn.set(normalizeDn(entry.dn), id);
    userIdByRawDn.set(entry.dn, id);
    for (const uid of stringValues(entry, uidAttribute)) userIdByUid.set(uid.trim().toLowerCase(), id);
    if (a.memberOf) memberOfByUser.push([id, stringValues(entry, a.memberOf)]);
  }

  interface GroupNode {
    group: DirectoryGroup;
    users: Set<string>;
    childGroups: Set<string>;
  }
  const nodes = new Map<string, GroupNode>();
  const memberAttributes = uniqueCaseInsensitive(["member", "uniqueMember", a.member]);
  const pendingMembers: Array<[GroupNode, string[]]> = [];

  for (const entry of input.groups) {
    const rawId = attributeValues(entry, a.id)[0];
    if (rawId === undefined || (typeof rawId === "string" && rawId.trim() === "")) {
      warnings.push(`group "${entry.dn}" has no "${a.id}" and was skipped`);
      continue;
    }
    const dnKey = normalizeDn(entry.dn);
    const name = firstString(entry, a.groupName) ?? firstRdnValue(entry.dn);
    const node: GroupNode = {
      group: { id: canonicalLdapId(rawId), name, dn: entry.dn, members: [] },
      users: new Set(),
      childGroups: new Set(),
    };
    nodes.set(dnKey, node);

    const memberDns: string[] = [];
    for (const attr of memberAttributes) {
      if (attr.toLowerCase() === "memberuid") continue;
      const { values, complete } = rangedValues(entry, attr);
      if (!complete) incompleteReasons.push(`group "${entry.dn}": "${attr}" ranges were not read to the end`);
      for (const v of values) memberDns.push(stripOptionalUid(typeof v === "string" ? v : decoder.decode(v)));
    }
    pendingMembers.push([node, memberDns]);

    for (const uid of stringValues(entry, "memberUid")) {
      const id = userIdByUid.get(uid.trim().toLowerCase());
      if (id !== undefined) node.users.add(id);
    }
  }

  for (const [node, dns] of pendingMembers) {
    for (const dn of dns) {
      const exact = userIdByRawDn.get(dn);
      if (exact !== undefined) {
        node.users.add(exact);
        continue;
      }
      const key = normalizeDn(dn);
      const userId = userIdByDn.get(key);
      if (userId !== undefined) node.users.add(userId);
      else if (nodes.has(key)) node.childGroups.add(key);
    }
  }

  for (const [userId, groupDns] of memberOfByUser) {
    for (const dn of groupDns) nodes.get(normalizeDn(dn))?.users.add(userId);
  }

  const groups: DirectoryGroup[] = [];
  for (const [key, node] of nodes) {
    const members = new Set(node.users);
    if (options.nestedGroups) {
      const visited = new Set<string>([key]);
      const stack = [...node.childGroups];
      while (stack.length > 0) {
        const child = stack.pop()!;
        if (visited.has(child)) continue;
        visited.add(child);
        const childNode = nodes.get(child);
        if (!childNode) continue;
        for (const u of childNode.users) members.add(u);
        for (const g of childNode.childGroups) if (!visited.has(g)) stack.push(g);
      }
    }
    node.group.members = [...members].sort();
    groups.push(node.group);
  }

  return { directory: { users, groups }, incompleteReasons, warnings };
}

function uniqueCaseInsensitive(names: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    if (!seen.has(n.toLowerCase())) {
      seen.add(n.toLowerCase());
      out.push(n);
    }
  }
  return out;
}
