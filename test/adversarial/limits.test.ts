/**
 * The `limits:` keys under attack, with short values so each bound shows
 * within a second or two. A proxy that leaves them at Node's and undici's
 * defaults (16 KiB headers, 60 s for headers, 120 s for a TLS handshake,
 * 5 s keep-alive, 10 s upstream connect, 300 s upstream headers) fails the
 * bounds asserted here.
 */
import { connect as tcpConnect } from "node:net";
import { beforeAll, describe, expect, test } from "vitest";
import { handshake } from "../helpers/client.js";
import { RawConnection, rawExchange } from "../helpers/raw-connection.js";
import { get, HOSTILE_ACL } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startBlackholeUpstream, startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { expectErrorResponse, parseResponses } from "../helpers/wire.js";

const HEADERS_TIMEOUT = 500;
const REQUEST_TIMEOUT = 1500;
const IDLE_TIMEOUT = 300;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: TestProxy;
/** How each streamed upstream request ended, by url. */
const upstreamOutcome = new Map<string, "complete" | "aborted">();

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream({ streaming: true });
  upstream.respond((req, res) => {
    // /public/early answers before the request body is in, as a streaming service may.
    if (req.url === "/public/early") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("early");
    }
    req.on("close", () => upstreamOutcome.set(req.url!, req.complete ? "complete" : "aborted"));
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  proxy = await startProxy({
    ca,
    acl: HOSTILE_ACL,
    upstream: upstream.url,
    limits: { maxHeaderSize: "4KiB", headersTimeout: `${HEADERS_TIMEOUT}ms`, requestTimeout: `${REQUEST_TIMEOUT}ms`, idleTimeout: `${IDLE_TIMEOUT}ms` },
  });
});

