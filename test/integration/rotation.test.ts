import { join } from "node:path";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { handshake, mtlsClient } from "../helpers/client.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { issueServerCert, startProxy, type TestProxy } from "../helpers/proxy.js";
import { SecretVolume, writeByRename, writeInPlace } from "../helpers/rotate.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const ACL = `
version: 1
paths:
  /**:
    "*": [OU=web]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
});

/** Waits (up to the 2 s the README promises) until new handshakes see the certificate with `serial`. */
async function expectServedSerial(proxy: TestProxy, serial: string, trust: CertificateAuthority = ca, client: IssuedCertificate = web): Promise<void> {
  await expect.poll(async () => (await handshake(proxy.port, trust, client)).serial, { timeout: 2000, interval: 50 }).toBe(serial);
}

async function reloads(proxy: TestProxy, kind: "tls" | "acl", result: "success" | "error"): Promise<number> {
  return metricValue(proxy.adminUrl, "guardpost_reloads_total", { kind, result });
}

async function ready(proxy: TestProxy): Promise<number> {
  const res = await request(`${proxy.adminUrl}/readyz`);
  await res.body.dump();
  return res.statusCode;
}

describe("rotation of our own certificate", () => {
  test("a keep-alive client keeps succeeding across 50 rotations, and new handshakes get the newest certificate", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const client = mtlsClient(ca, web);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        const res = await client.request(`${proxy.url}/x`).catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status === 200) ok++;
        else failures.push(`${res.status} ${res.body}`);
      }
    })();
    let last: IssuedCertificate | undefined;
    for (let i = 0; i < 50; i++) {
      last = await issueServerCert(ca);
      // Alternate the two ways files are replaced; the key is written right after the cert, as a rotation does.
      const write = i % 2 === 0 ? writeByRename : writeInPlace;
      write(proxy.files.cert, last.chain);
      write(proxy.files.key, last.key);
      await new Promise((r) => setTimeout(r, 120));
    }
    await expectServedSerial(proxy, last!.serial);
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(await reloads(proxy, "tls", "success")).toBeGreaterThanOrEqual(10);
    expect(await metricValue(proxy.adminUrl, "guardpost_certificate_expiry_timestamp_seconds", { cert: "service" })).toBe(Math.floor(last!.notAfter.getTime() / 1000));
  });

  test("a torn rotation (new cert, old key) is refused, then applied when the key lands", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const original = (await handshake(proxy.port, ca, web)).serial;
    const next = await issueServerCert(ca);
    writeByRename(proxy.files.cert, next.chain);
    await expect.poll(() => reloads(proxy, "tls", "error"), { timeout: 2000 }).toBe(1);
    expect((await handshake(proxy.port, ca, web)).serial).toBe(original);
    const [refusal] = proxy.logs.find({ event: "reload_failed", kind: "tls" });
    // The error names the file, and the config key and line that named it.
    expect(refusal?.error).toBe(`${proxy.files.key}: the private key does not match the certificate in ${proxy.files.cert} (tls.key at ${proxy.files.config}:3:8)`);
    expect(await ready(proxy)).toBe(200);
    writeByRename(proxy.files.key, next.key);
    await expectServedSerial(proxy, next.serial);
  });

  test.each([
    ["a garbage certificate", "cert", "not a certificate at all\n", /no PEM certificate found/],
    ["a truncated certificate", "cert", "-----BEGIN CERTIFICATE-----\nMIIB\n", /truncated/],
    ["a garbage key", "key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", /cannot be parsed/],
    ["a truncated CA bundle", "ca", "-----BEGIN CERTIFICATE-----\nMIIBkTCB+w==\n", /truncated/],
    ["a CA bundle holding garbage", "ca", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", /cannot be parsed/],
    ["an empty CA bundle", "ca", "", /no PEM certificate found/],
  ] as const)("%s on reload keeps the old material in service", async (_name, file, content, reason) => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const original = (await handshake(proxy.port, ca, web)).serial;
    writeByRename(proxy.files[file], content);
    await expect.poll(() => reloads(proxy, "tls", "error"), { timeout: 2000 }).toBe(1);
    const [refusal] = proxy.logs.find({ event: "reload_failed", kind: "tls" });
    expect(refusal?.file).toBe(proxy.files[file]);
    expect(String(refusal?.error)).toMatch(reason);
    const after = await handshake(proxy.port, ca, web);
    expect(after).toMatchObject({ serial: original, served: true });
    expect((await mtlsClient(ca, web).request(`${proxy.url}/x`)).status).toBe(200);
    expect(await ready(proxy)).toBe(200);
    expect(proxy.logs.text()).not.toMatch(/-----BEGIN|PRIVATE KEY-----/);
  });

  test("an expired certificate on reload is refused", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const expired = await ca.issue({ cn: "old", sans: { dns: ["localhost"] }, notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 60_000) });
    writeByRename(proxy.files.cert, expired.chain);
    writeByRename(proxy.files.key, expired.key);
    await expect.poll(() => reloads(proxy, "tls", "error"), { timeout: 2000 }).toBeGreaterThanOrEqual(1);
    expect(String(proxy.logs.find({ event: "reload_failed" }).at(-1)?.error)).toMatch(/certificate expired at/);
  });

  test("a Kubernetes ..data swap is picked up", async () => {
    const volume = new SecretVolume(join(tempDir(), "secrets"));
    const first = await issueServerCert(ca);
    volume.publish({ "tls.crt": first.chain, "tls.key": first.key, "ca.crt": ca.cert });
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, tlsPaths: { cert: volume.path("tls.crt"), key: volume.path("tls.key"), ca: volume.path("ca.crt") } });
    expect((await handshake(proxy.port, ca, web)).serial).toBe(first.serial);
    const second = await issueServerCert(ca);
    volume.publish({ "tls.crt": second.chain, "tls.key": second.key, "ca.crt": ca.cert });
    await expectServedSerial(proxy, second.serial);
  });

  test("a plain certificate rotation keeps TLS session resumption working", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const first = await handshake(proxy.port, ca, web);
    expect(first.session).toBeDefined();
    const next = await issueServerCert(ca);
    writeByRename(proxy.files.cert, next.chain);
    writeByRename(proxy.files.key, next.key);
    await expect.poll(() => reloads(proxy, "tls", "success"), { timeout: 2000 }).toBe(1);
    const resumed = await handshake(proxy.port, ca, web, { session: first.session! });
    expect(resumed).toMatchObject({ resumed: true, served: true });
  });
});

