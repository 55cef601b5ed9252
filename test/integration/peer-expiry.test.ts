import { describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { createCa } from "../helpers/pki.js";
import { startProxy } from "../helpers/proxy.js";
import { startUpstream } from "../helpers/upstream.js";

describe("a keep-alive connection outliving its peer certificate", () => {
  test("serves no request after the certificate's notAfter, and closes", async () => {
    const ca = await createCa();
    const upstream = await startUpstream();
    const proxy = await startProxy({ ca, acl: "version: 1\npaths:\n  /x:\n    GET: [OU=web]\n", upstream: upstream.url });
    // X.509 times have one-second resolution; leave room for the handshake.
    const shortLived = await ca.issue({ cn: "brief", ou: "web", notAfter: new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000) });
    const client = mtlsClient(ca, shortLived);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    const connects = upstream.received.length;
    await new Promise((r) => setTimeout(r, Math.max(0, shortLived.notAfter.getTime() - Date.now()) + 200));
    const late = await client.request(`${proxy.url}/x`);
    expect(late.status).toBe(403);
    expect(late.json()).toMatchObject({ error: "certificate_expired", path: "/x" });
    expect(late.headers.connection).toBe("close");
    expect(upstream.received.length).toBe(connects);
    // A new connection either fails its handshake or, resuming a TLS session, meets the same check.
    const again = await client.request(`${proxy.url}/x`).catch(() => null);
    if (again) expect(again.json()).toMatchObject({ error: "certificate_expired" });
    expect(upstream.received.length).toBe(connects);
  });
});
