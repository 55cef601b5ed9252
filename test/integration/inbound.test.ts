import { createHash, X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { rawExchange, rawStatus } from "../helpers/raw-connection.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { parseXfcc } from "../helpers/xfcc.js";

const ACL = `
version: 1
groups:
  frontends: [OU=web, OU=fulfillment]
paths:
  /user:
    GET: ["@frontends", OU=payments]
    DELETE: [OU=web]
  /user/{id}:
    GET: [OU=web, {OU: payments, CN: "api-*"}]
  /static/**:
    GET: ["*"]
  /upload:
    POST: [OU=web]
`;

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let proxy: TestProxy;
let web: IssuedCertificate;
let marketing: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
  web = await ca.issue({ cn: "web-01", ou: "web", sans: { uri: ["spiffe://prod/ns/shop/sa/web"], dns: ["web-01.internal"] } });
  marketing = await ca.issue({ cn: "mkt-01", ou: "marketing" });
});

/** Requests the upstream received since `mark`. */
function receivedSince(mark: number) {
  return upstream.received.slice(mark);
}

describe("inbound: authorize, then forward", () => {
  test("an allowed request reaches the upstream with the caller's identity in x-forwarded-client-cert", async () => {
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, web).request(`${proxy.url}/user`);
    expect(res.status).toBe(200);
    const [seen] = receivedSince(mark);
    expect(seen?.url).toBe("/user");
    const hash = createHash("sha256").update(new X509Certificate(web.cert).raw).digest("hex");
    expect(seen?.headers["x-forwarded-client-cert"]).toBe(`Hash=${hash};Subject="CN=web-01,OU=web";URI=spiffe://prod/ns/shop/sa/web;DNS=web-01.internal`);
    expect(seen?.headers["x-forwarded-proto"]).toBe("https");
    expect(seen?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers["x-request-id"]).toBe(seen?.headers["x-request-id"]);
  });

  test("a denied request gets 403 with a JSON body and the upstream never sees it", async () => {
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, marketing).request(`${proxy.url}/user`, { method: "DELETE", headers: { "x-request-id": "req-123" } });
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.json()).toEqual({ error: "forbidden", method: "DELETE", path: "/user", requestId: "req-123" });
    expect(receivedSince(mark)).toHaveLength(0);
  });

  test("a denied POST with a body is not forwarded either", async () => {
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, marketing).request(`${proxy.url}/upload`, { method: "POST", body: "x".repeat(100_000) });
    expect(res.status).toBe(403);
    expect(receivedSince(mark)).toHaveLength(0);
  });

  test("the query string passes through unchanged and plays no part in the decision", async () => {
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, web).request(`${proxy.url}/user?id=7&next=%2Fadmin&x=a%20b`);
    expect(res.status).toBe(200);
    expect(receivedSince(mark)[0]?.url).toBe("/user?id=7&next=%2Fadmin&x=a%20b");
    const denied = await mtlsClient(ca, marketing).request(`${proxy.url}/user?as=web`, { method: "DELETE" });
    expect(denied.status).toBe(403);
  });

  test("the upstream receives the normalized path the ACL judged", async () => {
    const mark = upstream.received.length;
    const res = await rawExchange(proxy.port, ca, web, "GET /static/a/../%62//c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(rawStatus(res)).toBe(200);
    expect(receivedSince(mark)[0]?.url).toBe("/static/b/c");
  });

  test("HEAD is decided by GET's entry and forwarded as HEAD", async () => {
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, marketing).request(`${proxy.url}/static/logo.png`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(receivedSince(mark)[0]?.method).toBe("HEAD");
    expect((await mtlsClient(ca, marketing).request(`${proxy.url}/user`, { method: "HEAD" })).status).toBe(403);
  });

  test("a request body streams to the upstream intact", async () => {
    const mark = upstream.received.length;
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await mtlsClient(ca, web).request(`${proxy.url}/upload`, { method: "POST", body });
    expect(res.status).toBe(200);
    expect(receivedSince(mark)[0]?.body.equals(body)).toBe(true);
  });

  test("the caller's own x-forwarded-client-cert copies are removed, whatever their case", async () => {
    const mark = upstream.received.length;
    const forged = 'Hash=00;Subject="CN=admin,OU=ops"';
    const res = await rawExchange(
      proxy.port,
      ca,
      web,
      `GET /user HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Client-Cert: ${forged}\r\nx-forwarded-client-cert: ${forged}\r\nX-FORWARDED-CLIENT-CERT: ${forged}\r\nConnection: close\r\n\r\n`,
    );
    expect(rawStatus(res)).toBe(200);
    const seen = receivedSince(mark)[0]!;
    const copies = seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === "x-forwarded-client-cert");
    expect(copies).toHaveLength(1);
    expect(seen.headers["x-forwarded-client-cert"]).toContain('Subject="CN=web-01,OU=web"');
  });

  test("a client's x-request-id is kept; a hostile one is replaced", async () => {
    const mark = upstream.received.length;
    await mtlsClient(ca, web).request(`${proxy.url}/user`, { headers: { "x-request-id": "abc-123" } });
    await mtlsClient(ca, web).request(`${proxy.url}/user`, { headers: { "x-request-id": "a b\"c" } });
    const [kept, replaced] = receivedSince(mark);
    expect(kept?.headers["x-request-id"]).toBe("abc-123");
    expect(replaced?.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("hop-by-hop headers stop at guardpost in both directions", async () => {
    upstream.respond((_req, res) => {
      res.writeHead(200, { "keep-alive": "timeout=5", "x-secret-hop": "1", connection: "x-secret-hop", "content-type": "text/plain" });
      res.end("ok");
    });
    const mark = upstream.received.length;
    try {
      const res = await rawExchange(proxy.port, ca, web, "GET /user HTTP/1.1\r\nHost: localhost\r\nConnection: close, x-drop-me\r\nX-Drop-Me: 1\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic Zm9v\r\nX-Keep: yes\r\n\r\n");
      expect(rawStatus(res)).toBe(200);
      const seen = receivedSince(mark)[0]!;
      for (const name of ["x-drop-me", "te", "upgrade", "proxy-authorization"]) expect(seen.headers[name]).toBeUndefined();
      expect(seen.headers["x-keep"]).toBe("yes");
      expect(res.toLowerCase()).not.toContain("x-secret-hop");
      expect(res.toLowerCase()).not.toContain("keep-alive: timeout");
    } finally {
      upstream.respond((req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: true, url: req.url }));
      });
    }
  });
});

