/**
 * Request-target normalization: the one place that turns what a client sent
 * into the path the ACL judges and the upstream receives. Pure; no I/O.
 *
 * Rules (the README's "What happens on the wire"), with the incident each one answers:
 * - origin-form only: absolute-form, authority-form and `*` are refused, so a
 *   target's host part can never select what the ACL sees.
 * - unreserved percent-encodings (RFC 3986 section 2.3) are decoded, other
 *   encodings keep their bytes with upper-case hex (section 6.2.2.1).
 * - `//` is merged and `.`/`..` resolved (section 5.2.4; Envoy CVE-2019-9901
 *   `/public/../admin`, Istio CVE-2021-31920 `//admin`); `..` above the root is
 *   refused rather than clamped.
 * - refused because an upstream could read them differently from the ACL:
 *   encoded `/` or `\` (Istio CVE-2021-31920), a raw `\`, NUL and control
 *   bytes, a `#` fragment (Envoy CVE-2021-32779), dot segments hidden behind
 *   `;` parameters (Tomcat `..;/`), double encoding (`%25` + two hex digits),
 *   malformed escapes and bytes that are not allowed in a path.
 * - percent-encoded bytes must be valid UTF-8 (RFC 3629 section 4): an
 *   overlong form (`%C0%AE` for `.`, `%C0%AF` for `/`), a surrogate, a lone
 *   continuation byte or a truncated sequence cannot be a real path, and a
 *   lenient decoder in the service would read the overlong forms as `..`
 *   and `/` (the IIS Unicode traversal, CVE-2000-0884). Fullwidth forms
 *   (`%EF%BC%8F`) are valid UTF-8 and are passed on as they are.
 * - decoding happens once; the query is passed through as sent.
 */

export type NormalizedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: string };

/** Characters allowed raw in a path: pchar and "/" (RFC 3986 section 3.3) plus "%" for escapes. */
const PATH_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%") PATH_CHAR[c.charCodeAt(0)] = 1;

const UNRESERVED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") UNRESERVED[c.charCodeAt(0)] = 1;

/** `%25` and two hex digits: an upstream that decodes again would read another character. */
const DOUBLE_ENCODED = /%25[0-9A-Fa-f]{2}/;

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const SEMICOLON = 0x3b;

