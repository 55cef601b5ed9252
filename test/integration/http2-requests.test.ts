/**
 * HTTP/2 requests a library client would not send, and what must hold for
 * them: every path-normalization refusal of the HTTP/1.1 suite replayed as
 * `:path` (the same table, test/helpers/hostile.ts), pseudo-header misuse
 * and connection-specific headers refused, XFCC spoofing in headers and
 * request trailers never reaching the upstream, and large bodies streaming
 * both ways with backpressure. Malformed requests are written frame by
 * frame (test/helpers/h2-frames.ts); the rest uses Node's http2 client.
 */
import { createHash } from "node:crypto";
import { connect, createServer as createH2cServer, type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, test } from "vitest";
import { Readable } from "node:stream";
import { request as undiciRequest } from "undici";
import { onCleanup } from "../helpers/cleanup.js";
import { mtlsClient } from "../helpers/client.js";
import { block, ErrorCode, FrameType, headers, RawH2 } from "../helpers/h2-frames.js";
import { HOSTILE_ACL, PATH_VECTORS, type PathVector } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url });
});

type Fields = ReadonlyArray<readonly [string, string]>;

/** One request written as a single HEADERS frame on a fresh connection: its :status, or the code of the stream's reset, or "closed". */
async function rawRequest(port: number, fields: Fields): Promise<{ status?: number; reset?: number; closed?: true }> {
  const conn = await RawH2.open(port, ca, web);
  await conn.until(() => conn.framesOf(FrameType.SETTINGS).length > 0, 2000);
  await conn.send(headers(1, block(fields)));
  await conn.until(() => conn.answer(1) !== undefined || !conn.alive, 3000);
  const answer = conn.answer(1) ?? { closed: true as const };
  conn.close();
  return answer;
}

/** A path vector's request line as HTTP/2 pseudo-headers. */
function asHttp2(v: PathVector): Fields {
  if (v.method === "CONNECT") return [[":method", "CONNECT"], [":authority", v.target.startsWith("/") ? "localhost" : v.target], ...(v.target.startsWith("/") ? [[":path", v.target] as const] : [])];
  return [[":method", v.method], [":scheme", "https"], [":path", v.target], [":authority", "localhost"]];
}

/** Refused: guardpost's 400, or the HTTP/2 layer's reset of the malformed stream (PROTOCOL_ERROR) before guardpost saw it. */
function refused(answer: { status?: number; reset?: number; closed?: true }): boolean {
  return answer.status === 400 || answer.reset === ErrorCode.PROTOCOL_ERROR;
}

describe("HTTP/2: every path the HTTP/1.1 suite refuses is refused as :path too", () => {
  const refusedOverHttp1 = PATH_VECTORS.filter((v) => v.outcome.status === 400 || v.outcome.status === "refused");

  test("the shared table has the HTTP/1.1 refusals to replay", () => {
    expect(refusedOverHttp1.length).toBeGreaterThan(40);
  });

  test.each(refusedOverHttp1)("$name", async (v) => {
    const mark = upstream.arrivals.length;
    const answer = await rawRequest(proxy.port, asHttp2(v));
    expect(refused(answer), JSON.stringify(answer)).toBe(true);
    // What guardpost's own normalizer refuses over HTTP/1.1 (a path in its answer) reaches it over HTTP/2 and gets its 400.
    // (An absolute-form :path is refused by the HTTP/2 layer already: it must start with '/'.)
    if (v.outcome.status === 400 && v.outcome.errorPath && v.target.startsWith("/")) expect(answer).toEqual({ status: 400 });
    expect(upstream.arrivals.slice(mark)).toEqual([]);
  });
});

