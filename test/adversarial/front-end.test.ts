/**
 * The request front end under attack, over raw sockets: framing that only
 * HTTP/1.1 may use, answers that must stay in request order, answers that
 * must survive the close that follows them, and the drain.
 *
 * - HTTP/1.0 has no chunked framing (RFC 9112 section 6.1: a
 *   Transfer-Encoding in a 1.0 message is faulty framing; close after it),
 *   and an HTTP/0.9 request line has no version and no headers: both are
 *   refused with 400 and nothing is forwarded.
 * - A parse error on a connection never replaces the answer to a request
 *   before it that the upstream already executed (RFC 9112 section 9.3.2,
 *   responses in request order; section 9.6, answer the `close` request and
 *   process nothing more): a client that sees a 400 in place of its POST's
 *   200 would send the POST again.
 * - An early answer (400, 408, 431, 403 to a request whose body is still
 *   coming) is followed by a staged close (RFC 9112 section 9.6, nginx's
 *   lingering close): closing with request bytes unread makes the kernel
 *   send a reset, and the reset wipes the answer from the client's buffer
 *   before it is read.
 * - During a drain every connection ends with an answer that says
 *   `Connection: close`, including one already in flight when the drain
 *   began. With requests pipelined, it is the last answer owed that says it:
 *   an earlier one would end the connection before the answers behind it.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, test } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import { HOSTILE_ACL } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { issueServerCert, startProxy, type TestProxy } from "../helpers/proxy.js";
import { RawConnection, rawExchange } from "../helpers/raw-connection.js";
import { startUpstream, type RecordingUpstream, type UpstreamHandler } from "../helpers/upstream.js";
import { expectErrorResponse, parseResponses, type WireResponse } from "../helpers/wire.js";

const HOST = "Host: localhost\r\n";
const HEADERS_TIMEOUT_MS = 800;
/** How long the upstream takes over `/public/slow*` paths: long enough for bytes sent behind a request to arrive first. */
const SLOW_MS = 400;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: TestProxy;

/** Answers `done <url>` (after SLOW_MS for /public/slow*), once the request body is in. */
const answering: UpstreamHandler = (req, res, body) => {
  const reply = () => {
    const text = `done ${req.url!} ${body.length}`;
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.url!.startsWith("/public/slow")) setTimeout(reply, SLOW_MS);
  else reply();
};

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
  upstream.respond(answering);
  proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, limits: { headersTimeout: `${HEADERS_TIMEOUT_MS}ms`, requestTimeout: "5s" } });
});

/** What the upstream saw from `mark` on: heads that arrived, and requests that completed. */
function upstreamSince(mark: { arrivals: number; received: number }) {
  return { arrivals: upstream.arrivals.slice(mark.arrivals), completed: upstream.received.slice(mark.received).map((r) => `${r.method} ${r.url}`) };
}

function markUpstream() {
  return { arrivals: upstream.arrivals.length, received: upstream.received.length };
}

async function exchange(raw: string) {
  const mark = markUpstream();
  const { responses, trailing } = parseResponses(await rawExchange(proxy.port, ca, web, raw, 5000));
  return { responses, trailing, ...upstreamSince(mark) };
}

