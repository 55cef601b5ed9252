/**
 * A small certificate authority for throwaway PKIs: the demo makes one in a
 * temp dir, the tests make one per suite. ECDSA P-256 by default; RSA on
 * request. Subjects are built attribute by attribute, never from a DN
 * string, so values such as `x,OU=web` stay one attribute value; `rdns`
 * spells a subject out exactly (order, repeats, multi-valued RDNs, string
 * types) for tests of how names are read.
 */
import { randomBytes, webcrypto } from "node:crypto";
import { x509 } from "./x509.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EcdsaParams = webcrypto.EcdsaParams;


export type KeyType = "p256" | "p384" | "rsa2048";
export type ExtendedKeyUsageName = "serverAuth" | "clientAuth";

/** An attribute value: a string (encoded as a UTF8String), or an explicitly typed one such as `{ printableString: "DE" }`. */
export type SubjectValue = string | x509.JsonAttributeObject;
/** One attribute: its type (`CN`, `OU`, `O`, `L`, `ST`, `C`, `DC`, `E`, ..., or a dotted OID) and value. */
export type SubjectAttribute = readonly [type: string, value: SubjectValue];

export interface SubjectFields {
  cn?: string;
  ou?: string | readonly string[];
  o?: string | readonly string[];
  l?: string;
  st?: string;
  c?: string;
  /**
   * The subject exactly, instead of the fields above: RDNs in certificate
   * order (most general first), each a list of attributes, several for a
   * multi-valued RDN (`OU=a+CN=x`). A type repeated within one RDN is
   * encoded next to its first occurrence.
   */
  rdns?: readonly (readonly SubjectAttribute[])[];
}

export interface IssueOptions extends SubjectFields {
  sans?: { dns?: readonly string[]; uri?: readonly string[]; ip?: readonly string[]; email?: readonly string[] };
  /** Extended key usages; default both serverAuth and clientAuth; `null` leaves the extension out. */
  eku?: readonly ExtendedKeyUsageName[] | null;
  notBefore?: Date;
  notAfter?: Date;
  keyType?: KeyType;
  serial?: string;
}

export interface IssuedCertificate {
  /** The leaf certificate, PEM. */
  readonly cert: string;
  /** The leaf followed by any intermediates between it and the root, PEM. */
  readonly chain: string;
  /** PKCS#8 private key, PEM. */
  readonly key: string;
  readonly der: Buffer;
  /** Serial number, upper-case hex as Node's getPeerCertificate() reports it. */
  readonly serial: string;
  readonly notAfter: Date;
}

export interface CrlOptions {
  thisUpdate?: Date;
  nextUpdate?: Date;
}

export interface CertificateAuthority extends IssuedCertificate {
  readonly name: string;
  issue(options?: IssueOptions): Promise<IssuedCertificate>;
  /** An intermediate CA signed by this one. */
  intermediate(options?: SubjectFields & { notAfter?: Date; keyType?: KeyType }): Promise<CertificateAuthority>;
  /** A PEM CRL signed by this CA revoking the given certificates or hex serials. */
  crl(revoked?: ReadonlyArray<IssuedCertificate | string>, options?: CrlOptions): Promise<string>;
}

const HOUR = 3_600_000;
const CLOCK_SKEW_MS = 5 * 60_000;

const keyAlgorithms: Record<KeyType, { generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: EcdsaParams | webcrypto.Algorithm }> = {
  p256: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams },
  p384: { generate: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams },
  rsa2048: {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};

export async function createCa(options: SubjectFields & { notBefore?: Date; notAfter?: Date; keyType?: KeyType } = {}): Promise<CertificateAuthority> {
  const keyType = options.keyType ?? "p256";
  const keys = await generateKeys(keyType);
  const name = subjectName({ cn: "guardpost test CA", ...options });
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    keys,
    notBefore: options.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 24 * HOUR),
    signingAlgorithm: keyAlgorithms[keyType].sign,
    extensions: await caExtensions(keys.publicKey),
  });
  return authority(cert, keys, keyType, []);
}

