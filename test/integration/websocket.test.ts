/**
 * WebSocket through the inbound listener, with real clients and servers: a
 * `ws` client presenting a client certificate -> guardpost -> a `ws`
 * server. The handshake goes through the same pipeline as any request (as
 * a GET of its path); an allowed one becomes a tunnel on the upstream's
 * 101, which closes at the peer's notAfter, on idle timeout, on drain and
 * on a trust change, and is logged and counted when it closes.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { constants, connect as h2connect, createServer as createH2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { beforeAll, describe, expect, test } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { onCleanup } from "../helpers/cleanup.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { issueServerCert, startProxy, type ProxyOptions, type TestProxy } from "../helpers/proxy.js";
import { rawExchange, rawStatus } from "../helpers/raw-connection.js";
import { writeByRename } from "../helpers/rotate.js";

const ACL = `
version: 1
paths:
  /ws/**:
    GET: [OU=web]
  /admin/**:
    GET: [OU=ops]
`;

interface WsUpstream {
  readonly url: string;
  readonly server: Server;
  /** TCP connections the upstream accepted. */
  connections: number;
  /** Handshakes (and other upgrade requests) it received, in order. */
  readonly handshakes: IncomingMessage[];
  /** Plain (non-upgrade) requests it received. */
  readonly requests: IncomingMessage[];
}

/**
 * A `ws` server that echoes every message with its type. /ws/greet says
 * "hello" as soon as it opens (bytes right behind the 101); /ws/missing is
 * answered 404 instead of 101.
 */
async function startWsUpstream(listen: { port: 0; host: string } | { path: string } = { port: 0, host: "127.0.0.1" }): Promise<WsUpstream> {
  const server = createServer((req, res) => {
    upstream.requests.push(req);
    res.writeHead(404, { "content-type": "text/plain" }).end("not a websocket");
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const upstream: WsUpstream = { url: "", server, connections: 0, handshakes: [], requests: [] };
  server.on("connection", () => upstream.connections++);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upstream.handshakes.push(req);
    if (req.url?.startsWith("/ws/missing")) {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nx-from: upstream\r\n\r\nmissing");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      if (req.url === "/ws/greet") ws.send("hello");
    });
  });
  await new Promise<void>((resolve) => ("path" in listen ? server.listen(listen.path, resolve) : server.listen(listen.port, listen.host, resolve)));
  const address = server.address();
  (upstream as { url: string }).url = typeof address === "string" ? `unix:${address}` : `http://127.0.0.1:${(address as AddressInfo).port}`;
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return upstream;
}

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: WsUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startWsUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
});

type Handshake = { readonly ws: WebSocket } | { readonly status: number; readonly headers: IncomingMessage["headers"]; readonly body: string };

