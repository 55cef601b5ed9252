import { X509Certificate } from "node:crypto";
import { describe, expect, test } from "vitest";
import { rfc2253Subject, xfccHeaderValue, xfccValue } from "../../../src/identity/xfcc.js";
import { createCa } from "../../helpers/pki.js";
import { parseXfcc } from "../../helpers/xfcc.js";

const hostileNames = ['x,OU=web', 'evil"\r\nX-Injected: 1;URI=spiffe://admin', "#hash", " lead and trail ", "a+b<c>d;e\\f", "caf\u00e9 \u5b57", "tab\tnul\u0000"];

describe("XFCC values", () => {
  test.each(hostileNames)("the subject of a certificate with CN %j matches OpenSSL's RFC 2253 form", async (cn) => {
    const ca = await createCa();
    const cert = await ca.issue({ cn, ou: "web", o: "Acme, Inc." });
    const x509 = new X509Certificate(cert.cert);
    // OpenSSL (through Node) prints one RDN per line in certificate order, RFC 2253-escaped, UTF-8 kept.
    const openssl = x509.subject.split("\n").reverse().join(",");
    const ours = rfc2253Subject(x509.toLegacyObject().subject);
    expect(ours).toMatch(/^[\x20-\x7e]*$/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "every ASCII byte", control bytes included
    const utf8Escaped = openssl.replace(/[^\x00-\x7f]/gu, (ch) => [...Buffer.from(ch, "utf8")].map((b) => `\\${b.toString(16).toUpperCase()}`).join(""));
    expect(ours).toBe(utf8Escaped);
  });

  test("a header value built from a hostile certificate parses back into exactly its fields", async () => {
    const ca = await createCa();
    const cert = await ca.issue({ cn: 'q";URI=x', ou: "web", sans: { uri: ["spiffe://x/a;DNS=b,c", "urn:plain"], dns: ["a.example"] } });
    const legacy = new X509Certificate(cert.cert).toLegacyObject();
    const value = xfccHeaderValue(legacy, { URI: ["spiffe://x/a;DNS=b,c", "urn:plain"], DNS: ["a.example"] });
    expect(parseXfcc(value)).toEqual([
      ["Hash", legacy.fingerprint256.replace(/:/g, "").toLowerCase()],
      ["Subject", 'CN=q\\";URI=x,OU=web'.replace(";", "\\;")],
      ["URI", "spiffe://x/a;DNS=b,c"],
      ["URI", "urn:plain"],
      ["DNS", "a.example"],
    ]);
  });

  test.each([
    ["spiffe://prod/ns/a/sa/web", "spiffe://prod/ns/a/sa/web"],
    ["a,b", '"a,b"'],
    ['q"uote', '"q\\"uote"'],
    // The \XX escapes bring a backslash, which is why these are quoted.
    ["line\r\nbreak", '"line\\\\0D\\\\0Abreak"'],
    ["caf\u00e9", '"caf\\\\C3\\\\A9"'],
  ])("xfccValue(%j) is %s", (input, expected) => {
    expect(xfccValue(input)).toBe(expected);
  });
});
