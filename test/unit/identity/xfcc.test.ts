import { X509Certificate } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { rfc2253SubjectFromDer } from "../../../src/identity/distinguished-name.js";
import { rfc2253Subject, xfccHeaderValue, xfccValue } from "../../../src/identity/xfcc.js";
import { SUBJECT_VECTORS } from "../../helpers/hostile.js";
import { createCa, type SubjectAttribute } from "../../helpers/pki.js";
import { fuzzParams } from "../../helpers/property.js";
import { opensslSubject, parseXfcc } from "../../helpers/xfcc.js";

const hostileNames = ['x,OU=web', 'evil"\r\nX-Injected: 1;URI=spiffe://admin', "#hash", " lead and trail ", "a+b<c>d;e\\f", "caf\u00e9 \u5b57", "tab\tnul\u0000"];

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

describe("RFC 2253 subject, from the certificate's DER", () => {
  test.each(SUBJECT_VECTORS)("$name: equals openssl x509 -subject -nameopt RFC2253", async ({ rdns }) => {
    const cert = await (await createCa()).issue({ rdns });
    const ours = rfc2253SubjectFromDer(cert.der);
    expect(ours).toMatch(PRINTABLE_ASCII);
    expect(ours).toBe(await opensslSubject(cert.cert));
  });

  test.each(hostileNames)("a CN of %j beside an OU and an O with a comma equals OpenSSL's form", async (cn) => {
    const cert = await (await createCa()).issue({ cn, ou: "web", o: "Acme, Inc." });
    expect(rfc2253SubjectFromDer(cert.der)).toBe(await opensslSubject(cert.cert));
  });

  test("no two of the hostile subjects share a string: order, repeats and RDN boundaries all show", async () => {
    const ca = await createCa();
    const subjects = await Promise.all(SUBJECT_VECTORS.map(async ({ rdns }) => rfc2253SubjectFromDer((await ca.issue({ rdns })).der)));
    expect(new Set(subjects).size).toBe(subjects.length);
  });

  test("the issue's examples: an interleaved OU and a multi-valued RDN keep their place", async () => {
    const ca = await createCa();
    const interleaved = await ca.issue({ rdns: [[["O", "Acme"]], [["OU", "marketing"]], [["CN", "inter-01"]], [["OU", "web"]]] });
    const multiValued = await ca.issue({ rdns: [[["O", "Acme"]], [["OU", "marketing"], ["CN", "mv-01"]]] });
    expect(rfc2253SubjectFromDer(interleaved.der)).toBe("OU=web,CN=inter-01,OU=marketing,O=Acme");
    // Within an RDN, OpenSSL also writes the attributes last first.
    expect(rfc2253SubjectFromDer(multiValued.der)).toMatch(/^(CN=mv-01\+OU=marketing|OU=marketing\+CN=mv-01),O=Acme$/);
  });

  test("a value that is exactly # is written \\# as RFC 4514 asks (OpenSSL leaves it bare, which reads as a hex dump)", async () => {
    const cert = await (await createCa()).issue({ rdns: [[["CN", "#"]]] });
    expect(rfc2253SubjectFromDer(cert.der)).toBe("CN=\\#");
    expect(await opensslSubject(cert.cert)).toBe("CN=#");
  });

  test("random subjects (order, repeats, multi-valued RDNs, any characters) equal OpenSSL's form", async () => {
    const ca = await createCa();
    const type = fc.constantFrom("CN", "OU", "O", "L", "ST", "C", "DC", "1.3.6.1.4.1.99999.7");
    const char = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(..."aZ09-.=/ ", ...',+"\\<>;#') },
      { weight: 1, arbitrary: fc.constantFrom("\u0000", "\t", "\r", "\n", "\u007f", "\u00e9", "\u00ff", "\u5b57", "\u{1f600}") },
    );
    const value = fc.array(char, { maxLength: 12 }).map((chars) => chars.join(""));
    const rdn = fc.array(fc.tuple(type, value), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(rdn, { minLength: 1, maxLength: 6 }), async (rdns) => {
        const cert = await ca.issue({ rdns: rdns as (readonly SubjectAttribute[])[] });
        const ours = rfc2253SubjectFromDer(cert.der);
        expect(ours).toMatch(PRINTABLE_ASCII);
        // The one place the two part ways on purpose: a whole value of "#".
        expect(ours.replace(/(^|[,+=])\\#(?=$|[,+])/g, "$1#")).toBe(await opensslSubject(cert.cert));
      }),
      fuzzParams(40),
    );
  });

  test("bytes that are not a certificate, or a damaged one, give a printable string and never throw", async () => {
    const cert = await (await createCa()).issue({ cn: "web-01", ou: "web", o: "Acme" });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.tuple(fc.nat(cert.der.length - 1), fc.nat(255), fc.nat(cert.der.length)).map(([at, byte, cut]) => {
        const damaged = Buffer.from(cert.der.subarray(0, Math.max(at + 1, cut)));
        damaged[at] = byte;
        return damaged;
      })), (der) => {
        expect(rfc2253SubjectFromDer(der)).toMatch(PRINTABLE_ASCII);
      }),
      fuzzParams(3000),
    );
  });
});

describe("XFCC values", () => {
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

  test("the subject is computed once per certificate: a second connection with it gets the same string", async () => {
    const cert = await (await createCa()).issue({ rdns: [[["OU", "a"]], [["CN", "x"]], [["OU", "b"]]] });
    const legacy = new X509Certificate(cert.cert).toLegacyObject();
    const first = rfc2253Subject(legacy);
    expect(rfc2253Subject({ fingerprint256: legacy.fingerprint256, raw: Buffer.from(legacy.raw) })).toBe(first);
    expect(first).toBe("OU=b,CN=x,OU=a");
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
