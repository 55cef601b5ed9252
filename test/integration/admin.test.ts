import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { metricsText, metricValue } from "../helpers/metrics.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream } from "../helpers/upstream.js";

const ACL = `
version: 1
paths:
  /user/{id}:
    GET: [OU=web]
`;

let ca: CertificateAuthority;
let proxy: TestProxy;
let web: IssuedCertificate;
let server: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  server = await ca.issue({ cn: "svc", sans: { dns: ["localhost"] }, notAfter: new Date(Date.now() + 5 * 3_600_000) });
  const upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, serverCert: server });
  web = await ca.issue({ cn: "web-01", ou: "web" });
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await request(`${proxy.adminUrl}${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

describe("admin listener", () => {
  test("/healthz and /readyz answer 200 while serving", async () => {
    expect((await get("/healthz")).status).toBe(200);
    expect(await get("/readyz")).toEqual({ status: 200, body: "ready\n" });
  });

  test("every series of guardpost_reloads_total exists from start-up, at 0", async () => {
    for (const kind of ["tls", "acl"]) {
      for (const result of ["success", "error"]) {
        expect(await metricsText(proxy.adminUrl)).toContain(`guardpost_reloads_total{kind="${kind}",result="${result}"} 0`);
      }
    }
  });

  test("requests are counted by listener, method, decision and code, with a duration histogram", async () => {
    const client = mtlsClient(ca, web);
    await client.request(`${proxy.url}/user/1`);
    await client.request(`${proxy.url}/user/2`, { method: "DELETE" });
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { listener: "inbound", method: "GET", decision: "allow", code: "200" })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { listener: "inbound", method: "DELETE", decision: "deny", code: "403" })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(proxy.adminUrl, "guardpost_request_duration_seconds_count", { listener: "inbound" })).toBeGreaterThanOrEqual(2);
    expect(await metricValue(proxy.adminUrl, "guardpost_acl_decisions_total", { entry: "GET /user/{id}", decision: "allow" })).toBeGreaterThanOrEqual(1);
  });

  test("no label holds a raw request path, and unknown methods share one label", async () => {
    const client = mtlsClient(ca, web);
    await client.request(`${proxy.url}/user/secret-customer-42`);
    await client.request(`${proxy.url}/no/such/path-xyz`);
    await client.request(`${proxy.url}/user/1`, { method: "FROBNICATE" });
    const text = await metricsText(proxy.adminUrl);
    expect(text).not.toContain("secret-customer-42");
    expect(text).not.toContain("path-xyz");
    expect(text).not.toContain("FROBNICATE");
    expect(text).toContain('method="OTHER"');
  });

  test("certificate expiry gauges report the service certificate and the CA", async () => {
    const expiry = await metricValue(proxy.adminUrl, "guardpost_certificate_expiry_timestamp_seconds", { cert: "service" });
    expect(expiry).toBe(Math.floor(server.notAfter.getTime() / 1000));
    expect(await metricsText(proxy.adminUrl)).toMatch(/guardpost_certificate_expiry_timestamp_seconds\{cert="ca:guardpost test CA"\} \d+/);
  });

  test("an unknown admin path is 404 and other methods are 405", async () => {
    expect((await get("/nope")).status).toBe(404);
    const res = await request(`${proxy.adminUrl}/metrics`, { method: "POST" });
    await res.body.dump();
    expect(res.statusCode).toBe(405);
  });
});

describe("access log", () => {
  test("one JSON line per request with requestId, peer, method, normalized path, entry, decision, status and duration", async () => {
    await mtlsClient(ca, web).request(`${proxy.url}/user//7`, { headers: { "x-request-id": "log-check-1" } });
    await expect.poll(() => proxy.logs.find({ requestId: "log-check-1" }).length).toBe(1);
    const [line] = proxy.logs.find({ requestId: "log-check-1" });
    expect(line).toMatchObject({ msg: "request", listener: "inbound", method: "GET", path: "/user/7", entry: "GET /user/{id}", decision: "allow", status: 200, peer: { cn: "web-01", ou: ["web"] } });
    expect(typeof line!.durationMs).toBe("number");
  });

  test("no log line ever holds PEM material or a private key", async () => {
    expect(proxy.logs.text()).not.toMatch(/-----BEGIN|PRIVATE KEY/);
  });
});
