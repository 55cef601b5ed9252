/**
 * `guardpost pki`: the CA and certificates it writes are what guardpost and
 * OpenSSL expect (usages, key usage, SANs, validity, key file modes), it
 * refuses what would be a mistake, and `inspect` says what guardpost reads
 * and which role a certificate fits.
 */
import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { runCli } from "../helpers/cli.js";
import { createCa, tempDir } from "../helpers/pki.js";

const run = promisify(execFile);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: string;

beforeAll(async () => {
  dir = tempDir();
  expect((await runCli("pki", "init", join(dir, "pki"))).code).toBe(0);
});

const cert = (name: string) => new X509Certificate(readFileSync(join(dir, "pki", `${name}.crt`)));
const mode = (name: string) => statSync(join(dir, "pki", name)).mode & 0o777;

/** OpenSSL's reading of one extension, for checking what we wrote without our own parser. */
async function opensslExtension(file: string, extension: string): Promise<string> {
  const { stdout } = await run("openssl", ["x509", "-in", file, "-noout", "-ext", extension]);
  return stdout.split("\n").slice(1).join(" ").replace(/\s+/g, " ").trim();
}

describe("pki init", () => {
  test("writes a self-signed P-256 CA certificate and a key only its owner can read", () => {
    const ca = cert("ca");
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe("CN=guardpost development CA");
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(mode("ca.key")).toBe(0o600);
    expect(new Date(ca.validTo).getTime() - Date.now()).toBeGreaterThan(364 * DAY);
  });

  test("refuses to overwrite an existing CA unless --force", async () => {
    const result = await runCli("pki", "init", join(dir, "pki"));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`guardpost pki init: ${join(dir, "pki/ca.crt")} and ${join(dir, "pki/ca.key")} already exist; add --force to replace them (see guardpost help pki init) [GP_ERR_USAGE]\n`);
  });
});