describe("inbound: identity comes from certificate fields", () => {
  test("a certificate with several OUs matches an entry for any one of them", async () => {
    const both = await ca.issue({ cn: "multi", ou: ["marketing", "payments"] });
    expect((await mtlsClient(ca, both).request(`${proxy.url}/user`)).status).toBe(200);
  });

  test('a CN of "x,OU=web" does not grant what OU=web grants', async () => {
    const tricky = await ca.issue({ cn: "x,OU=web", ou: "marketing" });
    const res = await mtlsClient(ca, tricky).request(`${proxy.url}/user`, { method: "DELETE" });
    expect(res.status).toBe(403);
  });

  test("certificate values cannot inject header lines or XFCC fields", async () => {
    const hostile = await ca.issue({ cn: 'evil"\r\nX-Injected: 1;URI=spiffe://admin', ou: "web", sans: { uri: ["spiffe://x/a;DNS=admin.internal,b"] } });
    const mark = upstream.received.length;
    const res = await mtlsClient(ca, hostile).request(`${proxy.url}/user`);
    expect(res.status).toBe(200);
    const seen = receivedSince(mark)[0]!;
    expect(seen.headers["x-injected"]).toBeUndefined();
    const xfcc = String(seen.headers["x-forwarded-client-cert"]);
    expect(xfcc).toMatch(/^[\x20-\x7e]+$/);
    // Parsed as an upstream would: exactly Hash, Subject and one URI; nothing smuggled into another field.
    const fields = parseXfcc(xfcc);
    expect(fields.map(([key]) => key)).toEqual(["Hash", "Subject", "URI"]);
    expect(fields[1]![1]).toBe('CN=evil\\"\\0D\\0AX-Injected: 1\\;URI=spiffe://admin,OU=web');
    expect(fields[2]![1]).toBe("spiffe://x/a;DNS=admin.internal,b");
  });
});

describe("inbound: guardpost's own errors", () => {
  test("an ambiguous target gets 400 with a JSON reason and is not forwarded", async () => {
    const mark = upstream.received.length;
    const res = await rawExchange(proxy.port, ca, web, "GET /user%2F..%2Fadmin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(rawStatus(res)).toBe(400);
    const body = JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4));
    expect(body).toMatchObject({ error: "bad_request", method: "GET", path: "/user%2F..%2Fadmin" });
    expect(body.reason).toMatch(/encoded \//);
    expect(receivedSince(mark)).toHaveLength(0);
  });

  test("headers larger than the limit get 431", async () => {
    const res = await rawExchange(proxy.port, ca, web, `GET /user HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(rawStatus(res)).toBe(431);
    expect(res).toContain('"error":"headers_too_large"');
  });

  test("an unreachable upstream gives 502 with a JSON body", async () => {
    const dead = await startUpstream();
    await dead.close();
    const deadProxy = await startProxy({ ca, acl: ACL, upstream: dead.url });
    const res = await mtlsClient(ca, web).request(`${deadProxy.url}/user`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: "upstream_unreachable", method: "GET", path: "/user" });
  });
});
