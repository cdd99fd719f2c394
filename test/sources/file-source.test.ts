import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, ProvisioningError, exitCodeOf } from "../../src/errors.js";
import { createSource, parseDirectoryJson } from "../../src/sync/sources/index.js";

const dir = mkdtempSync(join(tmpdir(), "file-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  return name;
}
const read = (name: string) => createSource({ type: "file", path: name }, { env: {}, baseDir: dir }).read();

const valid = {
  users: [
    { id: "00u1abc", email: "Ana@Example.org", givenName: "Ana", familyName: "Lima", displayName: "Ana Lima", active: true },
    { id: "00u2def", email: "ben@example.org", active: false },
  ],
  groups: [{ id: "00g1", name: "Data Engineers", members: ["00u1abc", "00u2def"] }],
};

describe("file source", () => {
  it("reads the documented JSON format; the id is kept verbatim", async () => {
    const r = await read(write("valid.json", valid));
    expect(r.complete).toBe(true);
    expect(r.directory.users).toEqual([
      { id: "00u1abc", email: "Ana@Example.org", givenName: "Ana", familyName: "Lima", displayName: "Ana Lima", active: true },
      { id: "00u2def", email: "ben@example.org", active: false },
    ]);
    expect(r.directory.groups).toEqual([{ id: "00g1", name: "Data Engineers", members: ["00u1abc", "00u2def"] }]);
    expect(r.fingerprint).toBe(`file ${join(dir, "valid.json")}`);
  });

  it("invalid shapes are reported with their JSON path", async () => {
    const bad = {
      users: [{ id: "", email: "x@y.org" }, { id: "u2", email: "not-an-email", active: "yes" }, { id: "u3", email: "c@y.org", activ: true }],
      groups: [{ id: "g1", members: "u3" }],
    };
    const err = await read(write("bad.json", bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvisioningError);
    expect((err as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect(exitCodeOf(err)).toBe(5);
    const msg = (err as Error).message;
    expect(msg).toContain('"$.users[0].id" must be a non-empty string');
    expect(msg).toContain('"$.users[1].email" must be an email address');
    expect(msg).toContain('"$.users[1].active" must be a boolean');
    expect(msg).toContain('"$.users[2].activ" is not allowed');
    expect(msg).toContain('"$.groups[0].name" must be a non-empty string');
    expect(msg).toContain('"$.groups[0].members" must be an array of user ids');
  });

  it("duplicate ids and emails (case-insensitive) are rejected", () => {
    expect(() =>
      parseDirectoryJson({ users: [{ id: "a", email: "a@x.org" }, { id: "a", email: "b@x.org" }, { id: "c", email: "A@X.org" }], groups: [] }),
    ).toThrow(/"\$\.users\[1\]\.id" duplicates the user id "a".*"\$\.users\[2\]\.email" duplicates the email of "\$\.users\[0\]"/);
  });

  it("a member id that names no user is reported and the read is incomplete, never silently kept", async () => {
    const r = await read(write("dangling.json", { users: valid.users, groups: [{ id: "g", name: "G", members: ["00u1abc", "ghost"] }] }));
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toContain('"$.groups[0].members[1]" = "ghost"');
    expect(r.directory.groups[0]!.members).toEqual(["00u1abc"]);
  });

  it("an empty source is returned as empty and complete (the abort on empty lives in the sync)", async () => {
    const r = await read(write("empty.json", { users: [], groups: [] }));
    expect(r).toMatchObject({ complete: true, directory: { users: [], groups: [] } });
  });

  it("a missing file or invalid JSON is SYNC_SOURCE_FAILED naming the file", async () => {
    const missing = await read("nope.json").catch((e: unknown) => e);
    expect((missing as ProvisioningError).code).toBe("SYNC_SOURCE_FAILED");
    expect((missing as ProvisioningError).file).toBe(join(dir, "nope.json"));
    const broken = await read(write("broken.json", "{ \"users\": [")).catch((e: unknown) => e);
    expect((broken as Error).message).toMatch(/is not valid JSON/);
  });

  it("reads a large directory completely (speed is measured by npm run bench, not here)", async () => {
    const users = Array.from({ length: 20_000 }, (_, i) => ({ id: `u${i}`, email: `user${i}@example.org`, givenName: "U", familyName: String(i), active: true }));
    const groups = Array.from({ length: 100 }, (_, g) => ({ id: `g${g}`, name: `group ${g}`, members: Array.from({ length: 1000 }, (_, j) => `u${(g * 997 + j * 89) % 20_000}`) }));
    const name = write("large.json", { users, groups });
    const r = await read(name);
    expect(r.complete).toBe(true);
    expect(r.directory.users).toHaveLength(20_000);
    expect(r.directory.groups.reduce((n, g) => n + g.members.length, 0)).toBe(100_000);
    expect(r.directory.groups[99]!.members).toEqual(groups[99]!.members);
  });
});

describe("createSource", () => {
  it("an unknown source type is a configuration error", () => {
    expect(() => createSource({ type: "workday" }, { env: {}, baseDir: dir })).toThrow(ConfigError);
    expect(() => createSource({ type: "workday" }, { env: {}, baseDir: dir })).toThrow('unknown "sync.source.type" "workday"');
  });
});
