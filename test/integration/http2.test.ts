/**
 * HTTP/2 on the inbound listener, beside HTTP/1.1 on the same port: every
 * stream goes through the same pipeline as an HTTP/1.1 request (identity,
 * normalization, ACL, forwarded headers, metrics, access line), with real
 * clients: Node's http2 and curl --http2.
 */
import { execFile } from "node:child_process";
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import { mtlsClient } from "../helpers/client.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const run = promisify(execFile);

const ACL = `
version: 1
paths:
  /user/{id}:
    GET: [OU=web]
    POST: [OU=web]
  /admin/**:
    "*": [OU=ops]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
});

function h2(cert: IssuedCertificate = web): ClientHttp2Session {
  const session = connect(`https://localhost:${proxy.port}`, { ca: ca.cert, cert: cert.chain, key: cert.key });
  onCleanup(() => session.destroy());
  return session;
}

async function request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      head = h;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve({ headers: head, body: Buffer.concat(chunks).toString() }));
    stream.on("error", reject);
    if (body !== undefined) stream.end(body);
  });
}

describe("inbound HTTP/2", () => {
  test("ALPN offers h2 and http/1.1 on the same port: an h2 client gets HTTP/2, an HTTP/1.1 client HTTP/1.1", async () => {
    const session = h2();
    await new Promise((resolve) => session.once("connect", resolve));
    expect(session.alpnProtocol).toBe("h2");
    expect((await mtlsClient(ca, web).request(`${proxy.url}/user/1`)).status).toBe(200);
  });

  test("an allowed stream is forwarded with the normalized path, the caller's identity and forwarded headers; client XFCC is dropped", async () => {
    const mark = upstream.received.length;
    const res = await request(h2(), { ":method": "GET", ":path": "/user/./7?x=1", "x-forwarded-client-cert": "Hash=forged", "x-request-id": "h2-req-1" });
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["x-request-id"]).toBe("h2-req-1");
    const seen = upstream.received[mark]!;
    expect(seen.url).toBe("/user/7?x=1");
    expect(seen.headers.host).toBe(`localhost:${proxy.port}`);
    expect(seen.headers["x-forwarded-client-cert"]).toMatch(/^Hash=[0-9a-f]{64};Subject="/);
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    expect(seen.headers["x-request-id"]).toBe("h2-req-1");
    expect(proxy.logs.find({ msg: "request", protocol: "h2", requestId: "h2-req-1", decision: "allow" })).toHaveLength(1);
  });

  test("a denied stream gets guardpost's 403 JSON and never reaches the upstream", async () => {
    const mark = upstream.received.length;
    const res = await request(h2(), { ":method": "DELETE", ":path": "/admin/users" });
    expect(res.headers[":status"]).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: "forbidden", method: "DELETE", path: "/admin/users" });
    expect(upstream.received.length).toBe(mark);
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { protocol: "h2", decision: "deny", code: "403" })).toBeGreaterThan(0);
  });

  test("a path the upstream could read differently is refused with 400, as over HTTP/1.1", async () => {
    const mark = upstream.received.length;
    for (const path of ["/user%2F..%2Fadmin", "/user/..%5Cadmin", "/../admin", "/user/%252e"]) {
      const res = await request(h2(), { ":method": "GET", ":path": path });
      expect([path, res.headers[":status"]]).toEqual([path, 400]);
      expect(JSON.parse(res.body)).toMatchObject({ error: "bad_request" });
    }
    expect(upstream.received.length).toBe(mark);
  });

  test("a request body streams to the upstream; :authority and a different Host are refused", async () => {
    const mark = upstream.received.length;
    const body = Buffer.alloc(256 * 1024, 7);
    const res = await request(h2(), { ":method": "POST", ":path": "/user/9", "content-type": "application/octet-stream" }, body);
    expect(res.headers[":status"]).toBe(200);
    expect(upstream.received[mark]!.body.equals(body)).toBe(true);
    const clash = await request(h2(), { ":method": "GET", ":path": "/user/9", ":authority": `localhost:${proxy.port}`, host: "elsewhere.example" });
    expect(clash.headers[":status"]).toBe(400);
    expect(JSON.parse(clash.body)).toMatchObject({ error: "bad_request", reason: ":authority and Host differ" });
  });

  test("a request body that stops arriving gets 408 after requestTimeout, and its upstream request is cancelled", async () => {
    const slow = await startProxy({ ca, acl: ACL, upstream: upstream.url, limits: { headersTimeout: "500ms", requestTimeout: "1s" } });
    const session = connect(`https://localhost:${slow.port}`, { ca: ca.cert, cert: web.chain, key: web.key });
    onCleanup(() => session.destroy());
    const started = Date.now();
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": "/user/1", "content-type": "text/plain" }, { endStream: false });
      stream.write("the start of a body that never ends");
      const chunks: Buffer[] = [];
      let status = 0;
      stream.on("response", (h) => {
        status = Number(h[":status"]);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      stream.on("error", reject);
    });
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "request_timeout", path: "/user/1" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test("curl --http2 speaks HTTP/2 to guardpost with a client certificate", async () => {
    const dir = tempDir();
    const files = writeFiles(dir, { "ca.crt": ca.cert, "web.crt": web.chain, "web.key": web.key });
    const { stdout } = await run("curl", ["-sS", "--http2", "--cacert", files["ca.crt"], "--cert", files["web.crt"], "--key", files["web.key"], "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://localhost:${proxy.port}/user/3`]);
    expect(stdout).toBe("2 200");
    const denied = await run("curl", ["-sS", "--http2", "--cacert", files["ca.crt"], "--cert", files["web.crt"], "--key", files["web.key"], "-w", " %{http_version} %{http_code}", `https://localhost:${proxy.port}/admin`]);
    expect(denied.stdout).toMatch(/"error":"forbidden".* 2 403$/);
  });

  test("a stream with more header fields than limits.maxHeaderCount (100) gets 431 and never reaches the upstream; 100 pass", async () => {
    const session = h2();
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h-${i}`, "v"]));
    const over = await request(session, { ":method": "GET", ":path": "/user/101", ...fields(101) });
    expect(over.headers[":status"]).toBe(431);
    expect(JSON.parse(over.body)).toMatchObject({ error: "headers_too_large" });
    expect(upstream.arrivals).not.toContain("GET /user/101");
    const fits = await request(session, { ":method": "GET", ":path": "/user/100", ...fields(100) });
    expect(fits.headers[":status"]).toBe(200);
  });

  test("a stream with more trailer fields than limits.maxHeaderCount gets 431 and its request never completes upstream", async () => {
    const session = h2();
    const mark = upstream.received.length;
    const answer = await new Promise<{ status: unknown; body: string }>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": "/user/trailers" }, { waitForTrailers: true });
      const chunks: Buffer[] = [];
      let status: unknown;
      stream.on("response", (h) => (status = h[":status"]));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("close", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
      stream.on("error", reject);
      stream.on("wantTrailers", () => stream.sendTrailers(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`t-${i}`, "v"]))));
      stream.end("hello");
    });
    expect(answer.status).toBe(431);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "headers_too_large" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.received.slice(mark).map((r) => r.url)).not.toContain("/user/trailers");
  });
});
