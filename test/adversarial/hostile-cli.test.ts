/**
 * Everything in this folder at once, thrown at the real executable started
 * the way users start it, with unhandled rejections fatal: afterwards the
 * process is alive, /healthz and /readyz answer 200, it still serves, and a
 * SIGTERM still drains it to exit 0.
 */
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { handshake } from "../helpers/client.js";
import { RawConnection, rawExchange } from "../helpers/raw-connection.js";
import { get, HOSTILE_ACL, PATH_VECTORS, SMUGGLING_VECTORS } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { serveProxy, type ServedProxy } from "../helpers/proxy.js";
import { BROKEN_ANSWERS, startBlackholeUpstream, startBrokenUpstream, startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { parseResponses } from "../helpers/wire.js";

const ACL = `${HOSTILE_ACL}  /broken/**:
    "*": ["*"]
  /dead/**:
    "*": ["*"]
  /blackhole/**:
    "*": ["*"]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: ServedProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
  upstream.respond((req, res) => {
    // /public/slow answers late, so clients can give up on it first.
    setTimeout(() => res.end("ok"), req.url === "/public/slow" ? 3000 : 0).unref();
  });
  const [broken, dead, blackhole] = await Promise.all([startBrokenUpstream(), startUpstream(), startBlackholeUpstream()]);
  await dead.close();
  const route = (name: string, pathPrefix: string, url: string) => ({ name, pathPrefix, upstream: url, acl: "acl.yaml" });
  proxy = await serveProxy({
    ca,
    acl: ACL,
    upstream: upstream.url,
    nodeArgs: ["--unhandled-rejections=strict"],
    limits: { headersTimeout: "500ms", requestTimeout: "1s", idleTimeout: "1s", upstreamConnectTimeout: "500ms", upstreamResponseTimeout: "1s", upstreamBodyTimeout: "500ms", maxHeaderSize: "8KiB" },
    extra: {
      inbound: {
        name: "hostile",
        listen: "127.0.0.1:0",
        routes: [route("main", "/", upstream.url), route("broken", "/broken", broken.url), route("dead", "/dead", dead.url), route("blackhole", "/blackhole", blackhole.url)],
      },
    },
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Raw TCP to `port`: writes `bytes`, then ends the way `finish` says. */
function tcp(port: number, bytes: string | Buffer, finish: "close" | "reset" | "linger"): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
    socket.resume();
    socket.on("connect", () => {
      socket.write(bytes);
      if (finish === "reset") socket.resetAndDestroy();
      else if (finish === "close") setTimeout(() => socket.end(), 20);
      else setTimeout(() => socket.destroy(), 1500);
    });
  });
}

/** Every hostile thing this folder knows, as independent attacks. */
function attacks(): Array<() => Promise<unknown>> {
  const port = proxy.port;
  const admin = Number(new URL(proxy.adminUrl).port);
  const raw = (text: string) => () => rawExchange(port, ca, web, text, 3000).catch(() => "");
  const list: Array<() => Promise<unknown>> = [];
  for (const vector of [...PATH_VECTORS, ...SMUGGLING_VECTORS]) list.push(raw(vector.raw));
  // Upstream faults of every kind.
  for (const answer of Object.keys(BROKEN_ANSWERS)) list.push(raw(get(`/broken/${answer}`)));
  list.push(raw(get("/dead/x")), raw(get("/blackhole/x")));
  // Oversized headers, and a request line of 100 KB.
  list.push(raw(`GET /public/x HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`), raw(`GET /${"p".repeat(100_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
  // Not TLS at all, half a handshake, a reset mid-handshake, and silence.
  list.push(
    () => tcp(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "close"),
    () => tcp(port, Buffer.alloc(4096, 0x42), "close"),
    () => tcp(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), "reset"),
    () => tcp(port, Buffer.alloc(0), "linger"),
    () => tcp(port, Buffer.from([0x16, 0x03, 0x01]), "linger"),
  );
  // No client certificate, and one from a CA nobody trusts.
  list.push(
    () => handshake(port, ca, null),
    async () => handshake(port, ca, await (await createCa()).issue({ cn: "stranger", ou: "ops" })),
  );
  // A TLS connection dropped right after the handshake, with and without half a request.
  list.push(
    () =>
      new Promise<void>((resolve) => {
        const socket = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: web.chain, key: web.key }, () => socket.destroy());
        socket.on("error", () => undefined).on("close", () => resolve());
      }),
    () =>
      new Promise<void>((resolve) => {
        // TCP reset under an established TLS connection, half-way through a request.
        const tcpSocket = tcpConnect({ host: "127.0.0.1", port });
        tcpSocket.on("error", () => undefined).on("close", () => resolve());
        const socket = tlsConnect({ socket: tcpSocket, servername: "localhost", ca: ca.cert, cert: web.chain, key: web.key }, () =>
          socket.write("GET /public/half HTTP/1.1\r\nHost: loc", () => setTimeout(() => tcpSocket.resetAndDestroy(), 20)),
        );
        socket.on("error", () => undefined);
      }),
  );
  // Slowloris, a slow body, an abandoned upload and an abandoned wait.
  list.push(
    async () => {
      const conn = await RawConnection.open(port, ca, web);
      for (const byte of "GET /public/slowloris HTTP/1.1\r\nHost: localhost\r\nX: ") {
        if (conn.isClosed()) break;
        await conn.write(byte);
        await sleep(30);
      }
      conn.destroy();
    },
    async () => {
      const conn = await RawConnection.open(port, ca, web);
      await conn.write("POST /public/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n");
      for (let i = 0; i < 20 && !conn.isClosed(); i++) {
        await conn.write("x".repeat(100));
        await sleep(70);
      }
      conn.destroy();
    },
    async () => {
      const conn = await RawConnection.open(port, ca, web);
      await conn.write(`POST /public/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n${"y".repeat(200_000)}`);
      conn.destroy();
    },
    async () => {
      const conn = await RawConnection.open(port, ca, web);
      await conn.write(get("/public/slow"));
      await sleep(300);
      conn.destroy();
    },
  );
  // The admin listener is plain HTTP on loopback: garbage, huge headers and dot segments there too.
  list.push(
    () => tcp(admin, "\u0000\u0001garbage\r\n\r\n", "close"),
    () => tcp(admin, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, "close"),
    () => tcp(admin, "GET /healthz/../metrics?%00 HTTP/1.1\r\nHost: x\r\n\r\n", "close"),
    () => tcp(admin, "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "reset"),
  );
  // And a burst of ordinary keep-alive traffic among it all.
  for (let i = 0; i < 20; i++) list.push(raw(get(`/public/burst-${i}`)));
  return list;
}

