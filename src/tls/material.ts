/**
 * Reading and validating this service's TLS material: certificate (with its
 * chain), private key, the CA bundle peers must chain to, and an optional CRL.
 * Everything is checked before use, because Node accepts some broken inputs
 * silently (a truncated CA bundle is taken without error and then rejects
 * every client). Errors name the file and the reason, never the content.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { GuardpostError, type ErrorCode } from "../errors.js";
import type { TlsConfig } from "../config/schema.js";
import { certificateFacts, fitsAsClient, fitsAsServer } from "../pki/inspect.js";
// Type only: @peculiar/x509 (with reflect-metadata and tsyringe) takes about 100 ms and several MiB
// to load, and only a configured CRL needs it, so validateCrl imports it on first use.
import type { x509 } from "../pki/x509.js";

/** Certificates that are not yet valid by less than this are accepted: clocks drift between hosts. */
const CLOCK_SKEW_MS = 5 * 60_000;

export interface TlsMaterial {
  readonly paths: TlsConfig;
  /** Leaf followed by any chain, as read. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly crlPem: string | null;
  readonly leaf: X509Certificate;
  /** The certificates of the cert file: the leaf, then any intermediates sent with it. */
  readonly chain: readonly X509Certificate[];
  readonly privateKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly caCertificates: readonly X509Certificate[];
  /** When the CRL must be replaced; null without a CRL. */
  readonly crlNextUpdate: Date | null;
  /** The serials each CA (by SHA-256 fingerprint) has revoked, in canonical form; null without a CRL. */
  readonly revoked: RevocationIndex | null;
  /** SHA-256 over cert and key: changes on every rotation of our identity. */
  readonly identityHash: string;
  /** SHA-256 over the CA bundle and CRL: changes when whom we trust changes. */
  readonly trustHash: string;
}

function readMaterialFile(read: (file: string) => string, file: string, code: ErrorCode, what: string): string {
  try {
    return read(file);
  } catch (err) {
    throw new GuardpostError(code, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file }, { cause: err });
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The PEM blocks of a file; a BEGIN line without its END (a torn write) is an error. */
function pemBlocks(text: string, file: string, code: ErrorCode): { label: string; pem: string }[] {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }));
  const begins = text.match(/-----BEGIN /g)?.length ?? 0;
  if (begins !== blocks.length) throw new GuardpostError(code, "a PEM block is truncated (BEGIN without matching END)", { file });
  return blocks;
}

function parseCertificate(pem: string, file: string, code: ErrorCode, index: number): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new GuardpostError(code, `certificate #${index + 1} in the file cannot be parsed`, { file });
  }
}

function certificates(text: string, file: string, code: ErrorCode, what: string): X509Certificate[] {
  const blocks = pemBlocks(text, file, code).filter((b) => b.label === "CERTIFICATE");
  if (blocks.length === 0) throw new GuardpostError(code, `no PEM certificate found in ${what}`, { file });
  return blocks.map((block, index) => parseCertificate(block.pem, file, code, index));
}

function utc(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}

/** What the configuration asks of the material beyond being valid. */
export interface MaterialRequirements {
  /** Outbound listeners present the service certificate as a client certificate: it needs clientAuth too. */
  readonly clientAuth?: boolean;
}

/**
 * Reads and validates the material named by `paths`. Throws a GuardpostError
 * naming the offending file; never returns something half-valid.
 */
export async function loadTlsMaterial(
  paths: TlsConfig,
  read: (file: string) => string = readUtf8,
  now: number = Date.now(),
  requirements: MaterialRequirements = {},
): Promise<TlsMaterial> {
  const certPem = readMaterialFile(read, paths.cert, "GP_ERR_TLS_CERT", "certificate");
  const keyPem = readMaterialFile(read, paths.key, "GP_ERR_TLS_KEY", "private key");
  const caPem = readMaterialFile(read, paths.ca, "GP_ERR_TLS_CA", "CA bundle");
  const crlPem = paths.crl === null ? null : readMaterialFile(read, paths.crl, "GP_ERR_TLS_CRL", "CRL");

  const chain = certificates(certPem, paths.cert, "GP_ERR_TLS_CERT", "the certificate file");
  const leaf = chain[0]!;
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) throw new GuardpostError("GP_ERR_TLS_EXPIRED", `certificate expired at ${utc(notAfter)}`, { file: paths.cert });
  if (notBefore.getTime() > now + CLOCK_SKEW_MS) throw new GuardpostError("GP_ERR_TLS_EXPIRED", `certificate is not valid before ${utc(notBefore)}`, { file: paths.cert });

  const keyBlocks = pemBlocks(keyPem, paths.key, "GP_ERR_TLS_KEY").filter((b) => b.label.endsWith("PRIVATE KEY"));
  if (keyBlocks.length !== 1) {
    throw new GuardpostError("GP_ERR_TLS_KEY", keyBlocks.length === 0 ? "no PEM private key found" : "the file holds more than one private key", { file: paths.key });
  }
  if (keyBlocks[0]!.label === "ENCRYPTED PRIVATE KEY") throw new GuardpostError("GP_ERR_TLS_KEY", "the private key is encrypted; guardpost needs an unencrypted key", { file: paths.key });
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBlocks[0]!.pem);
  } catch {
    throw new GuardpostError("GP_ERR_TLS_KEY", "the private key cannot be parsed", { file: paths.key });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new GuardpostError("GP_ERR_TLS_KEY", `the private key does not match the certificate in ${paths.cert}`, { file: paths.key });
  }

  // Usages the handshake will check, refused here rather than by every peer.
  const facts = certificateFacts(leaf);
  const server = fitsAsServer(facts);
  if (!server.fits) throw new GuardpostError("GP_ERR_TLS_CERT", `the certificate cannot serve as this service's certificate: ${server.problems.join("; ")}. Issue it with serverAuth (guardpost pki issue --server)`, { file: paths.cert });
  const client = fitsAsClient(facts);
  if (requirements.clientAuth && !client.fits) {
    throw new GuardpostError(
      "GP_ERR_TLS_CERT",
      `outbound listeners present this certificate to servers as a client certificate, and ${client.problems.join("; ")}: every outbound call would fail. Issue it with both usages (guardpost pki issue --server --client)`,
      { file: paths.cert },
    );
  }

  const caCertificates = certificates(caPem, paths.ca, "GP_ERR_TLS_CA", "the CA bundle");
  caCertificates.forEach((ca, index) => {
    const caFacts = certificateFacts(ca);
    if (!caFacts.isCa) {
      throw new GuardpostError(
        "GP_ERR_TLS_CA",
        `certificate #${index + 1} in the CA bundle (${caFacts.subject}) is not a CA certificate (no basicConstraints CA:TRUE): it cannot vouch for any peer; put the CA that issued it here`,
        { file: paths.ca },
      );
    }
  });
  const crl = crlPem === null ? null : await validateCrl(crlPem, paths.crl!, caCertificates, now);

  try {
    createSecureContext(contextOptions({ certPem, keyPem, caPem, crlPem, minVersion: paths.minVersion }));
  } catch (err) {
    // OpenSSL's reason, without any file content.
    throw new GuardpostError("GP_ERR_TLS_CERT", `the TLS library refused the material: ${(err as Error).message.split("\n")[0]}`, { file: paths.cert });
  }

  return Object.freeze({
    paths,
    certPem,
    keyPem,
    caPem,
    crlPem,
    leaf,
    chain: Object.freeze(chain),
    privateKey,
    notBefore,
    notAfter,
    caCertificates: Object.freeze(caCertificates),
    crlNextUpdate: crl?.nextUpdate ?? null,
    revoked: crl?.revoked ?? null,
    identityHash: sha256(certPem, keyPem),
    trustHash: sha256(caPem, crlPem ?? ""),
  });
}

