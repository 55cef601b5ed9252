/**
 * `guardpost serve --check` catches what would pass validation and then
 * fail on the wire: certificates peers will refuse, a leaf given as a CA, a
 * service certificate from another CA (a warning), outbound listeners beyond
 * loopback, listeners that collide, and an upstream that is guardpost
 * itself. Errors and warnings are printed apart, each at the config line
 * that causes it; --strict fails on warnings.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { runCli } from "../helpers/cli.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssueOptions } from "../helpers/pki.js";

const ACL = "version: 1\npaths:\n  /x:\n    GET: [OU=web]\n";

let ca: CertificateAuthority;
let dir: string;

beforeAll(async () => {
  ca = await createCa();
  dir = tempDir();
  writeFiles(dir, { "ca.crt": ca.cert, "acl.yaml": ACL });
});

/** Writes a certificate and key issued with `options` under `name`, and a config using them; returns the config's path. */
async function setUp(name: string, config: Record<string, unknown>, issue: IssueOptions = { cn: "svc", sans: { dns: ["localhost"] } }, issuer = ca): Promise<string> {
  const cert = await issuer.issue(issue);
  writeFiles(dir, { [`${name}.crt`]: cert.chain, [`${name}.key`]: cert.key });
  writeFiles(dir, {
    [`${name}.yaml`]: stringify({
      tls: { cert: `${name}.crt`, key: `${name}.key`, ca: "ca.crt" },
      inbound: { listen: "127.0.0.1:0", upstream: "http://127.0.0.1:8080", acl: "acl.yaml" },
      admin: { listen: "127.0.0.1:0" },
      ...config,
    }),
  });
  return join(dir, `${name}.yaml`);
}

/** `line:col` of the YAML value `text` in `file` (its opening quote, if quoted), for messages that point into it; `last` for the last one. */
function at(file: string, text: string, which: "first" | "last" = "first"): string {
  const lines = readFileSync(file, "utf8").split("\n");
  const line = which === "first" ? lines.findIndex((l) => l.includes(text)) : lines.findLastIndex((l) => l.includes(text));
  if (line === -1) throw new Error(`${text} is not in ${file}`);
  const col = lines[line]!.indexOf(text);
  return `${line + 1}:${col + (/["']/.test(lines[line]![col - 1] ?? "") ? 0 : 1)}`;
}

const check = (file: string, ...flags: string[]) => runCli("serve", "--config", file, "--check", ...flags);
const OUTBOUND = [{ listen: "127.0.0.1:0", upstream: "https://db.internal:8443" }];

describe("certificates peers would refuse are errors", () => {
  test("a service certificate without serverAuth is refused: clients would refuse it", async () => {
    const file = await setUp("client-only", {}, { cn: "svc", sans: { dns: ["localhost"] }, eku: ["clientAuth"] });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(`${file}: 1 error\n`);
    expect(result.stderr).toBe(
      `${join(dir, "client-only.crt")}: the certificate cannot serve as this service's certificate: its extended key usage (clientAuth) lacks serverAuth, so clients refuse it as a server certificate. ` +
        `Issue it with serverAuth (guardpost pki issue --server) (tls.cert at ${file}:${at(file, "client-only.crt")}) [GP_ERR_TLS_CERT]\n`,
    );
  });

  test("a serverAuth-only service certificate passes without outbound listeners", async () => {
    const file = await setUp("server-only", {}, { cn: "svc", sans: { dns: ["localhost"] }, eku: ["serverAuth"] });
    expect(await check(file)).toEqual({ code: 0, stdout: `${file}: ok\n`, stderr: "" });
  });

  test("with outbound listeners it is refused: servers would refuse it as a client certificate, and every call would be a 502", async () => {
    const file = await setUp("server-only-outbound", { outbound: OUTBOUND }, { cn: "svc", sans: { dns: ["localhost"] }, eku: ["serverAuth"] });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("outbound listeners present this certificate to servers as a client certificate, and its extended key usage (serverAuth) lacks clientAuth");
    expect(result.stderr).toMatch(/\(tls\.cert at .*:2:9\) \[GP_ERR_TLS_CERT\]\n$/);
  });

  test("a leaf given as tls.ca is refused: it cannot vouch for any peer", async () => {
    const leaf = await ca.issue({ cn: "web-01", ou: "web" });
    writeFiles(dir, { "leaf-as-ca.pem": leaf.cert });
    const file = await setUp("leaf-ca", { tls: { cert: "leaf-ca.crt", key: "leaf-ca.key", ca: "leaf-as-ca.pem" } });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${join(dir, "leaf-as-ca.pem")}: certificate #1 in the CA bundle (OU=web, CN=web-01) is not a CA certificate (no basicConstraints CA:TRUE): it cannot vouch for any peer; put the CA that issued it here (tls.ca at ${file}:${at(file, "leaf-as-ca.pem")}) [GP_ERR_TLS_CA]\n`,
    );
  });

  test("a CA certificate among others in tls.ca passes, and so does an intermediate", async () => {
    const intermediate = await ca.intermediate({ cn: "issuing CA" });
    // A leaf from the intermediate, with its chain, against a bundle of the root and the intermediate.
    const leaf = await intermediate.issue({ cn: "svc", sans: { dns: ["localhost"] } });
    writeFiles(dir, { "ca-bundle.pem": `${ca.cert}${intermediate.cert}`, "from-intermediate.pem": leaf.chain, "from-intermediate.key": leaf.key });
    const file = await setUp("bundle", { tls: { cert: "from-intermediate.pem", key: "from-intermediate.key", ca: "ca-bundle.pem" } });
    expect(await check(file)).toEqual({ code: 0, stdout: `${file}: ok\n`, stderr: "" });
  });
});

