/**
 * The request lifecycle, seen from outside: every request, whether the ACL
 * allowed it, denied it, or Node's parser refused it, is one access line, one
 * count in guardpost_requests_total and one observation of the duration
 * histogram; and a route's shadow ACL is decided and recorded, never
 * enforced.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { rawExchange } from "../helpers/raw-connection.js";
import { metricSum, metricValue } from "../helpers/metrics.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { parseResponses } from "../helpers/wire.js";

const ACL = `
version: 1
paths:
  /user/{id}:
    GET: [OU=web]
    DELETE: [OU=web]
`;

/** The change under review: DELETE moves to ops only, GET opens to payments. */
const SHADOW = `
version: 1
paths:
  /user/{id}:
    GET: [OU=web, OU=payments]
    DELETE: [OU=ops]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let payments: IssuedCertificate;
let upstream: RecordingUpstream;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  payments = await ca.issue({ cn: "pay-01", ou: "payments" });
  upstream = await startUpstream();
});

async function counted(proxy: TestProxy): Promise<{ requests: number; observed: number; lines: number }> {
  const requests = await metricSum(proxy.adminUrl, "guardpost_requests_total", { listener: "inbound" });
  const observed = await metricValue(proxy.adminUrl, "guardpost_request_duration_seconds_count", { listener: "inbound" });
  return { requests, observed, lines: proxy.logs.find({ msg: "request" }).length };
}

describe("one lifecycle for every request", () => {
  test("allowed, denied and parser-refused requests each give one access line, one count and one duration", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const client = mtlsClient(ca, web);
    expect((await client.request(`${proxy.url}/user/1`)).status).toBe(200);
    expect((await client.request(`${proxy.url}/admin`)).status).toBe(403);
    const refused = parseResponses(await rawExchange(proxy.port, ca, web, "GET /user/1 HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n"));
    expect(refused.responses.map((r) => r.status)).toEqual([400]);

    await expect.poll(() => counted(proxy)).toEqual({ requests: 3, observed: 3, lines: 3 });
    const parserLine = proxy.logs.find({ msg: "request", status: 400 })[0]!;
    expect(parserLine).toMatchObject({ method: "", path: "", decision: "error", protocol: "http1", peer: { cn: "web-01", ou: ["web"] } });
    expect(parserLine.requestId).toBe(JSON.parse(refused.responses[0]!.body).requestId);
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { method: "OTHER", decision: "error", code: "400", protocol: "http1" })).toBe(1);
  });

  test("a parse error after a complete request waits for that request's answer, which arrives first and whole", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const mark = upstream.received.length;
    const raw = await rawExchange(proxy.port, ca, web, "DELETE /user/5 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhelloGARBAGE\r\n\r\n");
    const { responses } = parseResponses(raw);
    expect(responses.map((r) => r.status)).toEqual([200, 400]);
    expect(upstream.received.slice(mark).map((r) => [r.method, r.url, r.body.toString()])).toEqual([["DELETE", "/user/5", "hello"]]);
  });
});

describe("a shadow ACL", () => {
  test("is decided beside the ACL in force and recorded, never enforced", async () => {
    const shadowed = await startProxy({
      ca,
      acl: ACL,
      upstream: upstream.url,
      extraFiles: { "shadow.yaml": SHADOW },
      extra: { inbound: { listen: "127.0.0.1:0", upstream: upstream.url, acl: "acl.yaml", shadowAcl: "shadow.yaml" } },
    });

    const webClient = mtlsClient(ca, web);
    const paymentsClient = mtlsClient(ca, payments);
    // The ACL in force decides every outcome.
    expect((await webClient.request(`${shadowed.url}/user/1`, { method: "DELETE" })).status).toBe(200);
    expect((await paymentsClient.request(`${shadowed.url}/user/1`)).status).toBe(403);
    expect((await webClient.request(`${shadowed.url}/user/1`)).status).toBe(200);

    const lines = shadowed.logs.find({ msg: "request" });
    expect(lines.map((l) => [l.method, l.decision, l.shadow])).toEqual([
      ["DELETE", "allow", { decision: "deny", entry: "DELETE /user/{id}" }],
      ["GET", "deny", { decision: "allow", entry: "GET /user/{id}" }],
      ["GET", "allow", { decision: "allow", entry: "GET /user/{id}" }],
    ]);
    const shadowCount = (decision: string, agrees: string) => metricValue(shadowed.adminUrl, "guardpost_shadow_decisions_total", { route: "inbound", decision, agrees });
    expect([await shadowCount("deny", "false"), await shadowCount("allow", "false"), await shadowCount("allow", "true")]).toEqual([1, 1, 1]);
  });
});
