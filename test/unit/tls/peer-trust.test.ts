/**
 * Judging an open connection's client certificate again after a CA or CRL
 * change: the same answer a new handshake would get, checked here against
 * real chains (root -> leaf and root -> intermediate -> leaf) and real CRLs.
 */
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { loadTlsMaterial, type TlsMaterial } from "../../../src/tls/material.js";
import { peerTrustProblem } from "../../../src/tls/peer-trust.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../../helpers/pki.js";

let root: CertificateAuthority;
let intermediate: CertificateAuthority;
let direct: IssuedCertificate;
let viaIntermediate: IssuedCertificate;
let server: IssuedCertificate;

beforeAll(async () => {
  root = await createCa({ cn: "trust root" });
  intermediate = await root.intermediate({ cn: "trust intermediate" });
  direct = await root.issue({ cn: "direct", ou: "web" });
  viaIntermediate = await intermediate.issue({ cn: "via-intermediate", ou: "web" });
  server = await root.issue({ cn: "server", sans: { dns: ["localhost"] } });
});

/** The material guardpost would have in service with this CA bundle and CRL file. */
async function material(caPem: string, crlPem: string | null = null): Promise<TlsMaterial> {
  const files = new Map([
    ["cert", server.chain],
    ["key", server.key],
    ["ca", caPem],
    ["crl", crlPem ?? ""],
  ]);
  return loadTlsMaterial({ cert: "cert", key: "key", ca: "ca", crl: crlPem === null ? null : "crl", minVersion: "TLSv1.2", sessionIdCache: false }, (file) => files.get(file)!);
}

/** What a client presents: its leaf and the intermediates in its chain file. */
function presented(cert: IssuedCertificate): X509Certificate[] {
  return cert.chain
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((pem) => pem.includes("BEGIN CERTIFICATE"))
    .map((pem) => new X509Certificate(pem));
}

describe("judging a connected peer again under new trust", () => {
  test("a chain to a root in the bundle is trusted, directly or through the intermediate it presented", async () => {
    const trust = await material(root.cert);
    expect(peerTrustProblem(presented(direct), trust)).toBeNull();
    expect(peerTrustProblem(presented(viaIntermediate), trust)).toBeNull();
  });

  test("after the bundle is swapped for another CA, the old clients are untrusted", async () => {
    const trust = await material((await createCa({ cn: "someone else" })).cert);
    expect(peerTrustProblem(presented(direct), trust)).toBe("untrusted");
    expect(peerTrustProblem(presented(viaIntermediate), trust)).toBe("untrusted");
  });

  test("an intermediate alone in the bundle is not a trust anchor (OpenSSL needs the self-signed root)", async () => {
    const trust = await material(intermediate.cert);
    expect(peerTrustProblem(presented(viaIntermediate), trust)).toBe("untrusted");
  });

  test("a leaf the CRL names is revoked; one it does not name is not", async () => {
    const trust = await material(root.cert, await root.crl([direct]));
    expect(peerTrustProblem(presented(direct), trust)).toBe("revoked");
    const other = await root.issue({ cn: "other", ou: "web" });
    expect(peerTrustProblem(presented(other), trust)).toBeNull();
  });

  // guardpost takes a CRL only from a CA in the bundle, so with an intermediate's CRL the bundle holds it too.
  test("with a CRL, every certificate in the chain needs its issuer's CRL, as OpenSSL's CRL_CHECK_ALL asks", async () => {
    const bundle = `${root.cert}${intermediate.cert}`;
    const rootOnly = await material(bundle, await root.crl([]));
    expect(peerTrustProblem(presented(viaIntermediate), rootOnly)).toBe("crl");
    const both = await material(bundle, `${await root.crl([])}${await intermediate.crl([])}`);
    expect(peerTrustProblem(presented(viaIntermediate), both)).toBeNull();
  });

  test("a revoked intermediate revokes every leaf under it; a revoked leaf under it is revoked", async () => {
    const bundle = `${root.cert}${intermediate.cert}`;
    const intermediateCert = presented(viaIntermediate)[1]!;
    const intermediateRevoked = await material(bundle, `${await root.crl([intermediateCert.serialNumber])}${await intermediate.crl([])}`);
    expect(peerTrustProblem(presented(viaIntermediate), intermediateRevoked)).toBe("revoked");
    const leafRevoked = await material(bundle, `${await root.crl([])}${await intermediate.crl([viaIntermediate])}`);
    expect(peerTrustProblem(presented(viaIntermediate), leafRevoked)).toBe("revoked");
  });

  test("a self-signed leaf that copies the root's name is untrusted", async () => {
    const impostor = await createCa({ cn: "trust root" });
    const trust = await material(root.cert);
    expect(peerTrustProblem([new X509Certificate(impostor.cert)], trust)).toBe("untrusted");
    expect(peerTrustProblem([], trust)).toBe("untrusted");
  });
});