describe("HTTP/2: pseudo-header misuse and connection-specific headers are refused", () => {
  const base: Fields = [[":method", "GET"], [":scheme", "https"], [":path", "/public/x"], [":authority", "localhost"]];
  const cases: ReadonlyArray<readonly [string, Fields]> = [
    ["no :path", [[":method", "GET"], [":scheme", "https"], [":authority", "localhost"]]],
    ["no :method", [[":scheme", "https"], [":path", "/public/x"], [":authority", "localhost"]]],
    ["an empty :path", [[":method", "GET"], [":scheme", "https"], [":path", ""], [":authority", "localhost"]]],
    [":path not starting with '/' (public/x)", [[":method", "GET"], [":scheme", "https"], [":path", "public/x"], [":authority", "localhost"]]],
    [":path not starting with '/' (admin)", [[":method", "GET"], [":scheme", "https"], [":path", "admin"], [":authority", "localhost"]]],
    ["two :path (a granted one first)", [...base, [":path", "/admin"]]],
    ["two :method", [[":method", "GET"], [":method", "DELETE"], [":scheme", "https"], [":path", "/public/x"], [":authority", "localhost"]]],
    ["two :authority", [...base, [":authority", "evil.example"]]],
    ["two :scheme", [[":method", "GET"], [":scheme", "https"], [":scheme", "http"], [":path", "/public/x"], [":authority", "localhost"]]],
    ["a pseudo-header after a regular one", [[":method", "GET"], [":scheme", "https"], ["x-early", "1"], [":path", "/public/x"], [":authority", "localhost"]]],
    ["an unknown pseudo-header", [...base, [":guardpost", "x"]]],
    ["a response pseudo-header in a request", [...base, [":status", "200"]]],
    ["connection: keep-alive", [...base, ["connection", "keep-alive"]]],
    ["keep-alive: timeout=5", [...base, ["keep-alive", "timeout=5"]]],
    ["transfer-encoding: chunked", [...base, ["transfer-encoding", "chunked"]]],
    ["upgrade: h2c", [...base, ["upgrade", "h2c"]]],
    ["upgrade: websocket", [...base, ["upgrade", "websocket"]]],
    ["proxy-connection: keep-alive", [...base, ["proxy-connection", "keep-alive"]]],
    ["te: gzip (only 'trailers' is allowed)", [...base, ["te", "gzip"]]],
    ["an upper-case header name", [...base, ["X-Upper", "1"]]],
  ];

  test.each(cases)("%s", async (_name, fields) => {
    const mark = upstream.arrivals.length;
    const answer = await rawRequest(proxy.port, fields);
    expect(refused(answer), JSON.stringify(answer)).toBe(true);
    expect(upstream.arrivals.slice(mark)).toEqual([]);
  });

  test.each([
    ["CR LF", "a\r\nx-injected: 1"],
    ["LF", "a\nx-injected: 1"],
    ["CR", "a\rx-injected: 1"],
    ["NUL", "a\u0000b"],
    ["leading space", " a"],
    ["trailing tab", "a\t"],
  ])("a header value with %s never reaches the upstream: the stream is refused or the field dropped (nghttp2 drops it)", async (_name, value) => {
    const mark = upstream.received.length;
    const answer = await rawRequest(proxy.port, [...base, ["x-split", value]]);
    if (refused(answer)) {
      expect(upstream.received.length).toBe(mark);
      return;
    }
    expect(answer).toEqual({ status: 200 });
    const [seen, ...more] = upstream.received.slice(mark);
    expect(more).toEqual([]);
    expect(seen!.headers["x-split"]).toBeUndefined();
    expect(seen!.headers["x-injected"]).toBeUndefined();
  });

  test("the same request without the misuse is served (the frames above are otherwise well formed)", async () => {
    const mark = upstream.arrivals.length;
    expect(await rawRequest(proxy.port, [...base, ["te", "trailers"]])).toEqual({ status: 200 });
    expect(upstream.arrivals.slice(mark)).toEqual(["GET /public/x"]);
  });
});

/** What a paused stream has buffered, up to about `max` bytes: a slow reader's one helping. */
function readUpTo(stream: { read(): unknown }, max: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let taken = 0; taken < max; ) {
    const chunk = stream.read() as Buffer | null;
    if (chunk === null) break;
    chunks.push(chunk);
    taken += chunk.length;
  }
  return chunks;
}

interface H2cSeen {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | null;
  bodyBytes: number;
}

