import { execFile } from "node:child_process";
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

  test("TLS 1.1 and older are refused", async () => {
    const good = await ca.issue({ cn: "old-tls", ou: "web" });
    const dir = tempDir();
    const files = writeFiles(dir, { "c.crt": good.cert, "c.key": good.key, "ca.crt": ca.cert });
    const run = promisify(execFile);
    const result = await run("openssl", ["s_client", "-connect", `127.0.0.1:${proxy.port}`, "-tls1_1", "-cert", files["c.crt"], "-key", files["c.key"], "-CAfile", join(dir, "ca.crt")], { timeout: 10_000 }).catch((err: { stdout?: string; stderr?: string }) => err);
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    expect(output).not.toMatch(/Verify return code: 0 \(ok\)[\s\S]*Protocol\s*: TLSv1\.1/);
    expect(output).toMatch(/alert|no protocols available|wrong version|unsupported protocol|handshake failure/i);
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
