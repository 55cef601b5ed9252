/**
 * Request-target generators and an independent model of how a server reads
 * a path, shared by the normalizer fuzz and the wire differential test.
 */
import fc from "fast-check";
import { expect } from "vitest";

/** Hostile pieces of a request-target. */
export const TARGET_PIECES: readonly string[] = [
  "/", "/", "/", "//", ".", "..", "./", "../", ";", ";x=1", "..;", ".;", "%", "%2", "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "%5c", "%5C", "%25", "%252e", "%2541",
  "%25%32%65", "%25%34%31", "%00", "%0a", "%0D", "%7f", "%7e", "%7E", "%41", "%61dmin", "%3b", "%3B", "%3a", "%40", "%20", "%c3%a9", "%C3%A9", "%ff", "%zz", "%g0",
  "%c0%ae", "%C0%AF", "%80", "%bf", "%c3", "%e2%82", "%ed%a0%80", "%f0%9f%98%80", "%f4%90%80%80", "%ef%bc%8f", "%EF%BC%8E",
  "\\", "#", "?", "??", "&", "=", "a", "b", "admin", "public", "users", "123", "~", "-", "_", "!", "$", "'", "(", ")", "*", "+", ",", ":", "@",
  "\u0000", "\t", " ", "\r", "\n", "\u007f", "\u0085", "é", "😀", "\u202e", "\uFEFF", "<", ">", "\"", "{", "}", "|", "^", "`", "[", "]",
];

export const hostileTarget = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...TARGET_PIECES), { maxLength: 14 }).map((pieces) => `/${pieces.join("")}`) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...TARGET_PIECES), { maxLength: 14 }).map((pieces) => pieces.join("")) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => `/${Buffer.from(bytes).toString("latin1")}`) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }).map((s) => `/${s}`) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
);

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PCHAR_OR_SLASH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/** Percent-decodes once, byte by byte, as a latin1 string; null for a malformed escape. */
export function decodeOnce(text: string): string | null {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "%") {
      out += text[i];
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/**
 * How a server that decodes the path once, merges `//` and removes dot
 * segments (RFC 3986 section 5.2.4) reads a target's path; null when it
 * climbs above the root or an escape is malformed. Written separately from
 * src/http/path.ts on purpose: the two must agree on every path guardpost
 * accepts.
 */
export function upstreamReading(target: string): string | null {
  const q = target.indexOf("?");
  const decoded = decodeOnce(q === -1 ? target : target.slice(0, q));
  if (decoded === null || !decoded.startsWith("/")) return null;
  const parts = decoded.slice(1).split("/");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === "" && !last) continue;
    if (part === ".") {
      if (last) out.push("");
      continue;
    }
    if (part === "..") {
      if (out.length === 0) return null;
      out.pop();
      if (last) out.push("");
      continue;
    }
    out.push(part);
  }
  return `/${out.join("/")}`;
}

/** Whether a latin1 string of bytes is well-formed UTF-8 (RFC 3629), checked by round trip rather than by the normalizer's own rules. */
export function isUtf8(bytes: string): boolean {
  const buffer = Buffer.from(bytes, "latin1");
  return Buffer.from(buffer.toString("utf8"), "utf8").equals(buffer);
}

/** Every property of a normalized path, with the target it came from in the message. */
export function expectCanonical(target: string, path: string): void {
  const at = JSON.stringify(target);
  expect(path.startsWith("/"), at).toBe(true);
  expect(path.includes("//"), at).toBe(false);
  expect(PCHAR_OR_SLASH.test(path), `${at} -> ${JSON.stringify(path)}`).toBe(true);
  for (const segment of path.split("/").slice(1)) {
    expect(segment === "." || segment === "..", at).toBe(false);
    // The ;-parameter forms servlet containers read as dot segments.
    expect(/^\.\.?(;|%3B)/i.test(segment), at).toBe(false);
  }
  for (const [, hex] of path.matchAll(/%(..)/g)) {
    expect(/^[0-9A-F]{2}$/.test(hex!), `${at}: escape %${hex} is not two upper-case hex digits`).toBe(true);
    const byte = parseInt(hex!, 16);
    expect(UNRESERVED.test(String.fromCharCode(byte)), `${at}: encoded unreserved %${hex}`).toBe(false);
    expect(byte < 0x20 || byte === 0x7f || byte === 0x2f || byte === 0x5c, `${at}: encoded control, / or \\ %${hex}`).toBe(false);
  }
  expect(/%25[0-9A-Fa-f]{2}/.test(path), `${at}: double encoding survives in ${path}`).toBe(false);
  expect(isUtf8(decodeOnce(path)!), `${at}: ${path} decodes to bytes that are not UTF-8`).toBe(true);
}