describe("rotation of whom we trust", () => {
  test.each([
    ["TLSv1.3", true],
    ["TLSv1.2", true],
    ["TLSv1.2", false],
  ] as const)("after a CA swap, old clients are refused on new handshakes, even by resuming a session (%s, tickets: %s)", async (maxVersion, tickets) => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const before = await handshake(proxy.port, ca, web, { maxVersion, tickets });
    expect(before).toMatchObject({ served: true });
    expect(before.session).toBeDefined();
    // The session resumes while trust is unchanged (by ticket, or by id from guardpost's session cache).
    expect(await handshake(proxy.port, ca, web, { maxVersion, tickets, session: before.session! })).toMatchObject({ resumed: true, served: true });

    const newCa = await createCa({ cn: "guardpost test CA 2" });
    const newClient = await newCa.issue({ cn: "web-02", ou: "web" });
    writeByRename(proxy.files.ca, newCa.cert);
    await expect.poll(() => reloads(proxy, "tls", "success"), { timeout: 2000 }).toBe(1);

    expect(await handshake(proxy.port, ca, web, { maxVersion, tickets })).toMatchObject({ served: false });
    const resumption = await handshake(proxy.port, ca, web, { maxVersion, tickets, session: before.session! });
    expect(resumption).toMatchObject({ resumed: false, served: false });
    expect(await handshake(proxy.port, ca, newClient, { maxVersion, tickets })).toMatchObject({ served: true });
  });

  test("a CRL update revokes a client on its next handshake and on its open keep-alive connection; other open connections go on", async () => {
    const dir = tempDir();
    const files = writeFiles(dir, { "ca.crl": await ca.crl([]) });
    const server = await issueServerCert(ca);
    const tls = writeFiles(dir, { "s.crt": server.chain, "s.key": server.key, "ca.crt": ca.cert });
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, tlsPaths: { cert: tls["s.crt"], key: tls["s.key"], ca: tls["ca.crt"], crl: files["ca.crl"] } });
    const victim = await ca.issue({ cn: "web-09", ou: "web" });
    const open = mtlsClient(ca, victim);
    const bystander = mtlsClient(ca, web);
    expect((await open.request(`${proxy.url}/x`)).status).toBe(200);
    expect((await bystander.request(`${proxy.url}/x`)).status).toBe(200);
    writeByRename(files["ca.crl"], await ca.crl([victim]));
    await expect.poll(() => reloads(proxy, "tls", "success"), { timeout: 2000 }).toBe(1);
    expect(await handshake(proxy.port, ca, victim)).toMatchObject({ served: false });
    expect(await handshake(proxy.port, ca, web)).toMatchObject({ served: true });
    const mark = upstream.received.length;

    // The victim's keep-alive connection, opened before the CRL named it, serves nothing more.
    const refused = await open.request(`${proxy.url}/x`);
    expect(refused.status).toBe(403);
    expect(refused.headers.connection).toBe("close");
    expect(refused.json()).toMatchObject({ error: "certificate_untrusted", path: "/x" });
    // Reconnecting means a new handshake, which the CRL refuses: the client is told, and served nothing.
    const again = await open.request(`${proxy.url}/x`);
    expect([again.status, again.json()]).toMatchObject([403, { error: "client_certificate_refused", alert: "certificate_revoked" }]);
    expect(upstream.received.slice(mark).length).toBe(0);
    expect(proxy.logs.find({ event: "connection_untrusted", problem: "revoked", serial: victim.serial })).toHaveLength(1);

    // A client the CRL does not name keeps its open connection.
    expect((await bystander.request(`${proxy.url}/x`)).status).toBe(200);
  });

  test("after a CA swap, an open connection from a client of the old CA answers its next request with 403 and closes", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const open = mtlsClient(ca, web);
    expect((await open.request(`${proxy.url}/x`)).status).toBe(200);
    const newCa = await createCa({ cn: "guardpost test CA 3" });
    writeByRename(proxy.files.ca, newCa.cert);
    await expect.poll(() => reloads(proxy, "tls", "success"), { timeout: 2000 }).toBe(1);
    const refused = await open.request(`${proxy.url}/x`);
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: "certificate_untrusted" });
    expect(proxy.logs.find({ event: "connection_untrusted", problem: "untrusted" })).toHaveLength(1);
  });

  test("a CRL from a CA that is not in the bundle is refused", async () => {
    const dir = tempDir();
    const files = writeFiles(dir, { "ca.crl": await ca.crl([]) });
    const server = await issueServerCert(ca);
    const tls = writeFiles(dir, { "s.crt": server.chain, "s.key": server.key, "ca.crt": ca.cert });
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, tlsPaths: { cert: tls["s.crt"], key: tls["s.key"], ca: tls["ca.crt"], crl: files["ca.crl"] } });
    writeByRename(files["ca.crl"], await (await createCa({ cn: "elsewhere" })).crl([]));
    await expect.poll(() => reloads(proxy, "tls", "error"), { timeout: 2000 }).toBe(1);
    expect(String(proxy.logs.find({ event: "reload_failed" })[0]?.error)).toMatch(/not in the CA bundle/);
    expect(await handshake(proxy.port, ca, web)).toMatchObject({ served: true });
  });
});