/** Writes `text` one byte every `everyMs` until the connection closes. */
function dribble(conn: { write(data: string): Promise<void>; isClosed(): boolean }, text: string, everyMs = 25): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (conn.isClosed() || i >= text.length) clearInterval(timer);
    else void conn.write(text[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

describe.concurrent("adversarial limits: request size", () => {
  test("headers over limits.maxHeaderSize (4KiB) get 431 JSON and are not forwarded, in one header or many", async ({ expect }) => {
    for (const headers of [`X-Big: ${"a".repeat(6000)}\r\n`, Array.from({ length: 200 }, (_, i) => `X-Many-${i}: ${"b".repeat(20)}\r\n`).join("")]) {
      const { responses } = parseResponses(await rawExchange(proxy.port, ca, web, `GET /public/too-big HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`));
      expect(responses).toHaveLength(1);
      expectErrorResponse(responses[0], 431, { error: "headers_too_large" });
    }
    expect(upstream.arrivals).not.toContain("GET /public/too-big");
    // Just under the limit is served: the bound is the configured one.
    const fits = parseResponses(await rawExchange(proxy.port, ca, web, `GET /public/fits HTTP/1.1\r\nHost: localhost\r\nX-Fits: ${"c".repeat(3000)}\r\nConnection: close\r\n\r\n`));
    expect(fits.responses.map((r) => r.status)).toEqual([200]);
  });
});

/** `count` header fields in all, Host included, each a distinct small header. */
function manyHeaders(count: number): string {
  return `Host: localhost\r\n${Array.from({ length: count - 1 }, (_, i) => `X-H-${i}: v\r\n`).join("")}`;
}

describe.concurrent("adversarial limits: header count", () => {
  test("101 header fields (over the default maxHeaderCount, 100) get 431 JSON and nothing is forwarded; 100 are forwarded whole", async ({ expect }) => {
    const over = parseResponses(await rawExchange(proxy.port, ca, web, `GET /public/count-101 HTTP/1.1\r\n${manyHeaders(100)}Connection: close\r\n\r\n`));
    expect(over.responses).toHaveLength(1);
    expectErrorResponse(over.responses[0], 431, { error: "headers_too_large", method: "GET", path: "/public/count-101" });
    expect(upstream.arrivals).not.toContain("GET /public/count-101");
    const mark = upstream.received.length;
    const fits = parseResponses(await rawExchange(proxy.port, ca, web, `GET /public/count-100 HTTP/1.1\r\n${manyHeaders(99)}Connection: close\r\n\r\n`));
    expect(fits.responses.map((r) => r.status)).toEqual([200]);
    const seen = upstream.received.slice(mark).find((r) => r.url === "/public/count-100")!;
    expect(seen.rawHeaders.filter((_, i) => i % 2 === 0 && /^x-h-/i.test(seen.rawHeaders[i]!))).toHaveLength(98);
  });

  test("2,100 small headers within maxHeaderSize are refused whole with 431, never cut to what Node keeps and forwarded", async ({ expect }) => {
    const own = await startUpstream();
    const wide = await startProxy({ ca, acl: HOSTILE_ACL, upstream: own.url, limits: { maxHeaderSize: "64KiB" } });
    // The header Connection names comes last, past where Node stops collecting: cut, it would be forwarded while its name was lost.
    const raw = `GET /public/many HTTP/1.1\r\n${manyHeaders(2100)}X-Secret: s\r\nConnection: close, x-secret\r\n\r\n`;
    const { responses } = parseResponses(await rawExchange(wide.port, ca, web, raw));
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 431, { error: "headers_too_large" });
    expect(own.arrivals).toEqual([]);
  });

  test.for([101, 150])("a chunked request with %i trailer fields (over 100) gets 431 and never completes upstream; 100 do", async (count, { expect }) => {
    const trailers = (n: number) => Array.from({ length: n }, (_, i) => `T-${i}: v\r\n`).join("");
    const post = (path: string, n: number) => `POST ${path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n${trailers(n)}\r\n`;
    const over = parseResponses(await rawExchange(proxy.port, ca, web, post(`/public/trailers-${count}`, count)));
    expect(over.responses).toHaveLength(1);
    expectErrorResponse(over.responses[0], 431, { error: "headers_too_large" });
    const fits = parseResponses(await rawExchange(proxy.port, ca, web, post(`/public/trailers-fit-${count}`, 100)));
    expect(fits.responses.map((r) => r.status)).toEqual([200]);
    await expect.poll(() => upstreamOutcome.get(`/public/trailers-fit-${count}`)).toBe("complete");
    // Never sent, or cut before its last chunk: either way the upstream never saw it complete.
    expect([undefined, "aborted"]).toContain(upstreamOutcome.get(`/public/trailers-${count}`));
  });

  test("limits.maxHeaderCount is the configured bound: 5 fields pass, 6 get 431", async ({ expect }) => {
    const own = await startUpstream();
    const tight = await startProxy({ ca, acl: HOSTILE_ACL, upstream: own.url, limits: { maxHeaderCount: 5 } });
    const five = `GET /public/five HTTP/1.1\r\n${manyHeaders(4)}Connection: close\r\n\r\n`;
    const six = `GET /public/six HTTP/1.1\r\n${manyHeaders(5)}Connection: close\r\n\r\n`;
    expect(parseResponses(await rawExchange(tight.port, ca, web, five)).responses.map((r) => r.status)).toEqual([200]);
    expectErrorResponse(parseResponses(await rawExchange(tight.port, ca, web, six)).responses[0], 431, { error: "headers_too_large" });
    expect(own.arrivals).toEqual(["GET /public/five"]);
  });
});

describe.concurrent("adversarial limits: slow clients", () => {
  test("slowloris: headers dribbled a byte at a time past headersTimeout (500ms) are cut off with 408 within 3 s, never forwarded", async ({ expect }) => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    conn.markTime();
    const stop = dribble(conn, `GET /public/slowloris HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"s".repeat(500)}\r\n\r\n`);
    const elapsed = await conn.closed;
    stop();
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
    expect(elapsed).toBeLessThan(3000);
    const { responses } = parseResponses(conn.output());
    expect(responses, "the 408 must arrive before the close").toHaveLength(1);
    expectErrorResponse(responses[0], 408, { error: "request_timeout" });
    expect(upstream.arrivals).not.toContain("GET /public/slowloris");
  });

  test("slowloris on a keep-alive connection: the second request's headers are bounded too", async ({ expect }) => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(get("/public/first").replace("Connection: close\r\n", ""));
    await conn.waitFor(/^HTTP\/1\.1 200[\s\S]*\r\n\r\nok$/);
    conn.markTime();
    const stop = dribble(conn, `GET /public/second HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"s".repeat(500)}\r\n\r\n`);
    const elapsed = await conn.closed;
    stop();
    expect(elapsed).toBeLessThan(3000);
    expect(upstream.arrivals).not.toContain("GET /public/second");
  });

  test.each([
    ["sends nothing", Buffer.alloc(0)],
    ["sends half a TLS record header", Buffer.from([0x16, 0x03, 0x01])],
  ])("a TLS handshake that %s is cut off within 3 s (the handshake is bounded by headersTimeout)", async (_what, bytes) => {
    const started = Date.now();
    const socket = tcpConnect({ host: "127.0.0.1", port: proxy.port });
    socket.on("error", () => undefined);
    socket.on("connect", () => socket.write(bytes));
    const closedAfter = await Promise.race([
      new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started))),
      new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 5000)),
    ]);
    socket.destroy();
    expect(closedAfter).toBeLessThan(3000);
    // It is a refused handshake, not a bad HTTP request: no 400 was written into a half-open TLS stream.
    expect(proxy.logs.find({ event: "bad_request", detail: "ERR_TLS_HANDSHAKE_TIMEOUT" })).toEqual([]);
  });

  test("a body dribbled past requestTimeout (1.5s) is cut off within 4 s, and the upstream sees its request aborted", async ({ expect }) => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    conn.markTime();
    await conn.write("POST /public/slow-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n");
    const stop = dribble(conn, "x".repeat(100_000), 50);
    const elapsed = await conn.closed;
    stop();
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 50);
    expect(elapsed).toBeLessThan(4000);
    const { responses } = parseResponses(conn.output());
    expect(responses, "the 408 must arrive before the close").toHaveLength(1);
    expectErrorResponse(responses[0], 408, { error: "request_timeout" });
    await expect.poll(() => upstreamOutcome.get("/public/slow-body")).toBe("aborted");
  });

  test("a request timeout after the upstream's response has started never writes a second status line into that response", async ({ expect }) => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write("POST /public/early HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n");
    const stop = dribble(conn, "x".repeat(100_000), 50);
    await conn.waitFor(/\r\n\r\n5\r\nearly\r\n/);
    const elapsed = await conn.closed;
    stop();
    expect(elapsed).toBeLessThan(4000);
    const output = conn.output();
    expect(output.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200"]);
    // The client can tell the response was cut: the chunked body never ends.
    expect(parseResponses(output).responses[0]!.complete).toBe(false);
    await expect.poll(() => upstreamOutcome.get("/public/early")).toBe("aborted");
  });

  test("an idle keep-alive connection is closed after idleTimeout (300ms), within 3 s", async ({ expect }) => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(get("/public/idle").replace("Connection: close\r\n", ""));
    await conn.waitFor(/\r\n\r\nok$/);
    conn.markTime();
    const elapsed = await conn.closed;
    expect(elapsed).toBeGreaterThanOrEqual(IDLE_TIMEOUT - 50);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe.concurrent("adversarial limits: connections", () => {
  test("maxConnectionAge: the first response after the age carries Connection: close and the connection ends", async ({ expect }) => {
    const aged = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, limits: { maxConnectionAge: "1s", idleTimeout: "30s" } });
    const conn = await RawConnection.open(aged.port, ca, web);
    const request = get("/public/age").replace("Connection: close\r\n", "");
    await conn.write(request);
    await conn.waitFor(/\r\n\r\nok$/);
    expect(parseResponses(conn.output()).responses[0]!.headers.connection).toBe("keep-alive");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await conn.write(request);
    await conn.closed;
    const { responses } = parseResponses(conn.output());
    expect(responses.map((r) => [r.status, r.headers.connection])).toEqual([
      [200, "keep-alive"],
      [200, "close"],
    ]);
  });

  test("maxConnections (2): a third concurrent connection is refused and never served; a slot freed is usable again", async ({ expect }) => {
    const own = await startUpstream();
    const limited = await startProxy({ ca, acl: HOSTILE_ACL, upstream: own.url, limits: { maxConnections: 2, idleTimeout: "30s" } });
    const held = [await RawConnection.open(limited.port, ca, web), await RawConnection.open(limited.port, ca, web)];
    for (const conn of held) {
      await conn.write(get("/public/held").replace("Connection: close\r\n", ""));
      await conn.waitFor(/^HTTP\/1\.1 200/);
    }
    for (let i = 0; i < 3; i++) expect((await handshake(limited.port, ca, web)).served).toBe(false);
    expect(own.arrivals).toEqual(["GET /public/held", "GET /public/held"]);
    held[0]!.destroy();
    await held[0]!.closed;
    await expect.poll(async () => (await handshake(limited.port, ca, web)).served, { timeout: 5000 }).toBe(true);
  });

  test("connections that never start TLS cannot hold every maxConnections slot past the handshake timeout", async ({ expect }) => {
    const limited = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, limits: { maxConnections: 2, headersTimeout: `${HEADERS_TIMEOUT}ms` } });
    const silent = [0, 1].map(() => {
      const socket = tcpConnect({ host: "127.0.0.1", port: limited.port });
      socket.on("error", () => undefined);
      return socket;
    });
    await Promise.all(silent.map((socket) => new Promise((resolve) => socket.on("connect", resolve))));
    const started = Date.now();
    await expect.poll(async () => (await handshake(limited.port, ca, web)).served, { timeout: 5000, interval: 100 }).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    for (const socket of silent) socket.destroy();
  });
});