describe("adversarial: the real CLI survives everything", () => {
  test("after every hostile vector, guardpost serve (--unhandled-rejections=strict) is alive, healthy and serving, and drains on SIGTERM", { timeout: 60_000 }, async () => {
    const all = attacks();
    // Every attack in flight at once.
    await Promise.all(all.map((attack) => attack()));
    // Let the timeouts the attacks started (headers, body, upstream) fire.
    await sleep(1000);

    const { child } = proxy.proc;
    expect({ exitCode: child.exitCode, signal: child.signalCode }).toEqual({ exitCode: null, signal: null });
    expect((await request(`${proxy.adminUrl}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${proxy.adminUrl}/readyz`);
    expect(ready.statusCode).toBe(200);
    await ready.body.dump();
    const { responses } = parseResponses(await rawExchange(proxy.port, ca, web, get("/public/after-the-storm")));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(upstream.arrivals.filter((line) => line.split(" ")[1]!.split("?")[0]!.includes("/admin"))).toEqual([]);
    expect(proxy.proc.stderr).toBe("");
    const levels = proxy.proc.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => (JSON.parse(line) as { level: number | string }).level);
    expect(levels.filter((level) => level === "fatal" || level === 60)).toEqual([]);

    child.kill("SIGTERM");
    expect(await proxy.proc.exited).toBe(0);
  });
});
