/**
 * The RFC 2253 string of a certificate's subject, read from the DER: every
 * attribute in the certificate's own order (written last RDN first), repeated
 * attributes where they stand, a multi-valued RDN joined with `+`. Node's
 * parsed subject object cannot give this: it groups repeated attributes and
 * forgets RDN boundaries, so `OU=a,CN=x,OU=b` and `OU=a,OU=b,CN=x`, or
 * `OU=a+CN=x` and `OU=a,CN=x`, came out the same.
 *
 * The output is what `openssl x509 -noout -subject -nameopt RFC2253` prints
 * (OpenSSL's `X509_NAME_print_ex` with `XN_FLAG_RFC2253`), so an upstream can
 * compare it with what its own tools say:
 * - short names for the attribute types in `SHORT_NAMES`; any other type as
 *   its dotted OID with the value as `#` and the hex of its DER (RFC 4514
 *   section 2.4). OpenSSL knows more names than this table; for those the
 *   two differ, and both are unambiguous.
 * - values escaped as RFC 4514 section 2.4 asks: `\` before `, + " \ < > ;`,
 *   before a leading space or `#` and a trailing space; control bytes and
 *   every byte of a non-ASCII character as `\XX` (so the result is printable
 *   ASCII). A UTF8String's bytes are escaped as they are; the other string
 *   types are converted to UTF-8 first; a value that is not a string type is
 *   dumped as `#` and hex.
 * - one deliberate difference: OpenSSL leaves a value that is exactly `#`
 *   unescaped, which RFC 4514 reads as the start of a hex dump; it is
 *   written `\#` here.
 *
 * Pure and allocation-light, but not free: callers cache the result per
 * certificate (see xfcc.ts).
 */

/** OpenSSL's short names (`OBJ_nid2sn`) for the attribute types seen in certificate subjects. */
const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ["2.5.4.3", "CN"],
  ["2.5.4.4", "SN"],
  ["2.5.4.5", "serialNumber"],
  ["2.5.4.6", "C"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.9", "street"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.12", "title"],
  ["2.5.4.13", "description"],
  ["2.5.4.15", "businessCategory"],
  ["2.5.4.17", "postalCode"],
  ["2.5.4.41", "name"],
  ["2.5.4.42", "GN"],
  ["2.5.4.43", "initials"],
  ["2.5.4.44", "generationQualifier"],
  ["2.5.4.46", "dnQualifier"],
  ["2.5.4.65", "pseudonym"],
  ["2.5.4.97", "organizationIdentifier"],
  ["0.9.2342.19200300.100.1.1", "UID"],
  ["0.9.2342.19200300.100.1.25", "DC"],
  ["1.2.840.113549.1.9.1", "emailAddress"],
  ["1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"],
  ["1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"],
  ["1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"],
]);

/** Universal string tags and how their content is read (OpenSSL's tag2nbyte). */
const UTF8_STRING = 12;
const ONE_BYTE_STRINGS: ReadonlySet<number> = new Set([18, 19, 20, 22, 23, 24, 26]); // Numeric, Printable, T61, IA5, UTCTime, GeneralizedTime, Visible
const UNIVERSAL_STRING = 28;
const BMP_STRING = 30;

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;

/** RFC 4514 section 2.4: escaped with a backslash wherever they stand. */
const SPECIAL = new Uint8Array(128);
for (const c of ',+"\\<>;') SPECIAL[c.charCodeAt(0)] = 1;

const HEX = "0123456789ABCDEF";

class DerError extends Error {}

interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly content: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** One DER element at `at`, within `limit`. Single-byte tags only; lengths up to 4 bytes. */
function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new DerError("truncated");
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tag");
  let length = der[at + 1]!;
  let content = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || content + bytes > limit) throw new DerError("bad length");
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[content + i]!;
    content += bytes;
  }
  const end = content + length;
  if (end > limit) throw new DerError("truncated");
  return { tag, start: at, content, end };
}

function expectTag(tlv: Tlv, tag: number): Tlv {
  if (tlv.tag !== tag) throw new DerError(`expected tag ${tag}, got ${tlv.tag}`);
  return tlv;
}

/** The subject Name element of a DER certificate (the sixth field of TBSCertificate, after an optional version). */
function subjectName(der: Uint8Array): Tlv {
  const cert = expectTag(readTlv(der, 0, der.length), SEQUENCE);
  const tbs = expectTag(readTlv(der, cert.content, cert.end), SEQUENCE);
  let field = readTlv(der, tbs.content, tbs.end);
  if (field.tag === 0xa0) field = readTlv(der, field.end, tbs.end); // [0] version
  // serialNumber, signature, issuer, validity, then subject.
  for (let skip = 0; skip < 4; skip++) field = readTlv(der, field.end, tbs.end);
  return expectTag(field, SEQUENCE);
}