describe("adversarial front end: framing only HTTP/1.1 has", () => {
  test("HTTP/1.0 with Transfer-Encoding: chunked and keep-alive, then a second request: one 400, the connection closed, nothing forwarded", async () => {
    const { responses, trailing, arrivals } = await exchange(
      `POST /public/te10 HTTP/1.0\r\n${HOST}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n` +
        `GET /public/after-te10 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
    );
    expect(arrivals).toEqual([]);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 400, { error: "bad_request" });
    expect(responses[0]!.headers.connection).toBe("close");
    expect(trailing).toBe("");
  });

  test("HTTP/1.0 with Transfer-Encoding: chunked alone is refused with 400 and not forwarded", async () => {
    const { responses, arrivals } = await exchange(`POST /public/te10-alone HTTP/1.0\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(arrivals).toEqual([]);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 400, { error: "bad_request" });
  });

  test("HTTP/1.0 with Content-Length is served: the refusal is about chunked framing only", async () => {
    const { responses, completed } = await exchange(`POST /public/cl10 HTTP/1.0\r\n${HOST}Content-Length: 5\r\n\r\nhello`);
    expect(responses.map((r) => [r.status, r.body])).toEqual([[200, "done /public/cl10 5"]]);
    expect(completed).toEqual(["POST /public/cl10"]);
  });

  test.each([
    ["GET /public/nine\r\n\r\n", "a request line and an empty line"],
    [`GET /public/nine-headers\r\n${HOST}X-A: 1\r\n\r\n`, "a request line without a version, then headers"],
  ])("an HTTP/0.9 request (%j, %s) is refused with 400 and never forwarded", async (raw) => {
    const { responses, arrivals } = await exchange(raw);
    expect(arrivals).toEqual([]);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 400, { error: "bad_request" });
  });

  test("a bare HTTP/0.9 request line is never forwarded: its headers never end, so it gets 408 at headersTimeout", async () => {
    const { responses, arrivals } = await exchange("GET /public/nine-bare\r\n");
    expect(arrivals).toEqual([]);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 408, { error: "request_timeout" });
  });
});

describe("adversarial front end: a parse error never replaces an earlier answer", () => {
  test("POST with Content-Length: 5, then GARBAGE on the same connection: the POST's 200 comes first, then at most a 400", async () => {
    const { responses, completed } = await exchange(`POST /public/slow-then-garbage HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\nhelloGARBAGE\r\n\r\n`);
    // The upstream ran the POST, so its answer must reach the client.
    expect(completed).toEqual(["POST /public/slow-then-garbage"]);
    expect(responses.map((r) => r.status)[0]).toBe(200);
    expect(responses[0]!.body).toBe("done /public/slow-then-garbage 5");
    expect(responses.length).toBeLessThanOrEqual(2);
    if (responses.length === 2) expectErrorResponse(responses[1], 400, { error: "bad_request" });
  });

  test("POST with Connection: close, then another request: the client gets the POST's 200 and nothing else; the second is never forwarded", async () => {
    const { responses, arrivals, completed } = await exchange(
      `POST /public/slow-then-close HTTP/1.1\r\n${HOST}Connection: close\r\nContent-Length: 5\r\n\r\nhello` + `GET /public/after-close HTTP/1.1\r\n${HOST}\r\n`,
    );
    expect(completed).toEqual(["POST /public/slow-then-close"]);
    expect(arrivals).toEqual(["POST /public/slow-then-close"]);
    expect(responses.map((r) => [r.status, r.body])).toEqual([[200, "done /public/slow-then-close 5"]]);
  });

  test("a pipelined GET, then bytes that are not HTTP: the GET's answer comes first", async () => {
    const { responses, completed } = await exchange(`GET /public/slow-pipelined HTTP/1.1\r\n${HOST}\r\n\u0000\u0001\u0002 not http\r\n\r\n`);
    expect(completed).toEqual(["GET /public/slow-pipelined"]);
    expect(responses[0]?.status).toBe(200);
    expect(responses.slice(1).every((r) => r.status === 400)).toBe(true);
  });
});

/** 64 KiB of filler a client keeps sending behind a request that is answered early. */
const FILLER = Buffer.alloc(64 * 1024, 0x78);

/**
 * Opens a connection, writes `head`, then keeps writing (`more`, or filler)
 * until the server closes or `maxBytes` went out, as a client still sending
 * its request does; returns the first response (null if none was read) and
 * whether the connection was reset.
 */
