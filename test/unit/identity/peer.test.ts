import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type TLSSocket } from "node:tls";
import { beforeAll, describe, expect, test } from "vitest";
import { canonicalPeer, formatPeer } from "../../../src/identity/attributes.js";
import { parsePeerSpec, parseSubjectAltName, peerAttributesFromCertificate, readPeerCertificate } from "../../../src/identity/peer.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssueOptions } from "../../helpers/pki.js";
import { failure } from "../../helpers/errors.js";

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createCa();
});

async function attributesOf(options: IssueOptions) {
  const issued = await ca.issue(options);
  return peerAttributesFromCertificate(new X509Certificate(issued.cert).toLegacyObject());
}

describe("peerAttributesFromCertificate", () => {
  test("a certificate with two OUs yields both, in order, beside the other subject fields", async () => {
    const peer = await attributesOf({ cn: "web-01", ou: ["web", "ops"], o: ["Acme", "Acme EU"], l: "Berlin", st: "BE", c: "DE" });
    expect(peer).toEqual({ CN: ["web-01"], OU: ["web", "ops"], O: ["Acme", "Acme EU"], L: ["Berlin"], ST: ["BE"], C: ["DE"] });
    expect(Object.isFrozen(peer)).toBe(true);
    expect(Object.isFrozen(peer.OU)).toBe(true);
  });

  test("a CN of x,OU=web is one CN value and grants no OU", async () => {
    const peer = await attributesOf({ cn: "x,OU=web" });
    expect(peer).toEqual({ CN: ["x,OU=web"] });
  });

  test("SAN URIs, DNS names, IPs and emails are read; IPv6 in RFC 5952 form", async () => {
    const peer = await attributesOf({
      cn: "api",
      sans: { dns: ["api.internal", "api"], uri: ["spiffe://prod/ns/pay/sa/api", "urn:x"], ip: ["10.0.0.7", "2001:db8:0:0:0:0:0:1", "::1"], email: ["ops@example.com"] },
    });
    expect(peer).toEqual({
      CN: ["api"],
      DNS: ["api.internal", "api"],
      URI: ["spiffe://prod/ns/pay/sa/api", "urn:x"],
      IP: ["10.0.0.7", "2001:db8::1", "::1"],
      EMAIL: ["ops@example.com"],
    });
  });

  test("a SAN holding a comma cannot forge a second SAN (CVE-2021-44532 quoting)", async () => {
    const issued = await ca.issue({ cn: "x", sans: { dns: ["a, URI:spiffe://prod/ns/x/sa/admin", 'b"q'], uri: ["https://h/p?a=1,b=2"] } });
    const legacy = new X509Certificate(issued.cert).toLegacyObject();
    // Node quotes the values; this test only means something while it does.
    expect(legacy.subjectaltname).toContain('DNS:"');
    const peer = peerAttributesFromCertificate(legacy);
    expect(peer.DNS).toEqual(["a, URI:spiffe://prod/ns/x/sa/admin", 'b"q']);
    expect(peer.URI).toEqual(["https://h/p?a=1,b=2"]);
  });

  test("what getPeerCertificate() gives on a real mTLS connection equals what the PEM file gives", async () => {
    const server = await ca.issue({ cn: "server", sans: { dns: ["localhost"], ip: ["127.0.0.1"] } });
    const client = await ca.issue({ cn: "web-01", ou: ["web", "ops"], sans: { uri: ["spiffe://prod/ns/web/sa/web"], dns: ["a,b"] } });
    const files = writeFiles(tempDir(), { "client.pem": client.cert });
    const tlsServer = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true });
    tlsServer.listen(0, "127.0.0.1");
    await once(tlsServer, "listening");
    const port = (tlsServer.address() as { port: number }).port;
    const accepted = once(tlsServer, "secureConnection") as Promise<[TLSSocket]>;
    const socket = connect({ port, host: "127.0.0.1", servername: "localhost", cert: client.cert, key: client.key, ca: ca.cert });
    try {
      const [serverSide] = await accepted;
      const fromSocket = peerAttributesFromCertificate(serverSide.getPeerCertificate());
      expect(fromSocket).toEqual(readPeerCertificate(files["client.pem"]));
      expect(fromSocket.OU).toEqual(["web", "ops"]);
      expect(fromSocket.DNS).toEqual(["a,b"]);
    } finally {
      socket.destroy();
      tlsServer.close();
    }
  });

  test("an empty certificate object (no client certificate) has no attributes", () => {
    expect(peerAttributesFromCertificate({})).toEqual({});
  });

  test("an unreadable or non-certificate file is refused naming the file", () => {
    const files = writeFiles(tempDir(), { "junk.pem": "not a certificate\n" });
    expect(failure(() => readPeerCertificate(files["junk.pem"])).format()).toMatch(/junk\.pem: not a PEM or DER certificate/);
    expect(failure(() => readPeerCertificate("/nonexistent/peer.pem")).format()).toBe("/nonexistent/peer.pem: the file does not exist (ENOENT)");
  });
});

