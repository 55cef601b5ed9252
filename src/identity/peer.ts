/**
 * A peer's identity attributes, from a certificate or from a `--peer` spec.
 *
 * The proxy (from `tlsSocket.getPeerCertificate()`), `acl explain
 * --peer-cert` and policy tests with `peerCert:` (both from
 * `X509Certificate#toLegacyObject()`) all go through
 * `peerAttributesFromCertificate`, so a certificate means the same thing
 * everywhere.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { GuardpostError } from "../errors.js";
import { readFailure } from "../text/read-failure.js";
import { attributeNamed, freezePeer, SUBJECT_ATTRIBUTES, unknownAttributeMessage, type Attribute, type CertificateAttributes } from "./attributes.js";

type SubjectAttribute = (typeof SUBJECT_ATTRIBUTES)[number];

/**
 * The fields guardpost reads from Node's legacy certificate object. Subject
 * values are a string, or an array when the subject repeats the attribute.
 */
export interface LegacyCertificateFields {
  readonly subject?: { readonly [A in SubjectAttribute]?: string | readonly string[] } | null;
  readonly subjectaltname?: string | undefined;
}

/** Node's names for the SAN types guardpost uses; other types (DirName, othername, ...) are ignored. */
const SAN_TYPES = new Map<string, Attribute>([
  ["DNS", "DNS"],
  ["URI", "URI"],
  ["IP Address", "IP"],
  ["email", "EMAIL"],
]);

export function peerAttributesFromCertificate(cert: LegacyCertificateFields): CertificateAttributes {
  const values = new Map<Attribute, string[]>();
  const add = (attribute: Attribute, value: string) => {
    const list = values.get(attribute);
    if (list) list.push(value);
    else values.set(attribute, [value]);
  };
  const subject = cert.subject;
  if (subject) {
    for (const attribute of SUBJECT_ATTRIBUTES) {
      const value = subject[attribute];
      if (typeof value === "string") add(attribute, value);
      else if (Array.isArray(value)) for (const v of value) if (typeof v === "string") add(attribute, v);
    }
  }
  if (cert.subjectaltname) {
    for (const { type, value } of parseSubjectAltName(cert.subjectaltname)) {
      const attribute = SAN_TYPES.get(type);
      if (!attribute) continue;
      // Node prints "IP Address:<invalid>" for an address it cannot format.
      if (attribute === "IP" && isIP(value) === 0) continue;
      add(attribute, value);
    }
  }
  return freezePeer(values);
}

export interface SubjectAltName {
  readonly type: string;
  readonly value: string;
}

/**
 * Splits Node's `subjectaltname` string (`DNS:a, URI:b, IP Address:c`).
 * Since CVE-2021-44532 Node writes a value that contains `,`, `"` or other
 * special characters as a JSON string (`DNS:"a\u002cb"`), so entries are
 * separated by ", " outside quotes only and quoted values are JSON-decoded.
 * Splitting naively would let a SAN such as `a, URI:spiffe://x` forge a
 * second name.
 */
export function parseSubjectAltName(text: string): SubjectAltName[] {
  const names: SubjectAltName[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let end = colon + 1;
    let quoted = false;
    for (; end < text.length; end++) {
      const c = text[end];
      if (quoted) {
        if (c === "\\") end++;
        else if (c === '"') quoted = false;
      } else if (c === '"') {
        quoted = true;
      } else if (c === "," && text[end + 1] === " ") {
        break;
      }
    }
    names.push({ type, value: unquote(text.slice(colon + 1, end)) });
    i = end + 2;
  }
  return names;
}

function unquote(raw: string): string {
  if (raw.length < 2 || raw[0] !== '"' || raw[raw.length - 1] !== '"') return raw;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "string" ? value : raw;
  } catch {
    return raw;
  }
}

/** Attributes from a PEM certificate file (the first certificate in it). */
export function readPeerCertificate(file: string): CertificateAttributes {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new GuardpostError("GP_ERR_FILE_READ", readFailure(err), { file }, { cause: err });
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new GuardpostError("GP_ERR_PEER_CERT", `not a PEM or DER certificate (${(err as Error).message})`, { file }, { cause: err });
  }
  return peerAttributesFromCertificate(cert.toLegacyObject());
}

/**
 * Parses a `--peer` value: `ATTR=VALUE` pairs joined by commas, attribute
 * names in any case, a repeated attribute adding a value
 * (`OU=web,CN=web-01,OU=ops`). A backslash escapes the next character, so a
 * value may hold a comma (`CN=x\,OU=web` is one CN). Spaces around attribute
 * names are ignored; values are taken as written.
 */
export function parsePeerSpec(spec: string): CertificateAttributes {
  const values = new Map<Attribute, string[]>();
  const pairs = splitEscaped(spec);
  if (pairs.length === 1 && pairs[0]!.trim() === "") {
    throw new GuardpostError("GP_ERR_PEER_SPEC", `empty peer (expected ATTR=VALUE pairs joined by commas, e.g. OU=web,CN=web-01)`);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq === -1) {
      throw new GuardpostError("GP_ERR_PEER_SPEC", `${JSON.stringify(unescapeValue(pair))} is not ATTR=VALUE (expected pairs joined by commas, e.g. OU=web,CN=web-01)`);
    }
    const name = unescapeValue(pair.slice(0, eq)).trim();
    const attribute = attributeNamed(name);
    if (!attribute) throw new GuardpostError("GP_ERR_PEER_SPEC", unknownAttributeMessage(name));
    const value = unescapeValue(pair.slice(eq + 1));
    if (value === "") throw new GuardpostError("GP_ERR_PEER_SPEC", `empty value for attribute ${attribute}`);
    const list = values.get(attribute);
    if (list) list.push(value);
    else values.set(attribute, [value]);
  }
  return freezePeer(values);
}

/** Splits on commas not preceded by a backslash, keeping the escapes for `unescape`. */
function splitEscaped(spec: string): string[] {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === "\\") i++;
    else if (spec[i] === ",") {
      parts.push(spec.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(spec.slice(from));
  return parts;
}

function unescapeValue(text: string): string {
  return text.replace(/\\(.)/gs, "$1");
}
