/**
 * Request smuggling through raw mTLS sockets. guardpost parses each request
 * once, strictly, and re-frames what it forwards, so the upstream can only
 * ever see requests the ACL allowed: a request hidden in a body, behind
 * ambiguous framing or second in a pipeline is either judged on its own or
 * the connection is refused with a 400.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { RawConnection, rawExchange } from "../helpers/raw-connection.js";
import { get, HOSTILE_ACL, SMUGGLING_VECTORS } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { expectErrorResponse, parseResponses } from "../helpers/wire.js";

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let proxy: TestProxy;
let web: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url });
  web = await ca.issue({ cn: "web-01", ou: "web" });
});

describe("adversarial framing: the upstream only ever sees requests the ACL allowed", () => {
  test.each(SMUGGLING_VECTORS)("$name", async ({ raw, responses: expected, forwarded }) => {
    const mark = { arrivals: upstream.arrivals.length, received: upstream.received.length };
    const { responses, trailing } = parseResponses(await rawExchange(proxy.port, ca, web, raw));
    const completed = upstream.received.slice(mark.received).map((r) => [r.method, r.url, r.body.toString("latin1")]);
    const arrived = upstream.arrivals.slice(mark.arrivals);

    expect(arrived.filter((line) => line.includes("/admin"))).toEqual([]);
    expect(completed).toEqual(forwarded);
    // A head may arrive before its body turns out malformed; it is then aborted, never completed.
    const allowedHeads = new Set(["POST /public/x", ...forwarded.map(([method, url]) => `${method} ${url}`)]);
    expect(arrived.filter((line) => !allowedHeads.has(line))).toEqual([]);

    if (expected === "rejected") {
      expect(responses.length).toBeLessThanOrEqual(1);
      if (responses.length === 1) expectErrorResponse(responses[0], 400, { error: "bad_request" });
      expect(trailing).toBe("");
    } else {
      expect(responses.map((r) => r.status)).toEqual(expected);
      for (const response of responses.filter((r) => r.status === 403)) expectErrorResponse(response, 403, { error: "forbidden", path: "/admin" });
    }
  });
});

describe("adversarial framing: an aborted body never merges with the next request", () => {
  test("after a chunked body turns malformed mid-stream, the next request reaches the upstream on its own and the broken one never completes", async () => {
    const mark = { arrivals: upstream.arrivals.length, received: upstream.received.length };
    // The head and a good chunk go first, so the request is already on its way upstream when the bad chunk arrives.
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(`POST /public/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    await expect.poll(() => upstream.arrivals.slice(mark.arrivals)).toEqual(["POST /public/upload"]);
    await conn.write("zz\r\n");
    await conn.closed;
    expect(parseResponses(conn.output()).responses.every((r) => r.status === 400)).toBe(true);
    const second = parseResponses(await rawExchange(proxy.port, ca, web, get("/public/next")));
    expect(second.responses.map((r) => r.status)).toEqual([200]);
    const completed = upstream.received.slice(mark.received).map((r) => [r.method, r.url, r.body.toString("latin1")]);
    expect(completed).toEqual([["GET", "/public/next", ""]]);
    expect(upstream.arrivals.slice(mark.arrivals).filter((line) => line !== "POST /public/upload")).toEqual(["GET /public/next"]);
  });
});

describe("adversarial framing: Host header ambiguity", () => {
  test("two Host headers never reach the upstream (routing and the upstream could each read a different one) and get guardpost's JSON error", async () => {
    const mark = upstream.arrivals.length;
    const { responses } = parseResponses(await rawExchange(proxy.port, ca, web, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nHost: admin.internal\r\nConnection: close\r\n\r\n"));
    expect(upstream.arrivals.slice(mark)).toEqual([]);
    expect(responses).toHaveLength(1);
    // RFC 9112 section 3.2: a request with more than one Host is a 400.
    expectErrorResponse(responses[0], 400, { method: "GET", path: "/public/x" });
  });

  test("an HTTP/1.1 request without Host is refused with 400 and never forwarded", async () => {
    const mark = upstream.arrivals.length;
    const { responses } = parseResponses(await rawExchange(proxy.port, ca, web, "GET /public/x HTTP/1.1\r\nConnection: close\r\n\r\n"));
    expect(upstream.arrivals.slice(mark)).toEqual([]);
    expectErrorResponse(responses[0], 400, { method: "GET", path: "/public/x" });
  });
});