describe("pki issue", () => {
  test("--server --client: both extended usages, digitalSignature, the SANs asked for, signed by the CA; key mode 0600", async () => {
    const result = await runCli("pki", "issue", join(dir, "pki"), "--cn", "api", "--ou", "payments", "--san", "DNS:api.internal", "--san", "IP:127.0.0.1", "--san", "URI:spiffe://prod/ns/pay/sa/api", "--server", "--client");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^wrote .*\/pki\/api\.crt {2}CN=api,OU=payments,DNS=api\.internal,URI=spiffe:\/\/prod\/ns\/pay\/sa\/api,IP=127\.0\.0\.1; serverAuth, clientAuth; /);
    const file = join(dir, "pki/api.crt");
    expect(await opensslExtension(file, "extendedKeyUsage")).toBe("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(await opensslExtension(file, "keyUsage")).toBe("Digital Signature");
    expect(await opensslExtension(file, "basicConstraints")).toBe("CA:FALSE");
    expect(await opensslExtension(file, "subjectAltName")).toBe("DNS:api.internal, URI:spiffe://prod/ns/pay/sa/api, IP Address:127.0.0.1");
    await run("openssl", ["verify", "-CAfile", join(dir, "pki/ca.crt"), "-purpose", "sslserver", file]);
    await run("openssl", ["verify", "-CAfile", join(dir, "pki/ca.crt"), "-purpose", "sslclient", file]);
    expect(mode("api.key")).toBe(0o600);
    expect(cert("api").checkPrivateKey(createPrivateKey(readFileSync(join(dir, "pki/api.key"))))).toBe(true);
  });

  test("--client only: clientAuth alone, and OpenSSL refuses it as a server certificate", async () => {
    expect((await runCli("pki", "issue", join(dir, "pki"), "--cn", "web-01", "--ou", "web", "--client", "--name", "web")).code).toBe(0);
    const file = join(dir, "pki/web.crt");
    expect(await opensslExtension(file, "extendedKeyUsage")).toBe("TLS Web Client Authentication");
    await expect(run("openssl", ["verify", "-CAfile", join(dir, "pki/ca.crt"), "-purpose", "sslserver", file])).rejects.toThrow();
  });

  test("--hours and --days set the validity; the certificate starts a few minutes in the past for clock skew", async () => {
    await runCli("pki", "issue", join(dir, "pki"), "--cn", "short", "--client", "--hours", "2");
    const short = cert("short");
    const lifetime = new Date(short.validTo).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(2 * HOUR - 60_000);
    expect(lifetime).toBeLessThanOrEqual(2 * HOUR);
    expect(Date.now() - new Date(short.validFrom).getTime()).toBeGreaterThan(60_000);
    await runCli("pki", "issue", join(dir, "pki"), "--cn", "long", "--client", "--days", "90");
    expect(new Date(cert("long").validTo).getTime() - Date.now()).toBeGreaterThan(89 * DAY);
  });

  test("a certificate may not outlive its CA", async () => {
    const result = await runCli("pki", "issue", join(dir, "pki"), "--cn", "forever", "--client", "--days", "4000");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^.*\/pki\/ca\.crt: the certificate would outlive its CA \(valid until .*\); ask for fewer days, or make a new CA with guardpost pki init .* --force \[GP_ERR_PKI\]\n$/);
  });

  test.each([
    [["--cn", "x"], "say what the certificate is for: --server (guardpost's own tls.cert), --client (a caller), or both (tls.cert with outbound listeners)"],
    [["--server"], "--cn is required (the name an ACL matches as CN=...)"],
    [["--cn", "x", "--server", "--san", "api.internal"], '--san "api.internal": write TYPE:VALUE, e.g. DNS:api.internal, IP:127.0.0.1, URI:spiffe://prod/ns/pay/sa/api or EMAIL:ops@example.com'],
    [["--cn", "x", "--server", "--san", "IP:300.1.1.1"], '--san "IP:300.1.1.1": not an IPv4 or IPv6 address'],
    [["--cn", "x", "--client", "--days", "2", "--hours", "3"], "give --days or --hours, not both"],
    [["--cn", "x", "--client", "--days", "zero"], '--days must be a whole number of at least 1 (got "zero")'],
    [["--cn", "ca", "--client"], '"ca" is the CA\'s own file name; choose another with --name'],
  ])("%j is a usage error", async (args, message) => {
    expect(await runCli("pki", "issue", join(dir, "pki"), ...args)).toEqual({ code: 2, stdout: "", stderr: `guardpost pki issue: ${message} (see guardpost help pki issue) [GP_ERR_USAGE]\n` });
  });

  test("without a CA in the folder it says how to make one", async () => {
    const empty = tempDir();
    expect(await runCli("pki", "issue", empty, "--cn", "x", "--client")).toEqual({ code: 2, stdout: "", stderr: `${join(empty, "ca.crt")}: no CA here; make one with guardpost pki init ${empty} [GP_ERR_PKI]\n` });
  });

  test("refuses to overwrite a certificate unless --force, and --force keeps the key private", async () => {
    const again = await runCli("pki", "issue", join(dir, "pki"), "--cn", "web-01", "--client", "--name", "web");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exist; add --force to replace them");
    writeFileSync(join(dir, "pki/web.key"), "loose", { mode: 0o644 });
    expect((await runCli("pki", "issue", join(dir, "pki"), "--cn", "web-01", "--client", "--name", "web", "--force")).code).toBe(0);
    expect(mode("web.key")).toBe(0o600);
  });

  test("a --server certificate without a DNS or IP name is issued with a warning", async () => {
    const result = await runCli("pki", "issue", join(dir, "pki"), "--cn", "nameless", "--server");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("warning: it has no DNS or IP subject alternative name, so clients that check the server's name (curl, browsers, Node, Go) refuse it; add --san DNS:<name> or --san IP:<address>\n");
  });

  test("it signs with a CA made elsewhere (OpenSSL's SEC1 key)", async () => {
    const other = tempDir();
    await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(other, "ca.key.pkcs8"), "-out", join(other, "ca.crt"), "-subj", "/CN=openssl CA", "-days", "30"]);
    await run("openssl", ["ec", "-in", join(other, "ca.key.pkcs8"), "-out", join(other, "ca.key")]);
    expect(readFileSync(join(other, "ca.key"), "utf8")).toContain("BEGIN EC PRIVATE KEY");
    expect((await runCli("pki", "issue", other, "--cn", "svc", "--server", "--san", "DNS:localhost", "--days", "7")).code).toBe(0);
    await run("openssl", ["verify", "-CAfile", join(other, "ca.crt"), "-purpose", "sslserver", join(other, "svc.crt")]);
  });
});