/** A `ws` client handshake through `target`: the open socket, or the HTTP answer that refused it. */
function handshake(target: TestProxy, path: string, cert: IssuedCertificate = web, headers: Record<string, string> = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${target.port}${path}`, { ca: ca.cert, cert: cert.chain, key: cert.key, headers, maxPayload: 64 * 1024 * 1024 });
    onCleanup(() => ws.terminate());
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    ws.once("error", reject);
  });
}

async function open(target: TestProxy, path: string, cert: IssuedCertificate = web): Promise<WebSocket> {
  const result = await handshake(target, path, cert);
  if (!("ws" in result)) throw new Error(`expected a 101 for ${path}, got ${result.status}: ${result.body}`);
  return result.ws;
}

async function refused(target: TestProxy, path: string, cert: IssuedCertificate = web): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  const result = await handshake(target, path, cert);
  if ("ws" in result) throw new Error(`expected ${path} to be refused, but it opened`);
  return result;
}

interface Frame {
  readonly type: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/**
 * One request over a raw HTTP/2 connection (ALPN h2, client certificate
 * `web`): the preface, an empty SETTINGS, and a HEADERS frame whose fields
 * are HPACK literals (RFC 7541 section 6.2.2, no Huffman), so that fields a
 * well-behaved client refuses to send can be sent. Resolves with the frames
 * read within a second.
 */
function rawH2(target: TestProxy, fields: ReadonlyArray<readonly [string, string]>): Promise<Frame[]> {
  const literal = (text: string) => Buffer.concat([Buffer.from([text.length]), Buffer.from(text, "latin1")]);
  const block = Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), literal(name), literal(value)]));
  const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(stream, 5);
    return Buffer.concat([head, payload]);
  };
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port: target.port, host: "127.0.0.1", servername: "localhost", ca: ca.cert, cert: web.chain, key: web.key, ALPNProtocols: ["h2"] }, () => {
      socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x1, 0x5, 1, block)]));
    });
    onCleanup(() => socket.destroy());
    let input = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
    });
    socket.on("error", reject);
    setTimeout(() => {
      socket.destroy();
      const frames: Frame[] = [];
      for (let at = 0; at + 9 <= input.length; ) {
        const length = input.readUIntBE(at, 3);
        frames.push({ type: input[at + 3]!, stream: input.readUInt32BE(at + 5) & 0x7fffffff, payload: input.subarray(at + 9, at + 9 + length) });
        at += 9 + length;
      }
      resolve(frames);
    }, 1000);
  });
}

/** Sends `data` and resolves with the next message (and whether it was binary). */
function echo(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once("message", (reply, binary) => resolve({ data: reply as Buffer, binary }));
    ws.once("close", () => reject(new Error("closed before the echo")));
    ws.send(data, { binary: typeof data !== "string" });
  });
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve(performance.now());
    ws.once("close", () => resolve(performance.now()));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The access line of the websocket exchange with this request id, once written. */
async function accessLine(target: TestProxy, requestId: string): Promise<Record<string, unknown>> {
  await expect.poll(() => target.logs.find({ msg: "request", requestId }).length, { timeout: 5000 }).toBe(1);
  return target.logs.find({ msg: "request", requestId })[0]!;
}

function requestIdOf(upstreamHandshake: IncomingMessage): string {
  return upstreamHandshake.headers["x-request-id"] as string;
}

describe("a WebSocket handshake allowed by the ACL", () => {
  test("becomes a tunnel: text and binary messages echo, and the upstream got the normalized path and guardpost's headers", async () => {
    const mark = upstream.handshakes.length;
    const ws = await open(proxy, "/ws/./chat?room=1");
    const seen = upstream.handshakes[mark]!;
    expect(seen.url).toBe("/ws/chat?room=1");
    expect(seen.headers.upgrade).toBe("websocket");
    expect(seen.headers["x-forwarded-client-cert"]).toContain('Subject="CN=web-01,OU=web"');
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    expect(seen.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(await echo(ws, "hi there")).toEqual({ data: Buffer.from("hi there"), binary: false });
    const bytes = randomBytes(1000);
    expect(await echo(ws, bytes)).toEqual({ data: bytes, binary: true });
    ws.close(1000, "done");
    expect(await new Promise((resolve) => ws.once("close", (code) => resolve(code)))).toBe(1000);
  });

  test("a 16 MiB message goes both ways intact (backpressure on both sockets), several in a row", async () => {
    const ws = await open(proxy, "/ws/big");
    for (let i = 0; i < 3; i++) {
      const big = randomBytes(16 * 1024 * 1024);
      const reply = await echo(ws, big);
      expect(reply.data.equals(big)).toBe(true);
    }
    ws.close();
  });

  test("bytes right behind the 101 reach the client, and frames sent right behind the handshake reach the upstream", async () => {
    const greeted = await open(proxy, "/ws/greet");
    expect(await new Promise((resolve) => greeted.once("message", (m) => resolve(String(m))))).toBe("hello");
    greeted.close();

    // A raw client sends its handshake and a masked text frame in one write, before any answer.
    const key = randomBytes(16).toString("base64");
    const mask = randomBytes(4);
    const payload = Buffer.from("early");
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
    const request = `GET /ws/early HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`;
    const output = await rawExchange(proxy.port, ca, web, Buffer.concat([Buffer.from(request), frame]), 1500);
    expect(rawStatus(output)).toBe(101);
    expect(output).toMatch(/\r\nsec-websocket-accept: /i);
    const body = Buffer.from(output.slice(output.indexOf("\r\n\r\n") + 4), "latin1");
    expect([...body.subarray(0, 2)]).toEqual([0x81, 5]);
    expect(body.subarray(2, 7).toString()).toBe("early");
  });

  test("the access line is written once, at close, with protocol websocket, status 101, duration and the bytes each way; metrics count protocol=websocket", async () => {
    const own = await startWsUpstream();
    const proxy = await startProxy({ ca, acl: ACL, upstream: own.url });
    const ws = await open(proxy, "/ws/accounted");
    const id = requestIdOf(own.handshakes[0]!);
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { protocol: "websocket", code: "101" })).toBe(0);
    await echo(ws, "x".repeat(100));
    await sleep(300);
    expect(proxy.logs.find({ msg: "request", requestId: id })).toHaveLength(0);
    ws.close(1000);
    await closed(ws);
    const line = await accessLine(proxy, id);
    expect(line).toMatchObject({ protocol: "websocket", method: "GET", path: "/ws/accounted", decision: "allow", entry: "GET /ws/**", status: 101, closedBy: expect.stringMatching(/^(client|upstream)$/) });
    expect(line.durationMs as number).toBeGreaterThanOrEqual(300);
    // 100 bytes of text: a 6-byte masked header from the client, 2 bytes unmasked from the server; then the close frames.
    expect(line.bytesFromClient as number).toBeGreaterThanOrEqual(106);
    expect(line.bytesToClient as number).toBeGreaterThanOrEqual(102);
    expect(line.bytesFromClient as number).toBeLessThan(200);
    expect(line.bytesToClient as number).toBeLessThan(200);
    expect(line.peer).toMatchObject({ cn: "web-01" });
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { listener: "inbound", protocol: "websocket", code: "101", decision: "allow", method: "GET" })).toBe(1);
  });
});

describe("a WebSocket handshake under an ACL in audit mode", () => {
  test("a denial is recorded as would_deny and the tunnel opens; the client's request id is kept", async () => {
    const own = await startWsUpstream();
    const audited = await startProxy({ ca, acl: `version: 1\nmode: audit\npaths:\n  /ws/**:\n    GET: [OU=ops]\n`, upstream: own.url });
    const result = await handshake(audited, "/ws/audited", web, { "x-request-id": "ws-audit-1" });
    if (!("ws" in result)) throw new Error(`expected a tunnel, got ${result.status}`);
    expect(own.handshakes[0]?.headers["x-request-id"]).toBe("ws-audit-1");
    expect(String((await echo(result.ws, "audited")).data)).toBe("audited");
    result.ws.close();
    expect(await accessLine(audited, "ws-audit-1")).toMatchObject({ protocol: "websocket", decision: "would_deny", status: 101 });
  });
});

describe("handshakes guardpost refuses", () => {
  test("a denied path gets 403 JSON and the upstream never sees a connection", async () => {
    const quiet = await startWsUpstream();
    const guarded = await startProxy({ ca, acl: ACL, upstream: quiet.url });
    const res = await refused(guarded, "/admin/shell");
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(res.body)).toMatchObject({ error: "forbidden", method: "GET", path: "/admin/shell" });
    // The path is normalized before the ACL, as for any request.
    expect((await refused(guarded, "/ws/../admin/shell")).status).toBe(403);
    expect((await refused(guarded, "/ws/%2e%2e/admin")).status).toBe(403);
    expect((await refused(guarded, "/ws/a%2fb")).status).toBe(400);
    expect(quiet.connections).toBe(0);
    const line = guarded.logs.find({ msg: "request", path: "/admin/shell" })[0];
    expect(line).toMatchObject({ protocol: "websocket", decision: "deny", status: 403 });
    expect(await metricValue(guarded.adminUrl, "guardpost_requests_total", { protocol: "websocket", code: "403", decision: "deny" })).toBe(3);
  });

  test("Upgrade: h2c (h2c smuggling) and every other Upgrade value get 400, and nothing reaches the upstream", async () => {
    const quiet = await startWsUpstream();
    const guarded = await startProxy({ ca, acl: ACL, upstream: quiet.url });
    const head = "GET /ws/x HTTP/1.1\r\nHost: localhost\r\n";
    const cases = [
      `${head}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      `${head}Connection: Upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
      `${head}Connection: keep-alive\r\nUpgrade: h2c\r\n\r\n`,
      `${head}Connection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      `${head}Connection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n`,
      `${head}Connection: Upgrade\r\nUpgrade: foo\r\n\r\n`,
      // Malformed WebSocket handshakes: not a GET, a body, HTTP/1.0.
      "POST /ws/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
      "GET /ws/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
      "GET /ws/x HTTP/1.0\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ];
    for (const raw of cases) {
      const output = await rawExchange(guarded.port, ca, web, raw, 1500);
      expect([raw, rawStatus(output)]).toEqual([raw, 400]);
      expect(output).toContain('"error":"bad_request"');
    }
    expect(quiet.connections).toBe(0);
  });

  test("over HTTP/2: no extended CONNECT is offered (RFC 8441), one sent anyway is reset, CONNECT gets 400, an upgrade header never passes", async () => {
    const session = h2connect(`https://localhost:${proxy.port}`, { ca: ca.cert, cert: web.chain, key: web.key });
    onCleanup(() => session.destroy());
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    expect(session.remoteSettings.enableConnectProtocol).toBe(false);
    const mark = upstream.connections;

    const connect = session.request({ ":method": "CONNECT", ":authority": "localhost:443" });
    const status = await new Promise<number>((resolve, reject) => {
      connect.once("response", (headers) => resolve(headers[":status"] as number));
      connect.once("error", reject);
    });
    expect(status).toBe(400);

    // An RFC 8441 client would not send :protocol to a server that did not offer it; sent anyway, the stream is reset.
    const extended = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/ws/x", ":authority": "localhost" });
    const reset = await new Promise<number>((resolve) => {
      extended.once("response", () => resolve(-1));
      extended.once("error", () => undefined);
      extended.once("close", () => resolve(extended.rstCode ?? -2));
    });
    expect(reset).toBe(constants.NGHTTP2_PROTOCOL_ERROR);
    // Upgrade is a connection-specific header in HTTP/2 (RFC 9113 section 8.2.2): Node's client will not even send it.
    expect(() => session.request({ ":method": "GET", ":path": "/ws/x", upgrade: "h2c" })).toThrow(/connection specific/i);
    expect(upstream.connections).toBe(mark);
  });

  test("over HTTP/2, a HEADERS frame carrying Upgrade: h2c (hand-encoded, as a hostile client would send it) is reset, never forwarded", async () => {
    const mark = upstream.connections;
    const frames = await rawH2(proxy, [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/ws/x"],
      [":authority", "localhost"],
      ["upgrade", "h2c"],
    ]);
    expect(frames.find((f) => f.type === 0x1 && f.stream === 1)).toBeUndefined();
    const reset = frames.find((f) => f.type === 0x3 && f.stream === 1);
    expect(reset?.payload.readUInt32BE(0)).toBe(constants.NGHTTP2_PROTOCOL_ERROR);
    expect(upstream.connections).toBe(mark);
  });

  test("an upstream that answers the handshake with 404 has its answer relayed, and the connection closes", async () => {
    const res = await refused(proxy, "/ws/missing");
    expect(res.status).toBe(404);
    expect(res.headers["x-from"]).toBe("upstream");
    expect(res.body).toBe("missing");
    const line = proxy.logs.find({ msg: "request", path: "/ws/missing" })[0];
    expect(line).toMatchObject({ protocol: "websocket", decision: "allow", status: 404 });
    expect(line?.bytesFromClient).toBeUndefined();
  });

  test("an upstream that is down gives 502", async () => {
    const down = await startProxy({ ca, acl: ACL, upstream: "http://127.0.0.1:9" });
    const res = await refused(down, "/ws/x");
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: "upstream_unreachable", path: "/ws/x" });
  });

  test("an h2c:// upstream cannot carry the upgrade: 502 websocket_unsupported after the ACL, and the upstream sees nothing", async () => {
    const h2c = createH2Server();
    let streams = 0;
    h2c.on("stream", (stream) => {
      streams++;
      stream.respond({ ":status": 200 });
      stream.end();
    });
    await new Promise<void>((resolve) => h2c.listen(0, "127.0.0.1", resolve));
    onCleanup(() => new Promise<void>((resolve) => h2c.close(() => resolve())));
    const guarded = await startProxy({ ca, acl: ACL, upstream: `h2c://127.0.0.1:${(h2c.address() as AddressInfo).port}` });
    const res = await refused(guarded, "/ws/x");
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: "websocket_unsupported" });
    expect((await refused(guarded, "/admin/x")).status).toBe(403);
    expect(streams).toBe(0);
  });
});

describe("what closes a tunnel", () => {
  async function tunnelProxy(options: Partial<ProxyOptions> = {}): Promise<{ proxy: TestProxy; upstream: WsUpstream }> {
    const own = await startWsUpstream();
    return { proxy: await startProxy({ ca, acl: ACL, upstream: own.url, ...options }), upstream: own };
  }

  test("the client certificate's notAfter passing closes it (closedBy peer_expired)", async () => {
    const { proxy: guarded, upstream: own } = await tunnelProxy();
    // X.509 times have one-second resolution; leave room for the handshake.
    const brief = await ca.issue({ cn: "brief", ou: "web", notAfter: new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000) });
    const ws = await open(guarded, "/ws/brief", brief);
    const id = requestIdOf(own.handshakes.at(-1)!);
    expect(String((await echo(ws, "still valid")).data)).toBe("still valid");
    await closed(ws);
    expect(Date.now()).toBeGreaterThanOrEqual(brief.notAfter.getTime());
    expect(await accessLine(guarded, id)).toMatchObject({ status: 101, closedBy: "peer_expired" });
  });

  test("no byte either way for idleTimeout closes it; traffic keeps it open past idleTimeout and requestTimeout", async () => {
    const { proxy: guarded, upstream: own } = await tunnelProxy({ limits: { idleTimeout: "1s", headersTimeout: "1s", requestTimeout: "1500ms" } });
    const ws = await open(guarded, "/ws/idle");
    const id = requestIdOf(own.handshakes.at(-1)!);
    for (let i = 0; i < 8; i++) {
      await sleep(300);
      expect(String((await echo(ws, `ping ${i}`)).data)).toBe(`ping ${i}`);
    }
    const quietFrom = performance.now();
    const closedAt = await closed(ws);
    expect(closedAt - quietFrom).toBeGreaterThanOrEqual(900);
    expect(closedAt - quietFrom).toBeLessThan(2500);
    expect(await accessLine(guarded, id)).toMatchObject({ closedBy: "idle" });
  });

  test("drain leaves it open until drainTimeout, then closes it, and the drain ends", async () => {
    const { proxy: guarded, upstream: own } = await tunnelProxy({ drainTimeout: "1500ms" });
    const ws = await open(guarded, "/ws/drain");
    const id = requestIdOf(own.handshakes.at(-1)!);
    const started = performance.now();
    const drained = guarded.guardpost.drain();
    await sleep(500);
    expect(String((await echo(ws, "during drain")).data)).toBe("during drain");
    const closedAt = await closed(ws);
    expect(closedAt - started).toBeGreaterThanOrEqual(1400);
    await drained;
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await accessLine(guarded, id)).toMatchObject({ closedBy: "drain" });
  });

  test("a CRL reload that revokes the client certificate closes its tunnel; another client's tunnel goes on", async () => {
    const own = await startWsUpstream();
    const dir = tempDir();
    const files = writeFiles(dir, { "ca.crl": await ca.crl([]) });
    const server = await issueServerCert(ca);
    const tls = writeFiles(dir, { "s.crt": server.chain, "s.key": server.key, "ca.crt": ca.cert });
    const guarded = await startProxy({ ca, acl: ACL, upstream: own.url, tlsPaths: { cert: tls["s.crt"], key: tls["s.key"], ca: tls["ca.crt"], crl: files["ca.crl"] } });
    const victim = await ca.issue({ cn: "web-09", ou: "web" });
    const doomed = await open(guarded, "/ws/victim", victim);
    const id = requestIdOf(own.handshakes.at(-1)!);
    const bystander = await open(guarded, "/ws/bystander");
    writeByRename(files["ca.crl"], await ca.crl([victim]));
    await closed(doomed);
    expect(await accessLine(guarded, id)).toMatchObject({ closedBy: "peer_untrusted" });
    expect(guarded.logs.find({ event: "connection_untrusted", serial: victim.serial })).toHaveLength(1);
    expect(String((await echo(bystander, "still here")).data)).toBe("still here");
  });

  test("a tunnel counts against maxConnections until it closes", async () => {
    const { proxy: guarded } = await tunnelProxy({ limits: { maxConnections: 1 } });
    const ws = await open(guarded, "/ws/only");
    await expect(handshake(guarded, "/ws/second")).rejects.toThrow();
    expect(await metricValue(guarded.adminUrl, "guardpost_connections_active", { listener: "inbound" })).toBe(1);
    ws.close();
    await closed(ws);
    await expect.poll(() => metricValue(guarded.adminUrl, "guardpost_connections_active", { listener: "inbound" }), { timeout: 3000 }).toBe(0);
    (await open(guarded, "/ws/second")).close();
  });
});

describe("upstreams a tunnel reaches", () => {
  test("a unix: socket upstream", async () => {
    const own = await startWsUpstream({ path: join(tempDir(), "ws.sock") });
    const guarded = await startProxy({ ca, acl: ACL, upstream: own.url });
    const ws = await open(guarded, "/ws/unix");
    expect(String((await echo(ws, "over a socket")).data)).toBe("over a socket");
    ws.close();
  });

  test("through an outbound listener, over mTLS to another guardpost (which offers h2 too)", async () => {
    const local = await startProxy({
      ca,
      acl: ACL,
      upstream: proxy.url.replace("https://localhost", "http://127.0.0.1"),
      serverCert: web,
      extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${proxy.port}`, serverName: "localhost" }] },
    });
    const out = [...local.guardpost.addresses.outbound.values()][0]!;
    const ws = new WebSocket(`ws://127.0.0.1:${out.port}/ws/outbound`);
    onCleanup(() => ws.terminate());
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    expect(String((await echo(ws, "across")).data)).toBe("across");
    ws.close();
  });
});