async function authority(cert: x509.X509Certificate, keys: CryptoKeyPair, keyType: KeyType, parents: readonly x509.X509Certificate[]): Promise<CertificateAuthority> {
  const self = await describe(cert, keys.privateKey, parents);
  return {
    ...self,
    name: cert.subject,
    issue: async (options = {}) => {
      const leafType = options.keyType ?? "p256";
      const leafKeys = await generateKeys(leafType);
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (leafType === "rsa2048" ? x509.KeyUsageFlags.keyEncipherment : 0), true),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(cert),
      ];
      const eku = options.eku === undefined ? (["serverAuth", "clientAuth"] as const) : options.eku;
      if (eku) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((usage) => x509.ExtendedKeyUsage[usage])));
      const names = generalNames(options.sans);
      if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: options.serial ?? randomSerial(),
        subject: subjectName(options),
        issuer: cert.subjectName,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        notBefore: options.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS),
        notAfter: options.notAfter ?? new Date(Date.now() + 24 * HOUR),
        signingAlgorithm: keyAlgorithms[keyType].sign,
        extensions,
      });
      return describe(leaf, leafKeys.privateKey, [cert, ...parents].filter((c) => !isSelfSigned(c)));
    },
    intermediate: async (options = {}) => {
      const childType = options.keyType ?? "p256";
      const childKeys = await generateKeys(childType);
      const child = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: subjectName({ cn: "guardpost test intermediate CA", ...options }),
        issuer: cert.subjectName,
        publicKey: childKeys.publicKey,
        signingKey: keys.privateKey,
        notBefore: new Date(Date.now() - CLOCK_SKEW_MS),
        notAfter: options.notAfter ?? new Date(Date.now() + 24 * HOUR),
        signingAlgorithm: keyAlgorithms[keyType].sign,
        extensions: [...(await caExtensions(childKeys.publicKey)), await x509.AuthorityKeyIdentifierExtension.create(cert)],
      });
      return authority(child, childKeys, childType, [cert, ...parents]);
    },
    crl: async (revoked = [], options = {}) => {
      const crl = await x509.X509CrlGenerator.create({
        issuer: cert.subjectName,
        thisUpdate: options.thisUpdate ?? new Date(Date.now() - CLOCK_SKEW_MS),
        nextUpdate: options.nextUpdate ?? new Date(Date.now() + 24 * HOUR),
        signingKey: keys.privateKey,
        signingAlgorithm: keyAlgorithms[keyType].sign,
        extensions: [await x509.AuthorityKeyIdentifierExtension.create(cert)],
        entries: revoked.map((entry) => ({
          serialNumber: typeof entry === "string" ? entry : entry.serial,
          revocationDate: new Date(Date.now() - CLOCK_SKEW_MS),
          reason: x509.X509CrlReason.keyCompromise,
        })),
      });
      // OpenSSL reads only the "X509 CRL" PEM label; the library writes "CRL".
      return `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`;
    },
  };
}

async function describe(cert: x509.X509Certificate, privateKey: CryptoKey, intermediates: readonly x509.X509Certificate[]): Promise<IssuedCertificate> {
  const pem = cert.toString("pem");
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", privateKey);
  return {
    cert: `${pem}\n`,
    chain: [pem, ...intermediates.map((c) => c.toString("pem"))].join("\n") + "\n",
    key: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
    der: Buffer.from(cert.rawData),
    serial: cert.serialNumber.toUpperCase(),
    notAfter: cert.notAfter,
  };
}

async function generateKeys(keyType: KeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithms[keyType].generate, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function caExtensions(publicKey: CryptoKey): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
}

/**
 * One RDN per value, each an explicit UTF8String (C a PrintableString, as
 * RFC 5280 requires): the library would read a plain value starting with "#"
 * as hex. With `rdns`, exactly the RDNs given.
 */
function subjectName(fields: SubjectFields): x509.Name {
  if (fields.rdns !== undefined) {
    const others = (["cn", "ou", "o", "l", "st", "c"] as const).filter((key) => fields[key] !== undefined);
    if (others.length > 0) throw new Error(`a subject is given either as rdns or as fields, not both (also got ${others.join(", ")})`);
    return new x509.Name(
      fields.rdns.map((rdn) => {
        if (rdn.length === 0) throw new Error("an RDN needs at least one attribute");
        const set = Object.create(null) as x509.JsonAttributeAndObjectValue;
        for (const [type, value] of rdn) {
          const values = set[type] ?? [];
          values.push(typeof value === "string" ? { utf8String: value } : value);
          set[type] = values;
        }
        return set;
      }),
    );
  }
  const rdns: x509.JsonAttributeAndObjectValue[] = [];
  const add = (attr: string, value: string | readonly string[] | undefined) => {
    if (value === undefined) return;
    for (const v of typeof value === "string" ? [value] : value) rdns.push({ [attr]: [attr === "C" ? { printableString: v } : { utf8String: v }] });
  };
  add("C", fields.c);
  add("ST", fields.st);
  add("L", fields.l);
  add("O", fields.o);
  add("OU", fields.ou);
  add("CN", fields.cn);
  return new x509.Name(rdns);
}

function generalNames(sans: IssueOptions["sans"]): x509.JsonGeneralName[] {
  if (!sans) return [];
  return [
    ...(sans.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(sans.uri ?? []).map((value) => ({ type: "url" as const, value })),
    ...(sans.ip ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(sans.email ?? []).map((value) => ({ type: "email" as const, value })),
  ];
}

/** 16 random bytes with the top bit clear: a positive serial, as RFC 5280 section 4.1.2.2 requires. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString("hex");
}

function isSelfSigned(cert: x509.X509Certificate): boolean {
  return cert.subject === cert.issuer;
}
