/**
 * Identity headers under attack. test/integration/inbound.test.ts already
 * shows that copies of x-forwarded-client-cert are dropped and that a
 * hostile CN or URI stays in its field; this file adds what a proxy that
 * appends XFCC, splits SAN strings, trusts trailers or honours `Connection`
 * for its own headers would get wrong.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { rawExchange } from "../helpers/raw-connection.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type ReceivedRequest, type RecordingUpstream } from "../helpers/upstream.js";
import { expectErrorResponse, parseResponses } from "../helpers/wire.js";
import { SUBJECT_VECTORS } from "../helpers/hostile.js";
import { opensslSubject, parseXfcc } from "../helpers/xfcc.js";

const ACL = `
version: 1
paths:
  /public/**:
    "*": ["*"]
  /admin/**:
    "*": [URI=spiffe://prod/ns/ops/sa/admin]
  /dns/**:
    GET: [DNS=a]
`;

const ADMIN_URI = "spiffe://prod/ns/ops/sa/admin";

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let proxy: TestProxy;
let web: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
  web = await ca.issue({ cn: "web-01", ou: "web" });
});

/** What guardpost must send for `cert` when it has no SANs: the hash of its DER and its subject. */
function xfccOf(cert: IssuedCertificate, subject: string): string {
  return `Hash=${createHash("sha256").update(cert.der).digest("hex")};Subject="${subject}"`;
}

function headerCopies(seen: ReceivedRequest, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) if (seen.rawHeaders[i]!.toLowerCase() === name) values.push(seen.rawHeaders[i + 1]!);
  return values;
}

async function exchange(cert: IssuedCertificate, raw: string) {
  const mark = upstream.received.length;
  const arrivals = upstream.arrivals.length;
  const { responses } = parseResponses(await rawExchange(proxy.port, ca, cert, raw));
  return { responses, received: upstream.received.slice(mark), arrivals: upstream.arrivals.slice(arrivals) };
}

