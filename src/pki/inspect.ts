/**
 * What a certificate says, in the terms guardpost uses it by: the identity
 * attributes an ACL matches (read the same way the proxy reads a peer), the
 * usages TLS checks, and whether it fits as a server certificate, a client
 * certificate, or the service certificate of a sidecar with outbound
 * listeners (which presents it both ways). `serve --check` and
 * `guardpost pki inspect` judge by the same facts.
 */
import type { X509Certificate } from "node:crypto";
import { formatPeer, type PeerAttributes } from "../identity/attributes.js";
import { parseSubjectAltName, peerAttributesFromCertificate } from "../identity/peer.js";

const EKU_NAMES: ReadonlyMap<string, string> = new Map([
  ["1.3.6.1.5.5.7.3.1", "serverAuth"],
  ["1.3.6.1.5.5.7.3.2", "clientAuth"],
  ["1.3.6.1.5.5.7.3.3", "codeSigning"],
  ["1.3.6.1.5.5.7.3.4", "emailProtection"],
  ["1.3.6.1.5.5.7.3.8", "timeStamping"],
  ["1.3.6.1.5.5.7.3.9", "OCSPSigning"],
  ["2.5.29.37.0", "anyExtendedKeyUsage"],
]);

/** Key usage bits (RFC 5280 section 4.2.1.3) in the order the BIT STRING carries them, most significant bit first. */
const KEY_USAGE_NAMES: readonly string[] = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];

/** The DER of the keyUsage extension's OID, 2.5.29.15. */
const KEY_USAGE_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f]);

/**
 * The key usage bits by name, read from the certificate's DER; null when the
 * extension is absent. Node's X509Certificate reports extended key usage and
 * basicConstraints but not these bits, and the x509 library that would read
 * them costs about 100 ms of start-up: this reads the one extension.
 * Extensions end the TBSCertificate, so the last occurrence of the OID is the
 * extension's: extnID, optional critical BOOLEAN, then an OCTET STRING that
 * holds the BIT STRING.
 */
function keyUsageBits(der: Buffer): string[] | null {
  let at = der.lastIndexOf(KEY_USAGE_OID);
  if (at === -1) return null;
  at += KEY_USAGE_OID.length;
  if (der[at] === 0x01 && der[at + 1] === 0x01) at += 3;
  if (der[at] !== 0x04 || der[at + 2] !== 0x03) return [];
  const length = der[at + 3]!;
  const bits = der.subarray(at + 5, at + 4 + length);
  return KEY_USAGE_NAMES.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
}

export interface CertificateFacts {
  readonly cert: X509Certificate;
  /** The attributes an ACL principal matches, exactly as the proxy reads them from a peer. */
  readonly attributes: PeerAttributes;
  /** `OU=payments,CN=api`, as `--peer` takes it. */
  readonly principal: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject alternative names as `DNS:api.internal`, every type Node reports. */
  readonly sans: readonly string[];
  /** Extended key usages by name (OID when unnamed); null when the extension is absent (any usage). */
  readonly extendedKeyUsage: readonly string[] | null;
  /** Key usage bits by name; null when the extension is absent. */
  readonly keyUsage: readonly string[] | null;
  /** True for a CA certificate (basicConstraints CA:TRUE, or a version 1 self-signed root). */
  readonly isCa: boolean;
  readonly selfSigned: boolean;
  /** `ECDSA P-256`, `RSA 2048`, `Ed25519`. */
  readonly keyType: string;
}

export function certificateFacts(cert: X509Certificate): CertificateFacts {
  const selfSigned = cert.checkIssued(cert) && cert.verify(cert.publicKey);
  const attributes = peerAttributesFromCertificate(cert.toLegacyObject());
  return {
    cert,
    attributes,
    principal: formatPeer(attributes),
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    sans: cert.subjectAltName ? parseSubjectAltName(cert.subjectAltName).map((san) => `${san.type === "IP Address" ? "IP" : san.type === "email" ? "EMAIL" : san.type}:${san.value}`) : [],
    // Node names the extended key usage OIDs `keyUsage`; undefined when the extension is absent.
    extendedKeyUsage: cert.keyUsage === undefined ? null : cert.keyUsage.map((oid) => EKU_NAMES.get(oid) ?? oid),
    keyUsage: keyUsageBits(cert.raw),
    // A self-signed certificate in the bundle is a trust anchor (OpenSSL takes a version 1 root, without
    // basicConstraints, as a CA too); any other must say CA:TRUE.
    isCa: cert.ca || selfSigned,
    selfSigned,
    keyType: keyType(cert),
  };
}

