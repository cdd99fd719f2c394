/**
 * The `file` source: the JSON export described in ARCHITECTURE.md,
 * `{"users":[{"id","email","givenName","familyName","displayName","active"}],"groups":[{"id","name","members":[…]}]}`.
 * `id` is the IdP's immutable id and becomes `externalId` verbatim.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ProvisioningError } from "../../errors.js";
import type { Directory, DirectoryGroup, DirectorySource, DirectoryUser, SourceRead } from "../directory.js";
import { fileFingerprint } from "./fingerprint.js";

const USER_KEYS = new Set(["id", "email", "givenName", "familyName", "displayName", "active"]);
const GROUP_KEYS = new Set(["id", "name", "members"]);
const OPTIONAL_NAMES = ["givenName", "familyName", "displayName"] as const;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
/** errors listed in one message before "and N more" */
const MAX_LISTED = 20;

export interface ParsedDirectoryFile {
  directory: Directory;
  /** member ids that name no user: dropped from the group, and the read is incomplete */
  danglingMembers: Array<{ path: string; id: string }>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validate and normalise the parsed JSON of a directory file. Pure.
 * @throws {ProvisioningError} `SYNC_SOURCE_FAILED` listing every problem with its JSON path
 */
export function parseDirectoryJson(data: unknown, file?: string): ParsedDirectoryFile {
  const errors: string[] = [];
  const err = (path: string, what: string) => {
    errors.push(`"${path}" ${what}`);
  };
  const users: DirectoryUser[] = [];
  const groups: DirectoryGroup[] = [];
  const danglingMembers: Array<{ path: string; id: string }> = [];

  if (!isObject(data)) {
    err("$", "must be an object with \"users\" and \"groups\"");
  } else {
    for (const key of Object.keys(data)) if (key !== "users" && key !== "groups") err(`$.${key}`, "is not allowed");
    /** user id → the id string itself: members share it (one string per user, not one per membership) */
    const userIds = new Map<string, string>();
    if (!Array.isArray(data.users)) err("$.users", "must be an array");
    else {
      // the JSON path of a user is made only for an error message (not once per user)
      const at = (i: number): string => `$.users[${i}]`;
      const emails = new Map<string, number>();
      data.users.forEach((u: unknown, i: number) => {
        if (!isObject(u)) return err(at(i), "must be an object");
        for (const key in u) if (!USER_KEYS.has(key)) err(`${at(i)}.${key}`, "is not allowed");
        const id = u.id;
        const email = u.email;
        let ok = true;
        if (typeof id !== "string" || id.trim() === "") {
          err(`${at(i)}.id`, "must be a non-empty string");
          ok = false;
        } else if (userIds.has(id)) {
          err(`${at(i)}.id`, `duplicates the user id "${id}"`);
          ok = false;
        }
        if (typeof email !== "string" || !EMAIL_RE.test(email.trim())) {
          err(`${at(i)}.email`, "must be an email address");
          ok = false;
        } else {
          const key = email.trim().toLowerCase();
          const other = emails.get(key);
          if (other !== undefined) {
            err(`${at(i)}.email`, `duplicates the email of "${at(other)}"`);
            ok = false;
          } else emails.set(key, i);
        }
        for (const name of OPTIONAL_NAMES) {
          if (u[name] !== undefined && u[name] !== null && typeof u[name] !== "string") {
            err(`${at(i)}.${name}`, "must be a string");
            ok = false;
          }
        }
        if (u.active !== undefined && typeof u.active !== "boolean") {
          err(`${at(i)}.active`, "must be a boolean");
          ok = false;
        }
        if (!ok) return undefined;
        userIds.set(id as string, id as string);
        const user: DirectoryUser = { id: id as string, email: (email as string).trim(), active: u.active !== false };
        for (const name of OPTIONAL_NAMES) {
          const v = u[name];
          if (typeof v === "string" && v !== "") user[name] = v;
        }
        users.push(user);
        return undefined;
      });
    }
    if (!Array.isArray(data.groups)) err("$.groups", "must be an array");
    else {
      const groupIds = new Set<string>();
      data.groups.forEach((g: unknown, i: number) => {
        const p = `$.groups[${i}]`;
        if (!isObject(g)) return err(p, "must be an object");
        for (const key of Object.keys(g)) if (!GROUP_KEYS.has(key)) err(`${p}.${key}`, "is not allowed");
        let ok = true;
        if (typeof g.id !== "string" || g.id.trim() === "") {
          err(`${p}.id`, "must be a non-empty string");
          ok = false;
        } else if (groupIds.has(g.id)) {
          err(`${p}.id`, `duplicates the group id "${g.id}"`);
          ok = false;
        }
        if (typeof g.name !== "string" || g.name.trim() === "") {
          err(`${p}.name`, "must be a non-empty string");
          ok = false;
        }
        const members = new Set<string>();
        if (!Array.isArray(g.members)) {
          err(`${p}.members`, "must be an array of user ids");
          ok = false;
        } else {
          g.members.forEach((m: unknown, j: number) => {
            if (typeof m !== "string" || m === "") {
              err(`${p}.members[${j}]`, "must be a non-empty string");
              ok = false;
            } else {
              const id = userIds.get(m);
              if (id === undefined) danglingMembers.push({ path: `${p}.members[${j}]`, id: m });
              else members.add(id);
            }
          });
        }
        if (!ok) return undefined;
        groupIds.add(g.id as string);
        groups.push({ id: g.id as string, name: g.name as string, members: [...members] });
        return undefined;
      });
    }
  }

  if (errors.length > 0) {
    const listed = errors.slice(0, MAX_LISTED).join("; ");
    const more = errors.length > MAX_LISTED ? `; and ${errors.length - MAX_LISTED} more` : "";
    throw new ProvisioningError(
      "SYNC_SOURCE_FAILED",
      `invalid directory file${file ? ` "${file}"` : ""}: ${listed}${more}`,
      { ...(file ? { file } : {}), details: { errors: errors.length }, publicReason: "the directory could not be read" },
    );
  }
  return { directory: { users, groups }, danglingMembers };
}

export function createFileSource(config: { path: string }, options: { baseDir: string }): DirectorySource {
  const path = resolve(options.baseDir, config.path);
  const fingerprint = fileFingerprint(path);
  return {
    fingerprint,
    async read(signal?: AbortSignal): Promise<SourceRead> {
      let text: string | undefined;
      try {
        text = await readFile(path, { encoding: "utf8", ...(signal ? { signal } : {}) });
      } catch (e) {
        if (signal?.aborted) throw e;
        throw new ProvisioningError("SYNC_SOURCE_FAILED", `cannot read the directory file "${path}": ${(e as Error).message}`, {
          cause: e,
          file: path,
        });
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
        text = undefined; // not held while the directory is built
      } catch (e) {
        throw new ProvisioningError("SYNC_SOURCE_FAILED", `directory file "${path}" is not valid JSON: ${(e as Error).message}`, {
          cause: e,
          file: path,
        });
      }
      const parsed = parseDirectoryJson(data, path);
      data = undefined;
      const out: SourceRead = { directory: parsed.directory, complete: true, fingerprint };
      if (parsed.danglingMembers.length > 0) {
        const shown = parsed.danglingMembers
          .slice(0, 5)
          .map((d) => `"${d.path}" = "${d.id}"`)
          .join(", ");
        const more = parsed.danglingMembers.length > 5 ? ` and ${parsed.danglingMembers.length - 5} more` : "";
        out.complete = false;
        out.incompleteReason = `${parsed.danglingMembers.length} group member id(s) name no user: ${shown}${more}`;
      }
      return out;
    },
  };
}