/** CA fingerprint (SHA-256, as X509Certificate#fingerprint256 writes it) -> the serials its CRL revokes (see `canonicalSerial`). */
export type RevocationIndex = ReadonlyMap<string, ReadonlySet<string>>;

/** Serials compare as upper-case hex without leading zeros (libraries differ in both). */
export function canonicalSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, "");
}

/**
 * A CRL must parse, be signed by one of our CAs (OpenSSL fails every
 * handshake on a bad CRL signature) and not be past its
 * nextUpdate: OpenSSL rejects every client when the CRL has expired.
 * Returns the earliest nextUpdate and the revoked serials by issuer.
 */
async function validateCrl(crlPem: string, file: string, cas: readonly X509Certificate[], now: number): Promise<{ nextUpdate: Date | null; revoked: RevocationIndex }> {
  const { x509 } = await import("../pki/x509.js");
  const blocks = pemBlocks(crlPem, file, "GP_ERR_TLS_CRL").filter((b) => b.label === "X509 CRL");
  if (blocks.length === 0) throw new GuardpostError("GP_ERR_TLS_CRL", 'no PEM CRL ("-----BEGIN X509 CRL-----") found', { file });
  let earliest: Date | null = null;
  const revoked = new Map<string, Set<string>>();
  for (const [index, block] of blocks.entries()) {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(block.pem);
    } catch {
      throw new GuardpostError("GP_ERR_TLS_CRL", `CRL #${index + 1} in the file cannot be parsed`, { file });
    }
    const issuerIndex = cas.findIndex((ca) => new x509.X509Certificate(ca.raw).subjectName.toString() === crl.issuerName.toString());
    const issuer = issuerIndex === -1 ? undefined : new x509.X509Certificate(cas[issuerIndex]!.raw);
    if (!issuer) throw new GuardpostError("GP_ERR_TLS_CRL", `CRL #${index + 1} is issued by "${crl.issuer}", which is not in the CA bundle`, { file });
    if (!(await crl.verify({ publicKey: issuer.publicKey }))) {
      throw new GuardpostError("GP_ERR_TLS_CRL", `CRL #${index + 1} has a signature that does not verify with its issuer's key`, { file });
    }
    if (crl.nextUpdate && crl.nextUpdate.getTime() <= now) {
      throw new GuardpostError("GP_ERR_TLS_CRL", `CRL #${index + 1} expired at ${utc(crl.nextUpdate)} (its nextUpdate); OpenSSL would refuse every client`, { file });
    }
    if (crl.nextUpdate && (earliest === null || crl.nextUpdate < earliest)) earliest = crl.nextUpdate;
    const fingerprint = cas[issuerIndex]!.fingerprint256;
    const serials = revoked.get(fingerprint) ?? new Set<string>();
    for (const entry of crl.entries) serials.add(canonicalSerial(entry.serialNumber));
    revoked.set(fingerprint, serials);
  }
  return { nextUpdate: earliest, revoked };
}

/** The full option set for a secure context. setSecureContext() resets every option left out. */
export function contextOptions(material: { certPem: string; keyPem: string; caPem: string; crlPem: string | null; minVersion: TlsConfig["minVersion"] }): SecureContextOptions {
  const options: SecureContextOptions = {
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    minVersion: material.minVersion,
  };
  if (material.crlPem !== null) options.crl = material.crlPem;
  return options;
}

function readUtf8(file: string): string {
  return readFileSync(file, "utf8");
}

function sha256(...parts: string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}