describe("warnings: valid, but likely wrong", () => {
  test("a service certificate from a CA not in tls.ca is a warning, and --strict fails on it", async () => {
    const other = await createCa({ cn: "another CA" });
    const file = await setUp("other-ca", {}, { cn: "svc", sans: { dns: ["localhost"] } }, other);
    const result = await check(file);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${file}: ok, 1 warning\n`);
    expect(result.stderr).toBe(
      `${file}:${at(file, "other-ca.crt")}: warning: tls.cert ${join(dir, "other-ca.crt")} (CN=svc, issued by CN=another CA) does not chain to any CA in tls.ca ${join(dir, "ca.crt")}: ` +
        "peers that trust only those CAs will refuse guardpost. That is fine when your peers trust another CA (tls.ca is whom guardpost trusts, not who trusts guardpost) [GP_WARN_CERT_NOT_FROM_CA]\n",
    );
    const strict = await check(file, "--strict");
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe(`${file}: 1 warning, which --strict counts as failures\n`);
  });

  test("a service certificate with no DNS or IP name is a warning", async () => {
    const file = await setUp("no-san", {}, { cn: "svc" });
    const result = await check(file);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: tls\.cert .*no-san\.crt .*: it has no DNS or IP subject alternative name, so clients that check the server's name .* refuse it \[GP_WARN_CERT_USAGE\]\n$/);
  });

  test("--strict without --check is a usage error", async () => {
    expect((await runCli("serve", "--strict")).stderr).toBe("guardpost serve: --strict goes with --check (see guardpost help serve) [GP_ERR_USAGE]\n");
  });
});

describe("listeners", () => {
  test("an outbound listener beyond loopback is refused at its line unless unsafeListen allows it", async () => {
    const file = await setUp("outbound-open", { outbound: [{ listen: "0.0.0.0:9001", upstream: "https://db.internal:8443" }] });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${file}:${at(file, "0.0.0.0:9001")}: outbound[0].listen 0.0.0.0:9001 is not a loopback address: anything that can reach 0.0.0.0:9001 can call https://db.internal:8443 with this service's identity. ` +
        "Listen on 127.0.0.1 or [::1], or set outbound[0].unsafeListen: true if something else guards that address [GP_ERR_CONFIG_VALUE]\n",
    );
  });

  test("with unsafeListen: true it is allowed, and --check warns", async () => {
    const file = await setUp("outbound-unsafe", { outbound: [{ listen: "0.0.0.0:9001", upstream: "https://db.internal:8443", unsafeListen: true }] });
    const result = await check(file);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${file}: ok, 1 warning\n`);
    expect(result.stderr).toBe(
      `${file}:${at(file, "0.0.0.0:9001")}: warning: outbound[0].listen 0.0.0.0:9001 is beyond loopback (allowed by outbound[0].unsafeListen): anything that can reach 0.0.0.0:9001 can call https://db.internal:8443 with this service's identity [GP_WARN_OUTBOUND_NOT_LOOPBACK]\n`,
    );
  });

  test.each([
    ["localhost", "localhost:9001"],
    ["::1", "[::1]:9001"],
    ["a bare port (loopback by default)", "9001"],
  ])("an outbound listener on %s is loopback", async (_name, listen) => {
    const file = await setUp(`outbound-${listen.replace(/\W/g, "")}`, { outbound: [{ listen, upstream: "https://db.internal:8443" }] });
    expect((await check(file)).code).toBe(0);
  });

  test.each([
    ["the same address twice", { inbound: { listen: "127.0.0.1:9443", upstream: "http://127.0.0.1:8080", acl: "acl.yaml" }, admin: { listen: "127.0.0.1:9443" } }, ["admin.listen 127.0.0.1:9443", "inbound.listen 127.0.0.1:9443"]],
    ["a wildcard and a loopback address", { inbound: { listen: "0.0.0.0:9443", upstream: "http://127.0.0.1:8080", acl: "acl.yaml" }, outbound: [{ listen: "127.0.0.1:9443", upstream: "https://db.internal:8443" }] }, ["outbound[0].listen 127.0.0.1:9443", "inbound.listen 0.0.0.0:9443"]],
    ["localhost and ::1", { inbound: { listen: "[::1]:9443", upstream: "http://127.0.0.1:8080", acl: "acl.yaml" }, admin: { listen: "localhost:9443" } }, ["admin.listen localhost:9443", "inbound.listen [::1]:9443"]],
  ] as const)("two listeners on one address are refused at the second one's line: %s", async (name, config, [second, first]) => {
    const file = await setUp(`clash-${name.replace(/\W/g, "")}`, config);
    const result = await check(file);
    expect(result.code).toBe(2);
    const address = (text: string) => text.slice(text.indexOf(" ") + 1);
    expect(result.stderr).toBe(`${file}:${at(file, address(second), "last")}: ${second} overlaps ${first}, at ${at(file, address(first))}: two listeners cannot share an address; give each its own port [GP_ERR_CONFIG_VALUE]\n`);
  });

  test("an inbound upstream that is its own listen address is refused: every request would loop", async () => {
    const file = await setUp("loop", { inbound: { listen: "0.0.0.0:9443", upstream: "http://localhost:9443", acl: "acl.yaml" } });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${file}:${at(file, "http://localhost:9443")}: inbound.upstream http://localhost:9443 is guardpost's own inbound.listen (0.0.0.0:9443, at ${at(file, "0.0.0.0:9443")}): every request would come back into guardpost. The upstream is your service's address, e.g. http://127.0.0.1:8080 [GP_ERR_CONFIG_VALUE]\n`,
    );
  });

  test("an upstream on the same port of another host is not a loop", async () => {
    const file = await setUp("not-loop", { inbound: { listen: "0.0.0.0:9443", upstream: "http://10.1.2.3:9443", acl: "acl.yaml" } });
    expect((await check(file)).code).toBe(0);
  });

  test("a gateway route that targets an outbound listener (to re-originate mTLS) is allowed", async () => {
    const file = await setUp("bridge", {
      inbound: { listen: "127.0.0.1:0", routes: [{ pathPrefix: "/", upstream: "http://127.0.0.1:9001", acl: "acl.yaml" }] },
      outbound: [{ listen: "127.0.0.1:9001", upstream: "https://db.internal:8443" }],
    });
    expect((await check(file)).code).toBe(0);
  });
});