function oidText(der: Uint8Array, tlv: Tlv): string {
  if (tlv.end === tlv.content) throw new DerError("empty OID");
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.content; i < tlv.end; i++) {
    const byte = der[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large");
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if (der[tlv.end - 1]! & 0x80) throw new DerError("unterminated OID");
  return arcs.join(".");
}

/** `#` and the hex of the whole element, as RFC 4514 section 2.4 writes a value it has no string form for. */
function hexDump(der: Uint8Array, tlv: Tlv): string {
  let out = "#";
  for (let i = tlv.start; i < tlv.end; i++) out += HEX[der[i]! >> 4]! + HEX[der[i]! & 15]!;
  return out;
}

/** One byte of a value, escaped; `first`/`last`: the byte begins or ends the value. */
function escapeByte(byte: number, first: boolean, last: boolean): string {
  if (byte >= 0x80 || byte < 0x20 || byte === 0x7f) return `\\${HEX[byte >> 4]!}${HEX[byte & 15]!}`;
  if (SPECIAL[byte] === 1 || (byte === 0x20 && (first || last)) || (byte === 0x23 && first)) return `\\${String.fromCharCode(byte)}`;
  return String.fromCharCode(byte);
}

/** The UTF-8 bytes of code point `cp`, or null for a surrogate or a value beyond Unicode. */
function utf8(cp: number): number[] | null {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp >= 0xd800 && cp <= 0xdfff) return null;
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  if (cp <= 0x10ffff) return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return null;
}

/**
 * The bytes a value is escaped from: a UTF8String's own bytes (as OpenSSL
 * takes them, without decoding), other string types converted to UTF-8.
 * Null for a type with no string form, or a BMPString or UniversalString
 * holding something UTF-8 cannot carry: those are dumped as hex, which
 * (unlike OpenSSL, which drops such characters) keeps two different values
 * apart.
 */
function valueBytes(der: Uint8Array, tlv: Tlv): ArrayLike<number> | null {
  const { tag, content, end } = tlv;
  if (tag === UTF8_STRING) return der.subarray(content, end);
  const width = ONE_BYTE_STRINGS.has(tag) ? 1 : tag === BMP_STRING ? 2 : tag === UNIVERSAL_STRING ? 4 : 0;
  if (width === 0 || (end - content) % width !== 0) return null;
  const out: number[] = [];
  for (let i = content; i < end; i += width) {
    let cp = 0;
    for (let k = 0; k < width; k++) cp = cp * 256 + der[i + k]!;
    const bytes = utf8(cp);
    if (bytes === null) return null;
    out.push(...bytes);
  }
  return out;
}

function attributeValue(der: Uint8Array, tlv: Tlv): string {
  const bytes = valueBytes(der, tlv);
  if (bytes === null) return hexDump(der, tlv);
  let out = "";
  const n = bytes.length;
  for (let i = 0; i < n; i++) out += escapeByte(bytes[i]!, i === 0, i === n - 1);
  return out;
}

/** The RFC 2253 form of the Name element `name`. */
function formatName(der: Uint8Array, name: Tlv): string {
  // Each RDN as its attributes in certificate order; written in reverse, attributes included, as OpenSSL's DN_REV does.
  const rdns: string[][] = [];
  for (let at = name.content; at < name.end; ) {
    const rdn = expectTag(readTlv(der, at, name.end), SET);
    const attributes: string[] = [];
    for (let a = rdn.content; a < rdn.end; ) {
      const atv = expectTag(readTlv(der, a, rdn.end), SEQUENCE);
      const type = expectTag(readTlv(der, atv.content, atv.end), OID);
      const value = readTlv(der, type.end, atv.end);
      const oid = oidText(der, type);
      const short = SHORT_NAMES.get(oid);
      attributes.push(short === undefined ? `${oid}=${hexDump(der, value)}` : `${short}=${attributeValue(der, value)}`);
      a = atv.end;
    }
    if (attributes.length === 0) throw new DerError("empty RDN");
    rdns.push(attributes);
    at = rdn.end;
  }
  return rdns
    .reverse()
    .map((attributes) => attributes.reverse().join("+"))
    .join(",");
}

/**
 * The RFC 2253 subject of a DER certificate. The TLS library has already
 * parsed and verified the certificate, so a failure here means an encoding
 * this reader does not handle: a subject it cannot take apart is written
 * whole as `#` and hex, which still names it uniquely, and one it cannot
 * find at all as "" (the XFCC `Hash` still identifies the certificate).
 */
export function rfc2253SubjectFromDer(der: Uint8Array): string {
  let name: Tlv | null = null;
  try {
    name = subjectName(der);
    return formatName(der, name);
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    return name === null ? "" : hexDump(der, name);
  }
}
