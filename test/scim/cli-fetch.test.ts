/**
 * The CLI fetch (node:http keep-alive agent) against a plain loopback server: what the SCIM
 * transport relies on (status, headers, body, no redirects, abort, network errors, bounded
 * keep-alive connections, close).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliFetch } from "../../src/scim/cli-fetch.js";

let server: Server;
let base: string;
const sockets = new Set<Socket>();
let held: ServerResponse[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => (body += d));
  req.on("end", () => {
    const path = req.url ?? "/";
    if (path === "/redirect") {
      res.writeHead(302, { location: "/echo" }).end();
    } else if (path === "/drop") {
      req.socket.destroy();
    } else if (path === "/slow") {
      held.push(res);
    } else if (path.startsWith("/wait")) {
      setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("late"), 30);
    } else {
      res.writeHead(201, { "content-type": "application/json", etag: 'W/"1"', "set-cookie": ["a=1", "b=2"] });
      res.end(JSON.stringify({ method: req.method, path, body, auth: req.headers.authorization ?? null, type: req.headers["content-type"] ?? null, accept: req.headers.accept ?? null }));
    }
  });
}

beforeAll(async () => {
  server = createServer(handler);
  server.on("connection", (s: Socket) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of held) r.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("createCliFetch", () => {
  it("sends method, headers and a string body, and answers status, headers and body once", async () => {
    const { fetch, close } = createCliFetch();
    const res = await fetch(`${base}/Users?count=1`, {
      method: "post",
      headers: { authorization: "Bearer k", "content-type": "application/scim+json" },
      body: JSON.stringify({ userName: "ann" }),
    });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get("etag")).toBe('W/"1"');
    expect(res.headers.get("set-cookie")).toBe("a=1, b=2");
    expect(await res.json()).toEqual({ method: "POST", path: "/Users?count=1", body: '{"userName":"ann"}', auth: "Bearer k", type: "application/scim+json", accept: null });
    await expect(res.text()).rejects.toThrow("body used already");
    await close();
  });

  it("takes request headers as an object, pairs or Headers, names in any case", async () => {
    const { fetch, close } = createCliFetch();
    const forms: RequestInit["headers"][] = [
      { Authorization: "Bearer k", ACCEPT: "application/scim+json" },
      [
        ["authorization", "Bearer k"],
        ["Accept", "application/scim+json"],
      ],
      new Headers({ authorization: "Bearer k", accept: "application/scim+json" }),
    ];
    for (const headers of forms) {
      const body = (await (await fetch(`${base}/echo`, { headers })).json()) as { auth: string; accept: string };
      expect([body.auth, body.accept]).toEqual(["Bearer k", "application/scim+json"]);
    }
    await close();
  });

  it("answers headers as Headers does: any case, sorted iteration, set-cookie apart", async () => {
    const { fetch, close } = createCliFetch();
    const res = await fetch(`${base}/echo`);
    expect(res.headers.get("ETag")).toBe('W/"1"');
    expect(res.headers.has("Content-Type")).toBe(true);
    expect(res.headers.get("x-absent")).toBeNull();
    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    const names = [...res.headers.keys()];
    expect(names).toEqual([...names].sort());
    expect(names).toContain("etag");
    const seen: string[] = [];
    res.headers.forEach((_v, k) => seen.push(k));
    expect(seen).toEqual(names);
    await res.text();
    await close();
  });

  it("never loads Node's bundled fetch implementation (its first use costs tens of milliseconds)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-fetch-"));
    try {
      const script = join(dir, "probe.mts");
      const modulePath = resolve(import.meta.dirname, "../../src/scim/cli-fetch.ts");
      writeFileSync(
        script,
        `import { createCliFetch } from ${JSON.stringify(modulePath)};
const { fetch, close } = createCliFetch();
const res = await fetch(${JSON.stringify(`${base}/echo`)}, { method: "POST", headers: { authorization: "Bearer k" }, body: "{}" });
const etag = res.headers.get("etag");
await res.json();
await close();
console.log(JSON.stringify({ etag, undici: process.moduleLoadList.some((m) => m.includes("undici")) }));
`,
      );
      // asynchronous: the server answering the probe runs in this process
      const r = await new Promise<{ stdout: string; stderr: string }>((res, rej) =>
        execFile(process.execPath, ["--import", "tsx", script], { encoding: "utf8", cwd: resolve(import.meta.dirname, "../..") }, (e, stdout, stderr) => (e ? rej(e) : res({ stdout, stderr }))),
      );
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout.trim())).toEqual({ etag: 'W/"1"', undici: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never follows a redirect: the 3xx is the answer", async () => {
    const { fetch, close } = createCliFetch();
    const res = await fetch(`${base}/redirect`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/echo");
    await close();
  });

  it("a dropped connection is a TypeError whose cause carries the code", async () => {
    const { fetch, close } = createCliFetch();
    const e = await fetch(`${base}/drop`).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(TypeError);
    expect((e as Error).message).toBe("fetch failed");
    expect(((e as Error).cause as { code?: string }).code).toBe("ECONNRESET");
    await close();
  });

  it("an aborted signal ends the request at once with a TypeError", async () => {
    const { fetch, close } = createCliFetch();
    const controller = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toThrow(TypeError);
    const already = new AbortController();
    already.abort();
    await expect(fetch(`${base}/echo`, { signal: already.signal })).rejects.toThrow("fetch failed");
    await close();
  });

  it("keeps connections alive and never opens more than maxConnections per origin", async () => {
    const { fetch, close } = createCliFetch({ maxConnections: 2 });
    const before = sockets.size;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${base}/wait/${i}`).then((r) => r.text())));
    expect(answers.every((a) => a === "late")).toBe(true);
    expect(sockets.size - before).toBe(2);
    await fetch(`${base}/echo`).then((r) => r.text());
    expect(sockets.size - before).toBe(2);
    await close();
  });

  it("close waits for requests in flight, then refuses new ones", async () => {
    const { fetch, close } = createCliFetch();
    const inFlight = fetch(`${base}/wait/close`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 5));
    await close();
    expect(await inFlight).toBe("late");
    await expect(fetch(`${base}/echo`)).rejects.toThrow("fetch failed");
  });

  it("refuses a non-string body and a bad connection count", () => {
    expect(() => createCliFetch({ maxConnections: 0 })).toThrow('"maxConnections" must be a positive integer');
    const { fetch } = createCliFetch();
    return expect(fetch(`${base}/echo`, { method: "POST", body: new Uint8Array([1]) })).rejects.toThrow("cli fetch sends string bodies only");
  });
});