describe.concurrent("adversarial limits: upstream timeouts answer 504 JSON", () => {
  test("upstreamConnectTimeout (500ms): an upstream whose TCP connect never completes gives 504 upstream_timeout within 3 s", async ({ expect }) => {
    const blackhole = await startBlackholeUpstream();
    const stuck = await startProxy({ ca, acl: HOSTILE_ACL, upstream: blackhole.url, limits: { upstreamConnectTimeout: "500ms" } });
    const started = Date.now();
    const { responses } = parseResponses(await rawExchange(stuck.port, ca, web, get("/public/x"), 5000));
    expect(Date.now() - started).toBeLessThan(3000);
    expectErrorResponse(responses[0], 504, { error: "upstream_timeout", method: "GET", path: "/public/x" });
  });

  test("upstreamResponseTimeout (500ms): an upstream that sends no response headers gives 504 upstream_timeout within 3 s", async ({ expect }) => {
    const silent = await startUpstream();
    silent.respond(() => undefined);
    const waiting = await startProxy({ ca, acl: HOSTILE_ACL, upstream: silent.url, limits: { upstreamResponseTimeout: "500ms" } });
    const started = Date.now();
    const { responses } = parseResponses(await rawExchange(waiting.port, ca, web, get("/public/slow"), 5000));
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(3000);
    expectErrorResponse(responses[0], 504, { error: "upstream_timeout", method: "GET", path: "/public/slow" });
  });
});
