/**
 * Starts a throwaway OpenLDAP server (slapd) on 127.0.0.1 from an LDIF, for tests and benchmarks.
 * Node built-ins only, so that `bench/` can import it too.
 *
 * The suffix is `dc=example,dc=org`; the rootdn is `cn=admin,dc=example,dc=org`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface StartSlapdOptions {
  /** LDIF loaded offline with slapadd before the server starts (overlays do not run) */
  ldif: string;
  /** LDIF added online with ldapadd once the server runs (the memberof overlay fills `memberOf`) */
  onlineLdif?: string;
  /** extra slapd.conf lines placed after the database directives (e.g. `limits …`) */
  extraConfig?: string;
  /** root password; default "adminpw" */
  rootPassword?: string;
}

export interface SlapdServer {
  url: string;
  /** the rootdn */
  bindDn: string;
  password: string;
  baseDn: string;
  stop(): Promise<void>;
}

export const SLAPD_BASE_DN = "dc=example,dc=org";
export const SLAPD_ROOT_DN = "cn=admin,dc=example,dc=org";

const SBIN = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

function findBinary(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").concat(SBIN)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(
    `"${name}" was not found: install OpenLDAP (apt-get install -y slapd ldap-utils) to run the LDAP tests`,
  );
}

function slapdConf(dir: string, rootPassword: string, extra: string): string {
  return [
    "include   /etc/ldap/schema/core.schema",
    "include   /etc/ldap/schema/cosine.schema",
    "include   /etc/ldap/schema/inetorgperson.schema",
    "include   /etc/ldap/schema/nis.schema",
    "modulepath /usr/lib/ldap",
    "moduleload back_mdb",
    "moduleload memberof",
    "moduleload ppolicy",
    `pidfile   ${dir}/slapd.pid`,
    `argsfile  ${dir}/slapd.args`,
    "database  mdb",
    "maxsize   1073741824",
    `suffix    "${SLAPD_BASE_DN}"`,
    `rootdn    "${SLAPD_ROOT_DN}"`,
    `rootpw    ${rootPassword}`,
    `directory ${dir}/data`,
    "index     objectClass eq",
    "index     uid,cn,mail eq",
    "index     member,uniqueMember,memberUid eq",
    "overlay   memberof",
    "memberof-group-oc  groupOfNames",
    "memberof-member-ad member",
    "memberof-memberof-ad memberOf",
    "memberof-refint    TRUE",
    extra,
    "access to attrs=userPassword by self write by anonymous auth by * none",
    "access to * by * read",
    "",
  ].join("\n");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startSlapd(options: StartSlapdOptions): Promise<SlapdServer> {
  const slapd = findBinary("slapd");
  const slapadd = findBinary("slapadd");
  const password = options.rootPassword ?? "adminpw";
  const dir = mkdtempSync(join(tmpdir(), "slapd-"));
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 5000))) {
        child.kill("SIGKILL");
        await waitExit(child, 2000);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(dir, "data"));
    const conf = join(dir, "slapd.conf");
    writeFileSync(conf, slapdConf(dir, password, options.extraConfig ?? ""));
    const ldifFile = join(dir, "seed.ldif");
    writeFileSync(ldifFile, options.ldif);
    execFileSync(slapadd, ["-q", "-f", conf, "-l", ldifFile], { stdio: ["ignore", "ignore", "pipe"] });

    const port = await freePort();
    const url = `ldap://127.0.0.1:${port}`;
    const stderr: Buffer[] = [];
    child = spawn(slapd, ["-d", "0", "-f", conf, "-h", `${url}/`], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (b: Buffer) => stderr.push(b));
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`slapd exited with ${child.exitCode}: ${Buffer.concat(stderr).toString().slice(0, 500)}`);
      }
      if (await canConnect(port)) break;
      if (Date.now() - started > 10_000) throw new Error("slapd did not listen within 10 s");
      await new Promise((r) => setTimeout(r, 20));
    }

    if (options.onlineLdif) {
      const ldapadd = findBinary("ldapadd");
      const online = join(dir, "online.ldif");
      writeFileSync(online, options.onlineLdif);
      execFileSync(ldapadd, ["-x", "-H", url, "-D", SLAPD_ROOT_DN, "-w", password, "-f", online], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    }

    return { url, bindDn: SLAPD_ROOT_DN, password, baseDn: SLAPD_BASE_DN, stop: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
