import { execFile } from "node:child_process";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { metricValue } from "../helpers/metrics.js";

const ACL = `
version: 1
paths:
  /**:
    "*": ["*"]
`;

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let proxy: TestProxy;
let revoked: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  revoked = await ca.issue({ cn: "revoked", ou: "web" });
  upstream = await startUpstream();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, crl: await ca.crl([revoked]) });
});

async function refused(cert: IssuedCertificate | null, caOverride?: CertificateAuthority): Promise<void> {
  const mark = upstream.received.length;
  await expect(mtlsClient(caOverride ?? ca, cert).request(`${proxy.url}/anything`)).rejects.toThrow();
  expect(upstream.received.length).toBe(mark);
}

async function failures(reason: string): Promise<number> {
  return metricValue(proxy.adminUrl, "guardpost_tls_handshake_failures_total", { listener: "inbound", reason });
}

describe("inbound handshake: who gets in", () => {
  test("a valid client certificate from the CA gets in", async () => {
    const good = await ca.issue({ cn: "ok", ou: "web" });
    expect((await mtlsClient(ca, good).request(`${proxy.url}/x`)).status).toBe(200);
  });

  test.each([
    ["no client certificate", "no_certificate", async () => null],
    ["a certificate from a foreign CA", "untrusted", async () => (await createCa()).issue({ cn: "foreign", ou: "web" })],
    ["an expired certificate", "expired", async () => ca.issue({ cn: "old", ou: "web", notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) })],
    ["a certificate not yet valid", "not_yet_valid", async () => ca.issue({ cn: "future", ou: "web", notBefore: new Date(Date.now() + 3_600_000), notAfter: new Date(Date.now() + 7_200_000) })],
    ["a revoked certificate", "revoked", async () => revoked],
    ["a certificate whose EKU lacks clientAuth", "bad_key_usage", async () => ca.issue({ cn: "server-only", ou: "web", eku: ["serverAuth"] })],
  ])("%s is refused, counted and logged with reason %s", async (_name, reason, make) => {
    const before = await failures(reason);
    await refused(await make());
    await expect.poll(() => failures(reason)).toBe(before + 1);
    expect(proxy.logs.find({ event: "tls_handshake_failed", reason }).length).toBeGreaterThan(0);
  });

  test("a self-signed certificate with the CA's own name is refused", async () => {
    const impostor = await createCa({ cn: "guardpost test CA" });
    await refused(await impostor.issue({ cn: "impostor", ou: "web" }));
  });

  test("a certificate without an EKU extension is accepted (no EKU means any usage)", async () => {
    const noEku = await ca.issue({ cn: "no-eku", ou: "web", eku: null });
    expect((await mtlsClient(ca, noEku).request(`${proxy.url}/x`)).status).toBe(200);
  });

  test("a client that really offers TLS 1.1 is refused by guardpost with a protocol_version alert, counted and logged", async () => {
    const good = await ca.issue({ cn: "old-tls", ou: "web" });
    const dir = tempDir();
    const files = writeFiles(dir, { "c.crt": good.cert, "c.key": good.key, "ca.crt": ca.cert });
    const before = await failures("protocol_version");
    const run = promisify(execFile);
    // SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all (its defaults would refuse before sending
    // anything, and the test would never reach guardpost); -msg prints what went over the wire.
    const result = await run(
      "openssl",
      ["s_client", "-connect", `127.0.0.1:${proxy.port}`, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-msg", "-cert", files["c.crt"], "-key", files["c.key"], "-CAfile", join(dir, "ca.crt")],
      { timeout: 10_000 },
    ).catch((err: { stdout?: string; stderr?: string }) => err);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    expect(output).toMatch(/>>> TLS 1\.1, Handshake \[length [0-9a-f]+\], ClientHello/);
    expect(output).toMatch(/<<< TLS 1\.\d, Alert \[length 0002\], fatal protocol_version/);
    expect(output).not.toMatch(/<<< [^\n]*ServerHello/);
    await expect.poll(() => failures("protocol_version")).toBe(before + 1);
    expect(proxy.logs.find({ event: "tls_handshake_failed", reason: "protocol_version" }).length).toBeGreaterThan(0);
  });

  // HTTP/2 is coming, so the protocols offered are ones guardpost will not speak then either.
  test.each([[["h3"]], [["spdy/3.1"]], [["spdy/3.1", "h3"]]])("a client offering only ALPN %j is refused, counted and logged as no_application_protocol", async (protocols) => {
    const good = await ca.issue({ cn: "alpn", ou: "web" });
    const before = await failures("no_application_protocol");
    const mark = upstream.received.length;
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: proxy.port, servername: "localhost", ca: ca.cert, cert: good.chain, key: good.key, ALPNProtocols: protocols }, () => {
        socket.destroy();
        resolve(null);
      });
      socket.on("error", resolve);
    });
    // Alert 120 (RFC 7301 section 3.2), sent by guardpost.
    expect(error?.code).toBe("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
    expect(upstream.received.length).toBe(mark);
    await expect.poll(() => failures("no_application_protocol")).toBe(before + 1);
    expect(proxy.logs.find({ event: "tls_handshake_failed", reason: "no_application_protocol" }).length).toBeGreaterThan(0);
    expect(await failures("other")).toBe(0);
  });

  test("client-initiated renegotiation is refused on TLS 1.2", async () => {
    const good = await ca.issue({ cn: "reneg", ou: "web" });
    const dir = tempDir();
    const files = writeFiles(dir, { "c.crt": good.cert, "c.key": good.key, "ca.crt": ca.cert });
    const { spawn } = await import("node:child_process");
    const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${proxy.port}`, "-tls1_2", "-cert", files["c.crt"], "-key", files["c.key"], "-CAfile", files["ca.crt"]]);
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    await expect.poll(() => output, { timeout: 10_000 }).toContain("Verify return code: 0");
    // "R" at the start of a line asks s_client to renegotiate.
    child.stdin.write("R\n");
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    child.kill();
    expect(output).toMatch(/RENEGOTIATING/);
    expect(output).toMatch(/no renegotiation|alert|errno|error/i);
  });
});