function keyType(cert: X509Certificate): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") return `ECDSA ${curveName(details.namedCurve)}`;
  if (key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") return `RSA ${details.modulusLength ?? "?"}`;
  return key.asymmetricKeyType === "ed25519" ? "Ed25519" : String(key.asymmetricKeyType);
}

function curveName(curve: string | undefined): string {
  return curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : curve === "secp521r1" ? "P-521" : String(curve);
}

function oneLine(name: string): string {
  return name.split("\n").filter((part) => part !== "").join(", ");
}

/** One role a certificate may play, whether it fits, and why not. */
export interface Fit {
  readonly fits: boolean;
  /** Why it does not fit, one reason per line; empty when it fits. */
  readonly problems: readonly string[];
  /** Fits, but something will likely bite (no name a client can check). */
  readonly cautions: readonly string[];
}

const hasEku = (facts: CertificateFacts, usage: "serverAuth" | "clientAuth") =>
  facts.extendedKeyUsage === null || facts.extendedKeyUsage.includes(usage) || facts.extendedKeyUsage.includes("anyExtendedKeyUsage");

/** Both TLS 1.3 and TLS 1.2 with ECDHE sign the handshake with the certificate's key. */
const canSign = (facts: CertificateFacts) => facts.keyUsage === null || facts.keyUsage.includes("digitalSignature");

function leafProblems(facts: CertificateFacts): string[] {
  return canSign(facts) ? [] : [`its key usage (${facts.keyUsage!.join(", ") || "none"}) lacks digitalSignature, which a TLS handshake needs`];
}

function leafCautions(facts: CertificateFacts): string[] {
  return facts.isCa ? ["it is a CA certificate (basicConstraints CA:TRUE); a service or caller should have a certificate of its own, issued by the CA"] : [];
}

/** As a server certificate: guardpost's inbound listener presents it, and clients check it. */
export function fitsAsServer(facts: CertificateFacts): Fit {
  const problems = leafProblems(facts);
  if (!hasEku(facts, "serverAuth")) problems.push(`its extended key usage (${facts.extendedKeyUsage!.join(", ")}) lacks serverAuth, so clients refuse it as a server certificate`);
  const names = facts.sans.filter((san) => san.startsWith("DNS:") || san.startsWith("IP:"));
  const cautions = leafCautions(facts);
  if (names.length === 0) cautions.push("it has no DNS or IP subject alternative name, so clients that check the server's name (curl, browsers, Node, Go) refuse it");
  return { fits: problems.length === 0, problems, cautions };
}

/** As a client certificate: a caller presents it to guardpost's inbound listener, which requires clientAuth. */
export function fitsAsClient(facts: CertificateFacts): Fit {
  const problems = leafProblems(facts);
  if (!hasEku(facts, "clientAuth")) problems.push(`its extended key usage (${facts.extendedKeyUsage!.join(", ")}) lacks clientAuth, so guardpost (and most servers) refuse it as a client certificate`);
  return { fits: problems.length === 0, problems, cautions: leafCautions(facts) };
}

/** As tls.cert of a sidecar with outbound listeners: a server certificate inbound and a client certificate outbound. */
export function fitsAsOutboundIdentity(facts: CertificateFacts): Fit {
  const server = fitsAsServer(facts);
  const client = fitsAsClient(facts);
  const problems = [...new Set([...server.problems, ...client.problems])];
  return { fits: problems.length === 0, problems, cautions: server.cautions };
}

/**
 * The certificates from `chain[0]` up to a CA in `cas`, each issued and
 * signed by the next; `chain` is the leaf and the intermediates sent with it.
 * Null when no path reaches one of `cas`.
 */
export function chainTo(chain: readonly X509Certificate[], cas: readonly X509Certificate[]): X509Certificate[] | null {
  const path = [chain[0]!];
  const intermediates = chain.slice(1);
  // A chain longer than this is a loop or an attack, not a PKI.
  for (let depth = 0; depth < 10; depth++) {
    const current = path[path.length - 1]!;
    const anchor = cas.find((ca) => issuedBy(current, ca));
    if (anchor) return anchor.raw.equals(current.raw) ? path : [...path, anchor];
    const next = intermediates.find((c) => !path.includes(c) && issuedBy(current, c));
    if (!next) return null;
    path.push(next);
  }
  return null;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}