function refuse(reason: string): NormalizedTarget {
  return { ok: false, reason };
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Normalizes an HTTP request-target. Returns the path the ACL and the
 * upstream both use, and the query (with its leading "?", or "") unchanged.
 */
export function normalizeTarget(target: string): NormalizedTarget {
  if (target.charCodeAt(0) !== SLASH) {
    return refuse(target === "*" ? "asterisk-form request-target" : "request-target is not origin-form (must start with /)");
  }
  let queryStart = target.indexOf("?");
  if (queryStart === -1) queryStart = target.length;

  // Fast path: nothing to decode, merge or resolve. Most requests take it.
  let simple = true;
  let prev = 0;
  for (let i = 0; i < queryStart; i++) {
    const code = target.charCodeAt(i);
    if (code >= 128 || PATH_CHAR[code] === 0) return refuseChar(code);
    if (code === PERCENT || (code === SLASH && prev === SLASH) || (code === DOT && prev === SLASH) || code === SEMICOLON) simple = false;
    prev = code;
  }
  const query = queryStart === target.length ? "" : target.slice(queryStart);
  const queryProblem = checkQuery(query);
  if (queryProblem) return refuse(queryProblem);
  if (simple) return { ok: true, path: queryStart === target.length ? target : target.slice(0, queryStart), query };

  const segments: string[] = [];
  const raw = target.slice(1, queryStart);
  const parts = raw.split("/");
  for (let index = 0; index < parts.length; index++) {
    const rawSegment = parts[index]!;
    const isLast = index === parts.length - 1;
    if (rawSegment === "" && !isLast) continue; // `//` merges
    const decoded = decodeSegment(rawSegment);
    if (typeof decoded !== "string") return refuse(decoded.reason);
    if (decoded === ".") {
      if (isLast) segments.push("");
      continue;
    }
    if (decoded === "..") {
      if (segments.length === 0) return refuse("path climbs above the root with ..");
      segments.pop();
      if (isLast) segments.push("");
      continue;
    }
    if (hidesDotSegment(decoded)) return refuse("dot segment hidden behind ; parameters");
    segments.push(decoded);
  }
  return { ok: true, path: `/${segments.join("/")}`, query };
}

/**
 * `..;x` is a dot segment to servlet containers, which strip `;` parameters
 * before resolving dots (the Tomcat `..;/` bypass); `%3B` is included because
 * some servers decode it before stripping.
 */
function hidesDotSegment(segment: string): boolean {
  if (segment.charCodeAt(0) !== DOT) return false;
  const semicolon = segment.search(/;|%3B/);
  if (semicolon === -1) return false;
  const head = segment.slice(0, semicolon);
  return head === "." || head === "..";
}

function refuseChar(code: number): NormalizedTarget {
  if (code === 0) return refuse("NUL byte in path");
  if (code < 0x20 || code === 0x7f) return refuse("control byte in path");
  if (code === 0x5c) return refuse("backslash in path");
  if (code === 0x23) return refuse("fragment (#) in request-target");
  if (code >= 128) return refuse("non-ASCII byte in path (must be percent-encoded)");
  return refuse(`character ${JSON.stringify(String.fromCharCode(code))} is not allowed in a path`);
}

function checkQuery(query: string): string | undefined {
  for (let i = 1; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return code === 0 ? "NUL byte in query" : "control byte or space in query";
    if (code === 0x23) return "fragment (#) in request-target";
  }
  return undefined;
}

const INVALID_UTF8 = Object.freeze({ reason: "percent-encoded bytes that are not valid UTF-8 (overlong, surrogate, stray or truncated sequence)" });

/**
 * The byte range a UTF-8 lead byte allows for its first continuation byte,
 * packed as (count << 16) | (low << 8) | high, or 0 when it cannot lead
 * (RFC 3629 section 4: E0 and F0 exclude overlong forms, ED surrogates, F4
 * code points past U+10FFFF; C0, C1 and F5-FF never appear).
 */
function utf8Lead(byte: number): number {
  if (byte >= 0xc2 && byte <= 0xdf) return (1 << 16) | 0x80bf;
  if (byte === 0xe0) return (2 << 16) | 0xa0bf;
  if (byte === 0xed) return (2 << 16) | 0x809f;
  if (byte >= 0xe1 && byte <= 0xef) return (2 << 16) | 0x80bf;
  if (byte === 0xf0) return (3 << 16) | 0x90bf;
  if (byte >= 0xf1 && byte <= 0xf3) return (3 << 16) | 0x80bf;
  if (byte === 0xf4) return (3 << 16) | 0x808f;
  return 0;
}

/**
 * Decodes one segment's unreserved escapes and upper-cases the hex of the
 * rest. Escapes whose meaning differs between servers are refused, and so
 * are encoded bytes that do not form UTF-8. Raw characters here are ASCII
 * (normalizeTarget refused the rest), so a multi-byte sequence is a run of
 * escapes.
 */
function decodeSegment(segment: string): string | { reason: string } {
  if (segment.indexOf("%") === -1) return segment;
  let out = "";
  let from = 0;
  // Continuation bytes still due, and the range the next one must fall in.
  let due = 0;
  let low = 0x80;
  let high = 0xbf;
  for (let i = segment.indexOf("%"); i !== -1; i = segment.indexOf("%", i + 3)) {
    const hi = hexValue(segment.charCodeAt(i + 1));
    const lo = hexValue(segment.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return { reason: "malformed percent-encoding" };
    const byte = hi * 16 + lo;
    if (due > 0) {
      if (i > from || byte < low || byte > high) return INVALID_UTF8;
      due--;
      low = 0x80;
      high = 0xbf;
    } else if (byte >= 0x80) {
      const lead = utf8Lead(byte);
      if (lead === 0) return INVALID_UTF8;
      due = lead >> 16;
      low = (lead >> 8) & 0xff;
      high = lead & 0xff;
    }
    if (byte === SLASH) return { reason: "encoded / (%2F) in path" };
    if (byte === 0x5c) return { reason: "encoded backslash (%5C) in path" };
    if (byte === 0) return { reason: "encoded NUL (%00) in path" };
    if (byte < 0x20 || byte === 0x7f) return { reason: "encoded control byte in path" };
    if (byte === PERCENT && hexValue(segment.charCodeAt(i + 3)) >= 0 && hexValue(segment.charCodeAt(i + 4)) >= 0) {
      return { reason: "double percent-encoding (%25 followed by two hex digits)" };
    }
    out += segment.slice(from, i);
    out += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : `%${segment[i + 1]!.toUpperCase()}${segment[i + 2]!.toUpperCase()}`;
    from = i + 3;
  }
  if (due > 0) return INVALID_UTF8;
  out += segment.slice(from);
  // The hex digits after a %25 may themselves arrive encoded (`%25%34%31` is
  // `%2541` after decoding), so the decoded segment is checked as well.
  if (DOUBLE_ENCODED.test(out)) return { reason: "double percent-encoding (%25 followed by two hex digits)" };
  return out;
}