describe("pki inspect", () => {
  test("shows the ACL attributes, usages, the chain to ca.crt next to it, and what it fits", async () => {
    const result = await runCli("pki", "inspect", join(dir, "pki/api.crt"));
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain("  ACL attributes:  CN=api,OU=payments,DNS=api.internal,URI=spiffe://prod/ns/pay/sa/api,IP=127.0.0.1\n");
    expect(out).toContain("  subject:         OU=payments, CN=api\n");
    expect(out).toContain(`  serial:          ${cert("api").serialNumber.toUpperCase()}\n`);
    expect(out).toContain("  extended usage:  serverAuth, clientAuth\n");
    expect(out).toContain("  key usage:       digitalSignature\n");
    expect(out).toContain("  key:             ECDSA P-256\n");
    expect(out).toContain(`chain: OU=payments, CN=api -> CN=guardpost development CA (in ${join(dir, "pki/ca.crt")}): verified\n`);
    expect(out).toContain("fits as:\n  guardpost's server certificate (tls.cert): yes\n  a caller's client certificate: yes\n  tls.cert with outbound listeners (server and client): yes\n");
  });

  test("a client-only certificate does not fit as a server certificate, and says why", async () => {
    const out = (await runCli("pki", "inspect", join(dir, "pki/web.crt"))).stdout;
    expect(out).toContain("  guardpost's server certificate (tls.cert): no\n    - its extended key usage (clientAuth) lacks serverAuth, so clients refuse it as a server certificate\n");
    expect(out).toContain("  a caller's client certificate: yes\n");
    expect(out).toContain("  tls.cert with outbound listeners (server and client): no\n");
  });

  test("a certificate from another CA does not chain to the one given with --ca", async () => {
    const other = await createCa({ cn: "another CA" });
    const stranger = await other.issue({ cn: "stranger", ou: "ops" });
    const file = join(tempDir(), "stranger.crt");
    writeFileSync(file, stranger.cert);
    const out = (await runCli("pki", "inspect", file, "--ca", join(dir, "pki/ca.crt"))).stdout;
    expect(out).toContain(`chain: does not chain to any CA in ${join(dir, "pki/ca.crt")}: peers that trust only those CAs refuse it\n`);
  });

  test("a CA certificate fits as tls.ca only", async () => {
    const out = (await runCli("pki", "inspect", join(dir, "pki/ca.crt"))).stdout;
    expect(out).toContain("(a CA certificate)");
    expect(out).toContain("  CA:              yes\n");
    expect(out).toContain("fits as:\n  tls.ca (a CA that peers chain to): yes\n");
  });

  test("a key file is not a certificate, and it says so", async () => {
    const result = await runCli("pki", "inspect", join(dir, "pki/api.key"));
    expect(result).toEqual({ code: 2, stdout: "", stderr: `${join(dir, "pki/api.key")}: no PEM certificate ("-----BEGIN CERTIFICATE-----") in the file (this looks like a private key; inspect the .crt file) [GP_ERR_TLS_CERT]\n` });
  });
});