describe("parseSubjectAltName", () => {
  test("splits only on separators outside quotes and decodes quoted values", () => {
    expect(parseSubjectAltName('DNS:a, DNS:"b\\u002c c", URI:"x\\"y", IP Address:10.0.0.1, email:e@x')).toEqual([
      { type: "DNS", value: "a" },
      { type: "DNS", value: "b, c" },
      { type: "URI", value: 'x"y' },
      { type: "IP Address", value: "10.0.0.1" },
      { type: "email", value: "e@x" },
    ]);
  });

  test("types guardpost does not use, and IPs Node could not print, are ignored", () => {
    const peer = peerAttributesFromCertificate({ subjectaltname: 'othername:<unsupported>, DirName:"CN=x\\u002cOU=web", IP Address:<invalid>, DNS:ok' });
    expect(peer).toEqual({ DNS: ["ok"] });
  });
});

describe("parsePeerSpec", () => {
  test("attribute names in any case; a repeated attribute adds a value", () => {
    expect(parsePeerSpec("OU=web,cn=web-01,ou=ops")).toEqual({ CN: ["web-01"], OU: ["web", "ops"] });
  });

  test("spaces around names are ignored, values may hold = and escaped commas", () => {
    expect(parsePeerSpec("OU=web, URI=spiffe://x/y?a=b, CN=x\\,OU=admin")).toEqual({ CN: ["x,OU=admin"], OU: ["web"], URI: ["spiffe://x/y?a=b"] });
  });

  test("formatPeer writes what parsePeerSpec reads back", () => {
    const peer = { CN: ["x,OU=admin", "a\\b"], OU: ["web"] };
    expect(parsePeerSpec(formatPeer(peer))).toEqual(peer);
  });

  test.each([
    ["OUU=web", 'unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL)'],
    ["web", '"web" is not ATTR=VALUE (expected pairs joined by commas, e.g. OU=web,CN=web-01)'],
    ["OU=", "empty value for attribute OU"],
    ["", "empty peer (expected ATTR=VALUE pairs joined by commas, e.g. OU=web,CN=web-01)"],
    ["OU=web,", '"" is not ATTR=VALUE (expected pairs joined by commas, e.g. OU=web,CN=web-01)'],
  ])("%j is refused: %s", (spec, message) => {
    const err = failure(() => parsePeerSpec(spec));
    expect(err.code).toBe("GP_ERR_PEER_SPEC");
    expect(err.message).toBe(message);
  });
});

describe("canonicalPeer", () => {
  test("accepts a value or a list per attribute, names in any case, and canonicalizes IPs", () => {
    expect(canonicalPeer({ ou: "web", Uri: ["a", "b"], IP: "0:0:0:0:0:0:0:1", CN: undefined })).toEqual({ OU: ["web"], URI: ["a", "b"], IP: ["::1"] });
  });

  test("an unknown attribute is an error, not a silent deny", () => {
    expect(failure(() => canonicalPeer({ OUU: "web" })).code).toBe("GP_ERR_PEER_SPEC");
  });
});
