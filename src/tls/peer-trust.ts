/**
 * Whether a client certificate accepted at an earlier handshake is still
 * trusted by the CA bundle and CRL in service now. Open connections outlive
 * rotations; when whom we trust changes, each one is judged again by this,
 * so that a revoked or no longer trusted client cannot keep a keep-alive
 * connection open until its maximum age.
 *
 * It follows what OpenSSL checks at a handshake, as Node configures it: the
 * chain must end at a self-signed certificate from the bundle, each
 * certificate signed by the next; with a CRL, every certificate in the chain
 * (Node sets X509_V_FLAG_CRL_CHECK_ALL) needs a CRL from its issuer and must
 * not be on it. Where it cannot tell, it answers untrusted: a closed
 * connection costs a reconnect, a wrongly open one costs the point of a CRL.
 */
import type { X509Certificate } from "node:crypto";
import { canonicalSerial, type TlsMaterial } from "./material.js";

export type TrustProblem = "untrusted" | "revoked" | "crl";

/** The longest chain followed; OpenSSL's default depth limit is 100, real ones are 2 or 3. */
const MAX_DEPTH = 10;

/** The certificates a TLS peer presented, leaf first, from the leaf `getPeerX509Certificate()` returns. */
export function presentedChain(leaf: X509Certificate): X509Certificate[] {
  const chain = [leaf];
  for (let cert = leaf.issuerCertificate; cert !== undefined && chain.length < MAX_DEPTH; cert = cert.issuerCertificate) {
    if (chain.some((seen) => seen.fingerprint256 === cert!.fingerprint256)) break;
    chain.push(cert);
  }
  return chain;
}

/** Null when the peer that presented `chain` (leaf first) is still trusted under `material`. */
export function peerTrustProblem(chain: readonly X509Certificate[], material: Pick<TlsMaterial, "caCertificates" | "revoked">): TrustProblem | null {
  let cert = chain[0];
  if (cert === undefined) return "untrusted";
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const issuer = issuerOf(cert, material.caCertificates, chain);
    if (issuer === null) return "untrusted";
    if (material.revoked !== null) {
      const revokedByIssuer = material.revoked.get(issuer.fingerprint256);
      if (revokedByIssuer === undefined) return "crl";
      if (revokedByIssuer.has(canonicalSerial(cert.serialNumber))) return "revoked";
    }
    if (issuer === cert || issuer.fingerprint256 === cert.fingerprint256) {
      // A self-signed certificate ends the chain: it is trusted only as a member of the bundle.
      return material.caCertificates.some((ca) => ca.fingerprint256 === cert.fingerprint256) ? null : "untrusted";
    }
    cert = issuer;
  }
  return "untrusted";
}

/**
 * The certificate that signed `cert`: one from the bundle in service first
 * (the trust anchor), else one the client presented.
 */
function issuerOf(cert: X509Certificate, bundle: readonly X509Certificate[], presented: readonly X509Certificate[]): X509Certificate | null {
  for (const ca of bundle) if (signs(ca, cert)) return ca;
  for (const candidate of presented) if (candidate !== cert && signs(candidate, cert)) return candidate;
  return null;
}

function signs(issuer: X509Certificate, cert: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}
