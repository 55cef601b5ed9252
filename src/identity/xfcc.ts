/**
 * The `x-forwarded-client-cert` value in Envoy's format:
 * `Hash=<sha256 of the peer DER>;Subject="<RFC 2253 subject>";URI=<uri>;DNS=<dns>`.
 * Every value taken from a certificate is escaped so that no certificate can
 * end the header, start a new one, or add a field (Envoy CVE-2023-27493):
 * the output is printable ASCII only.
 */
import type { PeerCertificate } from "node:tls";
import { rfc2253SubjectFromDer } from "./distinguished-name.js";

/** The fields of Node's legacy certificate object (`getPeerCertificate()`) that the XFCC value uses. */
export type XfccCertificateFields = Pick<PeerCertificate, "raw" | "fingerprint256">;

/** Characters that may stand unquoted in an XFCC value: no `,;="\`, space, control or non-ASCII. */
const BARE_VALUE = /^[A-Za-z0-9._~:/?#[\]@!$&'()*+%-]*$/;

/** Quotes a value when it needs it; inside quotes, `"` and `\` are backslash-escaped. */
export function xfccValue(value: string): string {
  const ascii = escapeNonPrintable(value);
  if (BARE_VALUE.test(ascii)) return ascii;
  return `"${ascii.replace(/[\\"]/g, "\\$&")}"`;
}

/** Characters outside printable ASCII become RFC 2253-style `\XX` escapes of their UTF-8 encoding. */
function escapeNonPrintable(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x20-\x7e]/.test(value)) return value;
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += `\\${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Subjects already written, by certificate fingerprint: a client reconnects
 * with the same certificate many times, and its subject string then costs a
 * map lookup. Bounded; the oldest entry goes first.
 */
const SUBJECTS = new Map<string, string>();
const MAX_SUBJECTS = 4096;

/**
 * The certificate's RFC 2253 subject, from its DER in true RDN order (see
 * distinguished-name.ts), cached per certificate.
 */
export function rfc2253Subject(cert: XfccCertificateFields): string {
  let subject = SUBJECTS.get(cert.fingerprint256);
  if (subject === undefined) {
    subject = rfc2253SubjectFromDer(cert.raw);
    if (SUBJECTS.size >= MAX_SUBJECTS) SUBJECTS.delete(SUBJECTS.keys().next().value!);
    SUBJECTS.set(cert.fingerprint256, subject);
  }
  return subject;
}

export function xfccHeaderValue(cert: XfccCertificateFields, sans: { readonly URI?: readonly string[]; readonly DNS?: readonly string[] }): string {
  const hash = cert.fingerprint256.replace(/:/g, "").toLowerCase();
  let out = `Hash=${hash};Subject="${rfc2253Subject(cert).replace(/[\\"]/g, "\\$&")}"`;
  for (const uri of sans.URI ?? []) out += `;URI=${xfccValue(uri)}`;
  for (const dns of sans.DNS ?? []) out += `;DNS=${xfccValue(dns)}`;
  return out;
}
