// Global setup: starts a real OpenLDAP (slapd) on 127.0.0.1 for the LDAP source tests, stops it after.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { startSlapd, type SlapdServer } from "./slapd-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** ldap://127.0.0.1:PORT of the shared slapd */
    ldapUrl: string;
    /** a read-only service account */
    ldapBindDn: string;
    ldapBindPassword: string;
    ldapBaseDn: string;
    /** the rootdn and its password, for tests that write */
    ldapRootDn: string;
    ldapRootPassword: string;
  }
}

const fixtures = fileURLToPath(new URL("../fixtures/ldap/", import.meta.url));

/** A service account whose searches the server cuts at 3 entries (slapd `limits`). */
export const LIMITED_READER = { dn: "cn=limited-reader,dc=example,dc=org", password: "limitedpw" };

let server: SlapdServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  server = await startSlapd({
    ldif: readFileSync(`${fixtures}seed.ldif`, "utf8"),
    onlineLdif: readFileSync(`${fixtures}online.ldif`, "utf8"),
    extraConfig: `limits dn.exact="${LIMITED_READER.dn}" size=3`,
  });
  project.provide("ldapUrl", server.url);
  project.provide("ldapBindDn", "cn=sync-reader,dc=example,dc=org");
  project.provide("ldapBindPassword", "readerpw");
  project.provide("ldapBaseDn", server.baseDn);
  project.provide("ldapRootDn", server.bindDn);
  project.provide("ldapRootPassword", server.password);
  return async () => {
    await server?.stop();
    server = undefined;
  };
}