async function answeredWhileSending(head: string, options: { more?: () => Buffer; everyMs?: number; maxBytes?: number } = {}): Promise<{ response: WireResponse | null; reset: boolean }> {
  const conn = await RawConnection.open(proxy.port, ca, web);
  await conn.write(head);
  const maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
  for (let sent = 0; !conn.isClosed() && sent < maxBytes; ) {
    const chunk = options.more?.() ?? FILLER;
    await conn.write(chunk);
    sent += chunk.length;
    if (options.everyMs) await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
  // The server closes, or (a 403 whose body it reads on) answers and keeps the connection.
  await Promise.race([conn.closed, conn.waitFor(/\r\n\r\n\{[\s\S]*\}$/, 5000).catch(() => undefined)]);
  conn.destroy();
  await conn.closed;
  return { response: parseResponses(conn.output()).responses[0] ?? null, reset: conn.error?.code === "ECONNRESET" };
}

describe("adversarial front end: early answers survive the close (lingering close)", () => {
  test("50 fresh connections, each sending a 70 KB header in 4 KB writes: every one reads a complete 431", async () => {
    const lost: string[] = [];
    const head = Buffer.from(`GET /public/huge HTTP/1.1\r\n${HOST}X-Huge: ${"h".repeat(70 * 1024)}\r\n\r\n`, "latin1");
    for (let i = 0; i < 50; i++) {
      const conn = await RawConnection.open(proxy.port, ca, web);
      for (let at = 0; at < head.length && !conn.isClosed(); at += 4096) await conn.write(head.subarray(at, at + 4096));
      await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
      conn.destroy();
      const response = parseResponses(conn.output()).responses[0];
      if (response?.status !== 431 || !response.complete) lost.push(`#${i}: ${response ? `${response.status}${response.complete ? "" : " (incomplete)"}` : "nothing"}${conn.error ? ` (${conn.error.code})` : ""}`);
    }
    expect(lost).toEqual([]);
    expect(upstream.arrivals).not.toContain("GET /public/huge");
  });

  test.each([
    ["400 (a malformed header line)", `GET /public/bad-line HTTP/1.1\r\n${HOST}Bad Header Line\r\n\r\n`, 400, "bad_request"],
    ["431 (headers past maxHeaderSize)", `GET /public/too-big HTTP/1.1\r\n${HOST}X-Big: ${"b".repeat(20 * 1024)}`, 431, "headers_too_large"],
    ["403 (a denied POST whose 8 MiB body is still coming)", `POST /admin/upload HTTP/1.1\r\n${HOST}Content-Length: ${8 * 1024 * 1024}\r\n\r\n`, 403, "forbidden"],
  ])("%s: the client that keeps sending reads the complete answer, 8 times out of 8", async (_what, head, status, error) => {
    const lost: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { response, reset } = await answeredWhileSending(head);
      if (response?.status !== status || !response.complete) lost.push(`#${i}: ${response ? response.status : "nothing"}${reset ? " (reset)" : ""}`);
      else expectErrorResponse(response, status, { error });
    }
    expect(lost).toEqual([]);
    expect(upstream.arrivals.filter((line) => line.includes("/admin/") || line.includes("bad-line") || line.includes("too-big"))).toEqual([]);
  });

  test("408 (headers still dribbling in at headersTimeout): the client that keeps sending reads the complete 408, 4 times out of 4", async () => {
    const lost: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { response, reset } = await answeredWhileSending(`GET /public/dribble HTTP/1.1\r\n${HOST}X-Slow: `, { more: () => Buffer.from("s".repeat(64)), everyMs: 20, maxBytes: 12 * 1024 });
      if (response?.status !== 408 || !response.complete) lost.push(`#${i}: ${response ? response.status : "nothing"}${reset ? " (reset)" : ""}`);
      else expectErrorResponse(response, 408, { error: "request_timeout" });
    }
    expect(lost).toEqual([]);
    expect(upstream.arrivals).not.toContain("GET /public/dribble");
  });
});