describe("every file the config names points home when it is missing", () => {
  test.each([
    ["tls.key", { key: "gone.key" }, "gone.key", "the private key of tls.cert: PEM, unencrypted"],
    ["tls.ca", { ca: "gone-ca.crt" }, "gone-ca.crt", "the CA certificates that peers must chain to: a PEM bundle (guardpost pki init writes ca.crt)"],
    ["tls.crl", { crl: "gone.crl" }, "gone.crl", 'a PEM CRL ("-----BEGIN X509 CRL-----") issued by a CA in tls.ca'],
  ])("%s", async (key, tls, missing, expected) => {
    const name = `missing-${missing.replace(/\W/g, "")}`;
    const file = await setUp(name, { tls: { cert: `${name}.crt`, key: `${name}.key`, ca: "ca.crt", ...tls } });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${file}:${at(file, missing)}: ${key} names ${join(dir, missing)}, which does not exist. Expected there: ${expected} [${key === "tls.crl" ? "GP_ERR_TLS_CRL" : key === "tls.key" ? "GP_ERR_TLS_KEY" : "GP_ERR_TLS_CA"}]\n`);
  });

  test("a default path the config leaves out is named as the default", async () => {
    writeFiles(dir, { "defaults.yaml": "inbound:\n  listen: 127.0.0.1:0\n  acl: acl.yaml\nadmin:\n  listen: 127.0.0.1:0\n" });
    const file = join(dir, "defaults.yaml");
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^$()|[\]\\]/g, "\\$&")}: tls\\.cert names /run/secrets/service\\.crt \\(the default: tls\\.cert is not set in the config\\), which does not exist\\.`));
  });
});

describe("several problems at once", () => {
  test("--check reports every independent error, not only the first", async () => {
    const file = await setUp("many", { inbound: { listen: "127.0.0.1:0", upstream: "http://127.0.0.1:8080", acl: "missing-acl.yaml" } }, { cn: "svc", sans: { dns: ["localhost"] }, eku: ["clientAuth"] });
    const result = await check(file);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(`${file}: 2 errors\n`);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/lacks serverAuth.*\[GP_ERR_TLS_CERT\]$/);
    expect(lines[1]).toBe(`${file}:${at(file, "missing-acl.yaml")}: inbound.acl names ${join(dir, "missing-acl.yaml")}, which does not exist. Expected there: an ACL file, as in the README's ACL reference (guardpost acl check validates one) [GP_ERR_FILE_READ]`);
  });
});
