import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { rawExchange, rawStatus } from "../helpers/raw-connection.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

let ca: CertificateAuthority;
let partner: IssuedCertificate;
let internal: IssuedCertificate;
let orders: RecordingUpstream;
let catalog: RecordingUpstream;
let fallback: RecordingUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  partner = await ca.issue({ cn: "acme-prod", ou: "partner", o: "Acme" });
  internal = await ca.issue({ cn: "ops-01", ou: "ops" });
  [orders, catalog, fallback] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
  const dir = tempDir();
  const acls = writeFiles(dir, {
    "orders.yaml": "version: 1\npaths:\n  /orders/**:\n    GET: [OU=partner]\n    POST: [{OU: partner, O: Acme}]\n",
    "catalog.yaml": "version: 1\nmode: audit\npaths:\n  /catalog/**:\n    GET: [OU=ops]\n",
    "fallback.yaml": "version: 1\npaths:\n  /**:\n    GET: [OU=ops]\n",
  });
  proxy = await startProxy({
    ca,
    acl: "version: 1\npaths: {}\n",
    upstream: "http://127.0.0.1:1",
    extra: {
      inbound: [
        {
          name: "edge",
          listen: "127.0.0.1:0",
          routes: [
            { name: "orders", pathPrefix: "/orders", upstream: orders.url, acl: acls["orders.yaml"] },
            { name: "catalog", pathPrefix: "/catalog", host: "shop.example", upstream: catalog.url, acl: acls["catalog.yaml"] },
            { name: "fallback", pathPrefix: "/", upstream: fallback.url, acl: acls["fallback.yaml"] },
          ],
        },
        { name: "second", listen: "127.0.0.1:0", upstream: fallback.url, acl: acls["fallback.yaml"] },
      ],
    },
  });
});

function request(cert: IssuedCertificate, path: string, options: { method?: string; host?: string } = {}) {
  return rawExchange(proxy.port, ca, cert, `${options.method ?? "GET"} ${path} HTTP/1.1\r\nHost: ${options.host ?? "localhost"}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

describe("gateway: routes by path prefix and host, each with its own upstream and ACL", () => {
  test("a path under a route's prefix goes to that route's upstream, judged by that route's ACL", async () => {
    expect(rawStatus(await request(partner, "/orders/17"))).toBe(200);
    expect(orders.received.at(-1)?.url).toBe("/orders/17");
    expect(rawStatus(await request(internal, "/orders/17"))).toBe(403);
  });

  test("prefixes match whole segments: /ordersx is not under /orders", async () => {
    const before = orders.received.length;
    expect(rawStatus(await request(internal, "/ordersx"))).toBe(200);
    expect(fallback.received.at(-1)?.url).toBe("/ordersx");
    expect(orders.received.length).toBe(before);
  });

  test("a host-specific route only takes requests for its host", async () => {
    await request(internal, "/catalog/1", { host: "shop.example:443" });
    expect(catalog.received.at(-1)?.url).toBe("/catalog/1");
    const before = catalog.received.length;
    await request(internal, "/catalog/2", { host: "other.example" });
    expect(catalog.received.length).toBe(before);
    expect(fallback.received.at(-1)?.url).toBe("/catalog/2");
  });

  test("a path traversal cannot hop from one route to another", async () => {
    const before = orders.received.length;
    expect(rawStatus(await request(internal, "/catalog/../orders/1", { host: "shop.example" }))).toBe(403);
    expect(orders.received.length).toBe(before);
  });

  test("several inbound listeners run in one process", async () => {
    const second = proxy.guardpost.addresses.inbound.get("second")!;
    const res = await mtlsClient(ca, internal).request(`https://localhost:${second.port}/anything`);
    expect(res.status).toBe(200);
  });
});

describe("audit mode: decide, log and count, but do not enforce", () => {
  test("a request the ACL would deny is forwarded, logged and counted as would_deny", async () => {
    const before = catalog.received.length;
    const res = await rawExchange(proxy.port, ca, partner, "GET /catalog/9 HTTP/1.1\r\nHost: shop.example\r\nX-Request-Id: audit-1\r\nConnection: close\r\n\r\n");
    expect(rawStatus(res)).toBe(200);
    expect(catalog.received.length).toBe(before + 1);
    await expect.poll(() => proxy.logs.find({ requestId: "audit-1" }).length).toBe(1);
    expect(proxy.logs.find({ requestId: "audit-1" })[0]).toMatchObject({ decision: "would_deny", route: "catalog", status: 200 });
    expect(await metricValue(proxy.adminUrl, "guardpost_requests_total", { listener: "edge", decision: "would_deny" })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(proxy.adminUrl, "guardpost_acl_decisions_total", { route: "catalog", decision: "would_deny" })).toBeGreaterThanOrEqual(1);
  });

  test("a route's mode overrides its ACL's mode", async () => {
    const auditUpstream = await startUpstream();
    const dir = tempDir();
    const acl = writeFiles(dir, { "strict.yaml": "version: 1\npaths:\n  /x:\n    GET: [OU=nobody]\n" })["strict.yaml"];
    const audited = await startProxy({ ca, acl: "version: 1\npaths: {}\n", upstream: auditUpstream.url, extra: { inbound: { listen: "127.0.0.1:0", upstream: auditUpstream.url, acl, mode: "audit" } } });
    expect((await mtlsClient(ca, internal).request(`${audited.url}/x`)).status).toBe(200);
    expect(auditUpstream.received).toHaveLength(1);
  });
});