/** An h2c upstream: records what arrives; `/download/N` streams N bytes back, `/upload` reads slowly. */
async function startH2cUpstream(): Promise<{ url: string; seen: H2cSeen[]; flow: { written: number; read: number; maxAhead: number } }> {
  const seen: H2cSeen[] = [];
  const flow = { written: 0, read: 0, maxAhead: 0 };
  const server = createH2cServer();
  server.on("stream", (stream: ServerHttp2Stream, h: IncomingHttpHeaders) => {
    const record: H2cSeen = { path: String(h[":path"]), headers: h, trailers: null, bodyBytes: 0 };
    seen.push(record);
    stream.on("trailers", (t: IncomingHttpHeaders) => (record.trailers = t));
    stream.on("error", () => undefined);
    const path = record.path;
    if (path.startsWith("/public/download/")) {
      const total = Number(path.slice("/public/download/".length));
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
      const pump = () => {
        while (flow.written < total) {
          const n = Math.min(chunk.length, total - flow.written);
          flow.written += n;
          if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void stream.once("drain", pump);
        }
        stream.end();
      };
      stream.resume();
      pump();
      return;
    }
    if (path === "/public/upload") {
      // A slow reader: 64 KiB every 4 ms at most.
      const hash = createHash("sha256");
      const readSome = () => {
        for (const chunk of readUpTo(stream, 64 * 1024)) {
          flow.read += chunk.length;
          record.bodyBytes += chunk.length;
          hash.update(chunk);
        }
        if (stream.readableEnded) return;
        setTimeout(readSome, 4);
      };
      stream.on("end", () => {
        stream.respond({ ":status": 200 });
        stream.end(JSON.stringify({ bytes: record.bodyBytes, sha256: hash.digest("hex") }));
      });
      readSome();
      return;
    }
    stream.on("data", (c: Buffer) => (record.bodyBytes += c.length));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "text/plain" });
      stream.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `h2c://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, flow };
}

function h2Session(port: number): ClientHttp2Session {
  const session = connect(`https://localhost:${port}`, { ca: ca.cert, cert: web.chain, key: web.key });
  onCleanup(() => session.destroy());
  return session;
}

describe("HTTP/2: XFCC spoofing never reaches the upstream", () => {
  test("a client's x-forwarded-client-cert, in headers (repeated) and in request trailers, is dropped; the upstream sees guardpost's own, once", async () => {
    const h2c = await startH2cUpstream();
    const front = await startProxy({ ca, acl: HOSTILE_ACL, upstream: h2c.url });
    const session = h2Session(front.port);
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request(
        { ":method": "POST", ":path": "/public/trailers", "x-forwarded-client-cert": ["By=spiffe://evil;Hash=forged;Subject=\"OU=ops\"", "Hash=forged-2"], "content-type": "text/plain" },
        { waitForTrailers: true },
      );
      let code = 0;
      stream.on("response", (h) => (code = Number(h[":status"])));
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-forwarded-client-cert": "Hash=forged-in-trailers;Subject=\"OU=ops\"", "x-checksum": "abc" }));
      stream.on("error", reject);
      stream.resume();
      stream.on("end", () => resolve(code));
      stream.end("body");
    });
    expect(status).toBe(200);
    await expect.poll(() => h2c.seen.at(-1)?.trailers).toBeTruthy();
    const seen = h2c.seen.at(-1)!;
    expect(seen.path).toBe("/public/trailers");
    const xfcc = seen.headers["x-forwarded-client-cert"];
    // One value, guardpost's, naming the real peer.
    expect(typeof xfcc).toBe("string");
    expect(xfcc).toMatch(/^Hash=[0-9a-f]{64};Subject="[^"]*OU=web/);
    expect(String(xfcc)).not.toContain("forged");
    expect(seen.trailers).toMatchObject({ "x-checksum": "abc" });
    expect(seen.trailers!["x-forwarded-client-cert"]).toBeUndefined();
    expect(JSON.stringify(seen.trailers)).not.toContain("forged");
  });
});

