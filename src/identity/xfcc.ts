/**
 * The `x-forwarded-client-cert` value in Envoy's format:
 * `Hash=<sha256 of the peer DER>;Subject="<RFC 2253 subject>";URI=<uri>;DNS=<dns>`.
 * Every value taken from a certificate is escaped so that no certificate can
 * end the header, start a new one, or add a field (Envoy CVE-2023-27493):
 * the output is printable ASCII only.
 */
import type { PeerCertificate } from "node:tls";

/** The fields of Node's legacy certificate object (`getPeerCertificate()`) that the XFCC value uses. */
export type XfccCertificateFields = Pick<PeerCertificate, "subject" | "fingerprint256">;

/** Characters that may stand unquoted in an XFCC value: no `,;="\`, space, control or non-ASCII. */
const BARE_VALUE = /^[A-Za-z0-9._~:/?#[\]@!$&'()*+%-]*$/;

/** Quotes a value when it needs it; inside quotes, `"` and `\` are backslash-escaped. */
export function xfccValue(value: string): string {
  const ascii = escapeNonPrintable(value);
  if (BARE_VALUE.test(ascii)) return ascii;
  return `"${ascii.replace(/[\\"]/g, "\\$&")}"`;
}

/** Bytes outside printable ASCII become RFC 2253-style `\XX` escapes of their UTF-8 encoding. */
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

/** One attribute value escaped as RFC 2253 section 2.4 asks, plus `\XX` for control and non-ASCII bytes. */
function rfc2253Value(value: string): string {
  let out = value.replace(/[\\,+"<>;]/g, "\\$&");
  if (out.startsWith("#") || out.startsWith(" ")) out = `\\${out}`;
  if (out.endsWith(" ") && !out.endsWith("\\ ")) out = `${out.slice(0, -1)}\\ `;
  return escapeNonPrintable(out);
}

/**
 * RFC 2253 subject string, most specific attribute first. Built from the
 * subject object of the certificate Node already parsed for the handshake:
 * asking for an X509Certificate instead re-decodes the certificate, which
 * measured about 4% of a handshake's CPU. The object keeps attributes in
 * certificate order but groups repeated ones, so a subject that interleaves
 * them (OU, CN, OU) is written with the repeats together.
 */
export function rfc2253Subject(subject: PeerCertificate["subject"] | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(subject ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) parts.push(`${name}=${rfc2253Value(String(item))}`);
  }
  return parts.reverse().join(",");
}

export function xfccHeaderValue(cert: XfccCertificateFields, sans: { readonly URI?: readonly string[]; readonly DNS?: readonly string[] }): string {
  const hash = cert.fingerprint256.replace(/:/g, "").toLowerCase();
  let out = `Hash=${hash};Subject="${rfc2253Subject(cert.subject).replace(/[\\"]/g, "\\$&")}"`;
  for (const uri of sans.URI ?? []) out += `;URI=${xfccValue(uri)}`;
  for (const dns of sans.DNS ?? []) out += `;DNS=${xfccValue(dns)}`;
  return out;
}