describe("ACL reload", () => {
  test("an edited ACL applies to the next request; a broken one is refused and the old stays", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const client = mtlsClient(ca, web);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    writeByRename(proxy.files.acl, "version: 1\npaths:\n  /x:\n    GET: [OU=ops]\n");
    await expect.poll(async () => (await client.request(`${proxy.url}/x`)).status, { timeout: 2000 }).toBe(403);
    writeInPlace(proxy.files.acl, "version: 1\npaths:\n  /x:\n    GET: [OUU=web]\n");
    await expect.poll(() => reloads(proxy, "acl", "error"), { timeout: 2000 }).toBe(1);
    const [refusal] = proxy.logs.find({ event: "reload_failed", kind: "acl" });
    expect(refusal?.error).toBe(`${proxy.files.acl}:4:11: unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL) (inbound.acl at ${proxy.files.config}:8:8)`);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(403);
    expect(await ready(proxy)).toBe(200);
  });

  test("a request in flight finishes under the ACL it started with", async () => {
    const slow = await startUpstream();
    slow.respond((_req, res) => setTimeout(() => res.end("late"), 800));
    const proxy = await startProxy({ ca, acl: ACL, upstream: slow.url });
    const client = mtlsClient(ca, web);
    const inFlight = client.request(`${proxy.url}/x`);
    await expect.poll(() => slow.received.length).toBe(1);
    writeByRename(proxy.files.acl, "version: 1\npaths:\n  /x:\n    GET: [OU=ops]\n");
    await expect.poll(() => reloads(proxy, "acl", "success"), { timeout: 2000 }).toBe(1);
    expect(await inFlight).toMatchObject({ status: 200, body: "late" });
    expect((await client.request(`${proxy.url}/x`)).status).toBe(403);
  });
});