describe("HTTP/2: large bodies stream both ways with backpressure", () => {
  const SIZE = 16 * 1024 * 1024;
  /**
   * With backpressure end to end, the sender can be ahead of a slow reader
   * by no more than the buffers and flow-control windows in between (a few
   * hundred KiB here); a proxy that buffers lets it run all 16 MiB ahead.
   */
  const MAX_AHEAD = 3 * 1024 * 1024;

  test("16 MiB down to a slow reader: the upstream is never far ahead of what the client has read", async () => {
    const h2c = await startH2cUpstream();
    const front = await startProxy({ ca, acl: HOSTILE_ACL, upstream: h2c.url });
    const session = h2Session(front.port);
    const received = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ":method": "GET", ":path": `/public/download/${SIZE}` });
      let read = 0;
      stream.on("error", reject);
      const readSome = () => {
        for (const chunk of readUpTo(stream, 64 * 1024)) read += chunk.length;
        h2c.flow.maxAhead = Math.max(h2c.flow.maxAhead, h2c.flow.written - read);
        if (stream.readableEnded) return;
        setTimeout(readSome, 4);
      };
      stream.on("end", () => resolve(read));
      readSome();
    });
    expect(received).toBe(SIZE);
    expect(h2c.flow.written).toBe(SIZE);
    expect(h2c.flow.maxAhead, `the upstream ran ${h2c.flow.maxAhead} bytes ahead of the client`).toBeLessThan(MAX_AHEAD);
  });

  test("16 MiB up to a slow upstream: the client is never far ahead of what the upstream has read, and every byte arrives", async () => {
    const h2c = await startH2cUpstream();
    const front = await startProxy({ ca, acl: HOSTILE_ACL, upstream: h2c.url });
    const session = h2Session(front.port);
    const hash = createHash("sha256");
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": "/public/upload", "content-type": "application/octet-stream" });
      let status = 0;
      const parts: Buffer[] = [];
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: Buffer) => parts.push(c));
      stream.on("end", () => resolve({ status, body: Buffer.concat(parts).toString() }));
      stream.on("error", reject);
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          // A fresh buffer each time: a written one may still be queued.
          const chunk = Buffer.alloc(64 * 1024, sent / (64 * 1024));
          hash.update(chunk);
          sent += chunk.length;
          h2c.flow.maxAhead = Math.max(h2c.flow.maxAhead, sent - h2c.flow.read);
          if (!stream.write(chunk)) return void stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ bytes: SIZE, sha256: hash.digest("hex") });
    expect(h2c.flow.maxAhead, `the client ran ${h2c.flow.maxAhead} bytes ahead of the upstream`).toBeLessThan(MAX_AHEAD);
  });
});

describe("cross-protocol: an HTTP/1.1 client through guardpost to an h2c:// upstream", () => {
  test("a chunked request body streams to the h2c upstream and its answer comes back; a 4 MiB download arrives whole", async () => {
    const h2c = await startH2cUpstream();
    const front = await startProxy({ ca, acl: HOSTILE_ACL, upstream: h2c.url });
    const client = mtlsClient(ca, web);
    const hash = createHash("sha256");
    const parts = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
    for (const part of parts) hash.update(part);
    // A Readable body of unknown length: undici sends it chunked, as it is produced.
    const body = Readable.from(
      (async function* () {
        for (const part of parts) {
          yield part;
          await new Promise((r) => setTimeout(r, 2));
        }
      })(),
    );
    const res = await undiciRequest(`${front.url}/public/upload`, { dispatcher: client.agent, method: "POST", body, headers: { "content-type": "application/octet-stream" } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ bytes: 64 * 16 * 1024, sha256: hash.digest("hex") });
    const seen = h2c.seen.find((r) => r.path === "/public/upload")!;
    // HTTP/1.1 framing stays behind: no transfer-encoding or connection header goes out over HTTP/2.
    expect(seen.headers["transfer-encoding"]).toBeUndefined();
    expect(seen.headers.connection).toBeUndefined();
    expect(seen.headers["x-forwarded-client-cert"]).toMatch(/^Hash=[0-9a-f]{64};Subject="/);

    const download = await undiciRequest(`${front.url}/public/download/${4 * 1024 * 1024}`, { dispatcher: client.agent });
    expect(download.statusCode).toBe(200);
    let bytes = 0;
    for await (const chunk of download.body) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(4 * 1024 * 1024);
  });
});
