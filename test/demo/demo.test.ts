/**
 * `npm run demo`, run as a child process like the README says: it exits 0, shows the expected
 * Catalog memberships, and leaves no sandbox behind.
 */
import { describe, expect, it } from "vitest";
import { repoRoot as root, runProcess, type CliRun } from "../helpers/cli.js";

function runDemo(args: string[]): Promise<CliRun> {
  const env = { ...process.env };
  delete env.PROVISIONING_CONFIG;
  delete env.CATALOG_SCIM_URL;
  delete env.CATALOG_API_KEY;
  return runProcess("npm", ["run", "-s", "demo", "--", ...args], { cwd: root, env, killAfterMs: 90_000 });
}

interface DemoJson {
  catalog: string;
  logins: { title: string; outcome: string; requests: unknown[]; log: string }[];
  users: { userName: string; externalId: string; active: boolean; groups: string[] }[];
  audit: { method: string; path: string; status: number }[];
}

// a child process that starts its own sandbox: slower than a unit test on a busy machine
const SLOW = 120_000;

describe("npm run demo", () => {
  it("exits 0 with the expected memberships (--json), and stops its sandbox", async () => {
    const { code, stdout, stderr } = await runDemo(["--json"]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as DemoJson;

    expect(out.logins.map((l) => l.outcome)).toEqual(Array(7).fill("success"));
    expect(out.logins.slice(0, 5).every((l) => /path=created/.test(l.log))).toBe(true);
    // the repeat login: nothing changed, zero requests
    expect(out.logins[5]!.requests).toEqual([]);
    expect(out.logins[5]!.log).toMatch(/path=unchanged/);
    // the group change: one add, two removes
    expect(out.logins[6]!.log).toMatch(/adds=1 removes=2/);

    const memberships = Object.fromEntries(out.users.map((u) => [u.userName, u.groups]));
    expect(memberships).toEqual({
      "ada.lovelace@contoso.example": ["catalog-admins", "finance-readers"], // Entra waad, names
      "alan.turing@globex.example": ["finance-readers"], // Okta, after the group change
      "edsger.dijkstra@initech.example": ["finance-readers"], // generic SAML, one string
      "grace.hopper@contoso.example": ["catalog-admins", "finance-readers"], // Entra SAML, object ids
      "katherine.johnson@fabrikam.example": ["data-stewards", "finance-readers"], // Google, extended objects
    });
    // Entra is anchored by the object id, over waad and SAML alike
    expect(out.users.find((u) => u.userName.startsWith("grace"))!.externalId).toBe("1c7b6a5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d");
    expect(out.users.every((u) => u.active)).toBe(true);
    expect(out.audit.filter((a) => a.method === "POST" && a.path === "/Users")).toHaveLength(5);
    // only membership changes touch groups: never a group created or deleted
    expect(out.audit.some((a) => a.method === "POST" && a.path === "/Groups")).toBe(false);
    expect(out.audit.some((a) => a.method === "DELETE")).toBe(false);

    // the sandbox is gone
    await expect(fetch(`${out.catalog}/ServiceProviderConfig`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, SLOW);

  it("prints readable tables of users, memberships and the audit trail", async () => {
    const { code, stdout } = await runDemo([]);
    expect(code).toBe(0);
    expect(stdout).toContain("Catalog users and memberships:");
    expect(stdout).toMatch(/^userName\s+externalId\s+active\s+groups$/m);
    expect(stdout).toMatch(/^alan\.turing@globex\.example\s+00u8k2j4h6g8f0d2s4a6\s+yes\s+finance-readers$/m);
    expect(stdout).toMatch(/^katherine\.johnson@fabrikam\.example\s+\S+\s+yes\s+data-stewards, finance-readers$/m);
    expect(stdout).toContain("audit trail");
    expect(stdout).toMatch(/PATCH\s+group "mkt-readers"\s+200\s+patch group: remove members/);
  }, SLOW);

  it("refuses an unknown option with exit 2", async () => {
    const { code, stderr } = await runDemo(["--nope"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown option/i);
  }, SLOW);
});
