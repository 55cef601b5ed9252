/**
 * What a refused client sees, with the clients people debug with (curl and
 * openssl s_client, over TLS 1.2 and 1.3, HTTP/1.1 and h2): an answer that
 * names the TLS alert a TLS server would have sent and the reason, then a
 * clean close, never a reset; the request never reaches the upstream. The
 * log line for a refused handshake names the remote address and the
 * presented certificate. Outbound, an upstream that refuses guardpost's
 * certificate with an alert is reported with the alert's name.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { freePort } from "../helpers/ports.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const run = promisify(execFile);
const ACL = "version: 1\npaths:\n  /**:\n    GET: [\"*\"]\n";

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let proxy: TestProxy;
let dir: string;
const certs = new Map<string, IssuedCertificate>();

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  const revoked = await ca.issue({ cn: "revoked-01", ou: "web", eku: ["clientAuth"] });
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, crl: await ca.crl([revoked]) });
  certs.set("good", await ca.issue({ cn: "web-01", ou: "web", eku: ["clientAuth"] }));
  certs.set("expired", await ca.issue({ cn: "old-01", ou: "web", eku: ["clientAuth"], notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) }));
  certs.set("untrusted", await (await createCa({ cn: "stranger CA" })).issue({ cn: "stranger-01", ou: "web", eku: ["clientAuth"] }));
  certs.set("revoked", revoked);
  certs.set("server-only", await ca.issue({ cn: "svc-01", ou: "web", eku: ["serverAuth"] }));
  dir = tempDir();
  writeFiles(dir, { "ca.crt": ca.cert });
  for (const [name, cert] of certs) writeFiles(dir, { [`${name}.crt`]: cert.chain, [`${name}.key`]: cert.key });
});

const CASES = [
  ["expired", "certificate_expired", "expired"],
  ["untrusted", "unknown_ca", "untrusted"],
  ["revoked", "certificate_revoked", "revoked"],
  ["server-only", "unsupported_certificate", "bad_key_usage"],
  ["none", "certificate_required", "no_certificate"],
] as const;

function curlArgs(name: string, ...extra: string[]): string[] {
  const cert = name === "none" ? [] : ["--cert", join(dir, `${name}.crt`), "--key", join(dir, `${name}.key`)];
  return ["-sS", "--cacert", join(dir, "ca.crt"), ...cert, ...extra, `${proxy.url}/x`];
}

describe("a refused client certificate, as curl sees it", () => {
  test.each(CASES.flatMap(([name, alert]) => [
    [name, alert, "TLS 1.3, h2", ["--http2", "--tlsv1.3"]],
    [name, alert, "TLS 1.3, HTTP/1.1", ["--http1.1", "--tlsv1.3"]],
    [name, alert, "TLS 1.2, HTTP/1.1", ["--http1.1", "--tls-max", "1.2"]],
  ] as const))("%s: the body names alert %s (%s), curl exits 0: a clean close, not a reset", async (name, alert, _how, flags) => {
    const mark = upstream.received.length;
    const { stdout, stderr } = await run("curl", [...curlArgs(name, ...flags), "-w", "\\n%{http_code}"]);
    const lines = stdout.trimEnd().split("\n");
    const [body, status] = [lines[0], lines.at(-1)];
    expect(status).toBe("403");
    expect(JSON.parse(body!)).toMatchObject({ error: "client_certificate_refused", alert });
    expect(stderr).toBe("");
    expect(upstream.received.length).toBe(mark);
  });

  test("a good certificate is served, over h2 and HTTP/1.1", async () => {
    for (const flag of ["--http2", "--http1.1"]) {
      const { stdout } = await run("curl", [...curlArgs("good", flag), "-o", "/dev/null", "-w", "%{http_code}"]);
      expect(stdout).toBe("200");
    }
  });
});

describe("a refused client certificate, as openssl s_client sees it", () => {
  test.each(CASES.flatMap(([name, alert]) => [[name, alert, "-tls1_2"], [name, alert, "-tls1_3"]] as const))(
    "%s: the handshake completes, then the answer names alert %s (%s), then the connection closes",
    async (name, alert, version) => {
      const cert = name === "none" ? [] : ["-cert", join(dir, `${name}.crt`), "-key", join(dir, `${name}.key`)];
      const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${proxy.port}`, "-servername", "localhost", "-CAfile", join(dir, "ca.crt"), "-alpn", "http/1.1", version, "-ign_eof", ...cert]);
      onCleanup(() => child.kill("SIGKILL"));
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.stdin.end("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const [code] = (await once(child, "exit")) as [number];
      expect(out).toContain("Verify return code: 0 (ok)");
      expect(out).toContain("HTTP/1.1 403 Forbidden");
      expect(out).toContain(`"error":"client_certificate_refused","alert":"${alert}"`);
      expect(out).not.toMatch(/errno=104|Connection reset/);
      expect(code, out).toBe(0);
    },
  );
});

describe("the log line for a refused handshake", () => {
  test("names the remote address, the reason and alert, and the presented certificate's subject, issuer, serial and notAfter", async () => {
    await run("curl", curlArgs("expired")).catch(() => undefined);
    const line = proxy.logs.find({ event: "tls_handshake_failed", reason: "expired" }).at(-1)!;
    const expired = certs.get("expired")!;
    expect(line).toMatchObject({
      level: "warn",
      remote: "127.0.0.1",
      detail: "CERT_HAS_EXPIRED",
      alert: "certificate_expired",
      certificate: { subject: "OU=web, CN=old-01", issuer: "CN=guardpost test CA", serial: expired.serial, notAfter: expired.notAfter.toISOString().replace(/\.\d{3}Z$/, ".000Z") },
    });
    expect(JSON.stringify(line)).not.toContain("BEGIN");
  });

  test("without a certificate, there is none to name", async () => {
    await run("curl", curlArgs("none")).catch(() => undefined);
    const line = proxy.logs.find({ event: "tls_handshake_failed", reason: "no_certificate" }).at(-1)!;
    expect(line).toMatchObject({ remote: "127.0.0.1", alert: "certificate_required" });
    expect(line.certificate).toBeUndefined();
  });
});

/** An OpenSSL server that requires a client certificate from `trusted` and refuses others with an alert, as nginx or Envoy would. */
async function strictServer(trusted: string, version: "-tls1_2" | "-tls1_3"): Promise<number> {
  const port = await freePort();
  const server = await ca.issue({ cn: "db-01", ou: "database", sans: { dns: ["db-01.internal"] } });
  const files = writeFiles(tempDir(), { "server.crt": server.chain, "server.key": server.key, "trusted.crt": trusted });
  const child = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", files["server.crt"], "-key", files["server.key"], "-CAfile", files["trusted.crt"], "-Verify", "1", "-verify_return_error", "-www", version, "-quiet"]);
  onCleanup(() => child.kill("SIGKILL"));
  child.stderr.resume();
  child.stdout.resume();
  // Ready once it accepts a TCP connection.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = netConnect(port, "127.0.0.1");
      probe.on("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.on("error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return port;
}

describe("outbound: an upstream that refuses guardpost's certificate with an alert", () => {
  test.each(["-tls1_2", "-tls1_3"] as const)("is reported with the alert's name, not as a closed connection (%s)", async (version) => {
    const stranger = await createCa({ cn: "a CA guardpost's certificate is not from" });
    const port = await strictServer(stranger.cert, version);
    const local = await startProxy({
      ca,
      acl: ACL,
      upstream: upstream.url,
      extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${port}`, serverName: "db-01.internal" }] },
    });
    const outbound = `http://127.0.0.1:${local.guardpost.addresses.outbound.values().next().value!.port}`;
    const res = await request(`${outbound}/q`);
    expect(res.statusCode).toBe(502);
    const body = (await res.body.json()) as { error: string; reason: string };
    expect(body.error).toBe("upstream_tls_alert");
    expect(body.reason).toBe("the upstream refused the TLS connection with alert unknown_ca: it does not trust the CA that issued this service's certificate (tls.cert)");
  });
});