/** A real mTLS service for an outbound listener, answering after SLOW_MS. */
async function startSlowMtlsServer(): Promise<{ server: Server; port: number; arrivals: string[] }> {
  const cert = await issueServerCert(ca);
  const arrivals: string[] = [];
  const server = createServer({ cert: cert.chain, key: cert.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    arrivals.push(`${req.method!} ${req.url!}`);
    req.resume();
    req.on("end", () => setTimeout(() => res.end(`done ${req.url!}`), SLOW_MS));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onCleanup(() => server.close());
  return { server, port: (server.address() as AddressInfo).port, arrivals };
}

describe("adversarial front end: during a drain every response says Connection: close", () => {
  test("inbound: a response in flight when the drain begins says Connection: close, and the connection ends after it", async () => {
    const draining = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, drainTimeout: "5s" });
    const conn = await RawConnection.open(draining.port, ca, web);
    const mark = markUpstream();
    await conn.write(`GET /public/slow-drain HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => upstream.arrivals.slice(mark.arrivals)).toContain("GET /public/slow-drain");
    const drained = draining.guardpost.drain();
    const first = await conn.read(5000);
    expect([first?.status, first?.body, first?.headers.connection]).toEqual([200, "done /public/slow-drain 0", "close"]);
    expect(await conn.read(5000)).toBeNull();
    await drained;
  });

  test("inbound: two pipelined requests in flight when the drain begins are both answered; the last says Connection: close", async () => {
    const draining = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, drainTimeout: "5s" });
    const conn = await RawConnection.open(draining.port, ca, web);
    const mark = markUpstream();
    await conn.write(`GET /public/slow-drain-1 HTTP/1.1\r\n${HOST}\r\nGET /public/slow-drain-2 HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => upstream.arrivals.slice(mark.arrivals)).toEqual(["GET /public/slow-drain-1", "GET /public/slow-drain-2"]);
    const drained = draining.guardpost.drain();
    const first = await conn.read(5000);
    const second = await conn.read(5000);
    expect([first?.status, first?.body]).toEqual([200, "done /public/slow-drain-1 0"]);
    expect([second?.status, second?.body, second?.headers.connection]).toEqual([200, "done /public/slow-drain-2 0", "close"]);
    expect(await conn.read(5000)).toBeNull();
    await drained;
  });

  test("inbound: a request arriving on a busy connection during the drain is answered, and its answer says Connection: close", async () => {
    const draining = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url, drainTimeout: "5s" });
    const conn = await RawConnection.open(draining.port, ca, web);
    const mark = markUpstream();
    await conn.write(`GET /public/slow-busy HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => upstream.arrivals.slice(mark.arrivals)).toContain("GET /public/slow-busy");
    const drained = draining.guardpost.drain();
    await conn.write(`GET /admin/during-drain HTTP/1.1\r\n${HOST}\r\n`);
    const first = await conn.read(5000);
    const second = await conn.read(5000);
    expect(first?.status).toBe(200);
    expectErrorResponse(second ?? undefined, 403, { error: "forbidden", path: "/admin/during-drain" });
    expect(second?.headers.connection).toBe("close");
    expect(await conn.read(5000)).toBeNull();
    await drained;
  });

  test("outbound: a response in flight when the drain begins says Connection: close", async () => {
    const service = await startSlowMtlsServer();
    const draining = await startProxy({
      ca,
      acl: HOSTILE_ACL,
      upstream: upstream.url,
      drainTimeout: "5s",
      extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${service.port}`, serverName: "localhost" }] },
    });
    const port = [...draining.guardpost.addresses.outbound.values()][0]!.port;
    const conn = await RawConnection.openPlain(port);
    await conn.write(`GET /slow-drain HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await expect.poll(() => service.arrivals).toContain("GET /slow-drain");
    const drained = draining.guardpost.drain();
    const first = await conn.read(5000);
    expect(first?.status).toBe(200);
    expect(first?.headers.connection).toBe("close");
    await drained;
  });
});