describe("adversarial identity: SAN strings cannot forge principals (Node CVE-2021-44532)", () => {
  test("a SAN DNS value containing ', URI:spiffe://…' grants no URI principal, while a real URI SAN does", async () => {
    const forged = await ca.issue({ cn: "forger", ou: "web", sans: { dns: [`a, URI:${ADMIN_URI}`] } });
    const real = await ca.issue({ cn: "admin", ou: "ops", sans: { uri: [ADMIN_URI] } });
    const denied = await exchange(forged, "GET /admin/users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expectErrorResponse(denied.responses[0], 403, { error: "forbidden", method: "GET", path: "/admin/users" });
    expect(denied.arrivals).toEqual([]);
    const allowed = await exchange(real, "GET /admin/users HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(allowed.responses.map((r) => r.status)).toEqual([200]);
  });

  test("the same SAN does not grant DNS=a either: the DNS value is the whole string", async () => {
    const forged = await ca.issue({ cn: "forger", sans: { dns: [`a, URI:${ADMIN_URI}`] } });
    const plain = await ca.issue({ cn: "plain", sans: { dns: ["a"] } });
    const denied = await exchange(forged, "GET /dns/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(denied.responses.map((r) => r.status)).toEqual([403]);
    expect(denied.arrivals).toEqual([]);
    expect((await exchange(plain, "GET /dns/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")).responses.map((r) => r.status)).toEqual([200]);
  });
});

describe("adversarial identity: certificate values stay inside their XFCC field (Envoy CVE-2023-27493)", () => {
  test("CR LF, quotes, semicolons and commas in OU, O, DNS and URI inject no header line and no XFCC field", async () => {
    const hostile = await ca.issue({
      cn: "h",
      ou: 'web";DNS=x',
      o: "Acme\r\nX-Injected: 1",
      sans: { dns: ["a\r\nX-Injected: 2", `q";URI=${ADMIN_URI};DNS="x`, `a, URI:${ADMIN_URI}`], uri: ["spiffe://x\r\nX-Injected: 3"] },
    });
    const { responses, received } = await exchange(hostile, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(responses.map((r) => r.status)).toEqual([200]);
    const seen = received[0]!;
    expect(Object.keys(seen.headers).filter((name) => name.startsWith("x-injected"))).toEqual([]);
    const copies = headerCopies(seen, "x-forwarded-client-cert");
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/^[\x20-\x7e]+$/);
    // Parsed the way an upstream would: one field per certificate value, each value exactly itself (control bytes as \XX).
    expect(parseXfcc(copies[0]!)).toEqual([
      ["Hash", createHash("sha256").update(hostile.der).digest("hex")],
      ["Subject", 'CN=h,OU=web\\"\\;DNS=x,O=Acme\\0D\\0AX-Injected: 1'],
      ["URI", "spiffe://x\\0D\\0AX-Injected: 3"],
      ["DNS", "a\\0D\\0AX-Injected: 2"],
      ["DNS", `q";URI=${ADMIN_URI};DNS="x`],
      ["DNS", `a, URI:${ADMIN_URI}`],
    ]);
  });
});

describe("adversarial identity: the XFCC Subject is the certificate's own RFC 2253 subject", () => {
  test.each(SUBJECT_VECTORS)("$name: the upstream's XFCC Subject equals openssl x509 -subject -nameopt RFC2253", async ({ rdns }) => {
    const cert = await ca.issue({ rdns });
    const { responses, received } = await exchange(cert, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(responses.map((r) => r.status)).toEqual([200]);
    const copies = headerCopies(received[0]!, "x-forwarded-client-cert");
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/^[\x20-\x7e]+$/);
    const fields = parseXfcc(copies[0]!);
    expect(fields.map(([key]) => key)).toEqual(["Hash", "Subject"]);
    expect(fields[1]![1]).toBe(await opensslSubject(cert.cert));
  });

  test("certificates that differ only in attribute order or RDN grouping reach the upstream as different identities", async () => {
    const subjects = new Map<string, string>();
    for (const { name, rdns } of SUBJECT_VECTORS) {
      const { received } = await exchange(await ca.issue({ rdns }), "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      const subject = parseXfcc(headerCopies(received[0]!, "x-forwarded-client-cert")[0]!)[1]![1];
      expect(subjects.get(subject), `${name} and ${subjects.get(subject)} share ${subject}`).toBeUndefined();
      subjects.set(subject, name);
    }
  });
});

describe("adversarial identity: the client's x-forwarded-client-cert never reaches the upstream", () => {
  const forged = 'By=spiffe://prod/ns/ops/sa/admin;Hash=00;Subject="CN=admin,OU=ops";URI=spiffe://prod/ns/ops/sa/admin';
  test.each([
    ["once", `X-Forwarded-Client-Cert: ${forged}\r\n`],
    ["twice, in different case", `x-forwarded-client-cert: ${forged}\r\nX-FORWARDED-CLIENT-CERT: Hash=11\r\n`],
    ["as a comma list of elements", `X-Forwarded-Client-Cert: ${forged},Hash=22;Subject="CN=x"\r\n`],
    ["with an empty value", `X-Forwarded-Client-Cert:\r\n`],
  ])("sent %s, it is removed, not appended to: the upstream's value is exactly guardpost's", async (_how, headers) => {
    const { responses, received } = await exchange(web, `GET /public/x HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n`);
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(headerCopies(received[0]!, "x-forwarded-client-cert")).toEqual([xfccOf(web, "CN=web-01,OU=web")]);
  });

  test("spelled with underscores (one variable to CGI-style servers), it and the other identity headers are dropped", async () => {
    const raw =
      "GET /public/x HTTP/1.1\r\nHost: localhost\r\n" +
      `X_Forwarded_Client_Cert: ${forged}\r\nx-forwarded_client-cert: ${forged}\r\nX_Request_Id: forged-id\r\nx_forwarded_for: 10.0.0.1\r\nx_forwarded_proto: http\r\n` +
      "X_Custom_Header: kept\r\nConnection: close\r\n\r\n";
    const { responses, received } = await exchange(web, raw);
    expect(responses.map((r) => r.status)).toEqual([200]);
    const names = received[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n.includes("_"))).toEqual(["x_custom_header"]);
    expect(headerCopies(received[0]!, "x-forwarded-client-cert")).toEqual([xfccOf(web, "CN=web-01,OU=web")]);
  });

  test("sent as a chunked trailer, it is not forwarded", async () => {
    const raw = `POST /public/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTrailer: X-Forwarded-Client-Cert\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Forwarded-Client-Cert: ${forged}\r\n\r\n`;
    const { responses, received } = await exchange(web, raw);
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(received[0]!.body.toString()).toBe("hello");
    expect(received[0]!.trailers).toEqual({});
    expect(headerCopies(received[0]!, "x-forwarded-client-cert")).toEqual([xfccOf(web, "CN=web-01,OU=web")]);
  });

  test("naming guardpost's own headers in Connection strips the client's copies, never guardpost's", async () => {
    const raw =
      "GET /public/x HTTP/1.1\r\nHost: localhost\r\n" +
      "Connection: close, x-forwarded-client-cert, x-forwarded-proto, x-forwarded-for, x-request-id\r\n" +
      `X-Forwarded-Client-Cert: ${forged}\r\nX-Forwarded-Proto: http\r\nX-Request-Id: req-from-client\r\n\r\n`;
    const { responses, received } = await exchange(web, raw);
    expect(responses.map((r) => r.status)).toEqual([200]);
    const seen = received[0]!;
    expect(headerCopies(seen, "x-forwarded-client-cert")).toEqual([xfccOf(web, "CN=web-01,OU=web")]);
    expect(headerCopies(seen, "x-forwarded-proto")).toEqual(["https"]);
    expect(headerCopies(seen, "x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(headerCopies(seen, "x-request-id")).toHaveLength(1);
  });

  test.each([
    ["a bare CR before it (Node CVE-2023-30589)", `X-Note: a\rX-Forwarded-Client-Cert: ${forged}\r\n`],
    ["a bare LF before it", `X-Note: a\nX-Forwarded-Client-Cert: ${forged}\r\n`],
    ["obs-fold continuation", `X-Note: a\r\n X-Forwarded-Client-Cert: ${forged}\r\n`],
    ["a space before the colon", `X-Forwarded-Client-Cert : ${forged}\r\n`],
    ["a NUL in the value", `X-Forwarded-Client-Cert: Hash=00\u0000;Subject="CN=admin"\r\n`],
  ])("a header smuggled with %s is refused with 400 and nothing is forwarded", async (_how, headers) => {
    const { responses, arrivals } = await exchange(web, `GET /public/x HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n`);
    expect(arrivals).toEqual([]);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 400, { error: "bad_request" });
  });
});
