import { describe, expect, test } from "vitest";
import { createCa } from "../helpers/pki.js";
import { startProxy } from "../helpers/proxy.js";
import { startUpstream } from "../helpers/upstream.js";

const ACL = "version: 1\npaths:\n  /x:\n    GET: [OU=web]\n";

describe("expiry awareness", () => {
  test("a service certificate with less than 20% of its lifetime left is reported at start-up", async () => {
    const ca = await createCa();
    const upstream = await startUpstream();
    // 10 minutes of lifetime, 90 seconds left.
    const serverCert = await ca.issue({ cn: "svc", sans: { dns: ["localhost"] }, notBefore: new Date(Date.now() - 510_000), notAfter: new Date(Date.now() + 90_000) });
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, serverCert });
    await expect.poll(() => proxy.logs.find({ event: "certificate_expiring" }).length).toBe(1);
    expect(proxy.logs.find({ event: "certificate_expiring" })[0]).toMatchObject({ level: "warn", file: proxy.files.cert });
  });

  test("the warning fires when the 80% point of the lifetime passes, not before", async () => {
    const ca = await createCa();
    const upstream = await startUpstream();
    // 12 s of lifetime with 4 s left: the 20% mark (2.4 s before notAfter) comes about 1.6 s after start.
    const serverCert = await ca.issue({ cn: "svc", sans: { dns: ["localhost"] }, notBefore: new Date(Date.now() - 8_000), notAfter: new Date(Date.now() + 4_000) });
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, serverCert });
    expect(proxy.logs.find({ event: "certificate_expiring" })).toHaveLength(0);
    await expect.poll(() => proxy.logs.find({ event: "certificate_expiring" }).length, { timeout: 3_500 }).toBe(1);
  });
});
