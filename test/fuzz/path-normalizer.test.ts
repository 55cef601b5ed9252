/**
 * The request-target normalizer under fuzzing: random bytes, random unicode
 * and random mixtures of the pieces path-confusion attacks are made of. It
 * only ever returns a normalized path or a typed refusal, and a normalized
 * path is in canonical form (the README's "What happens on the wire"): it starts with `/`, has no `//`, no `.`
 * or `..` segment, no encoded unreserved character, no control byte, no raw
 * byte outside RFC 3986 pchar, no double encoding; normalizing it again
 * changes nothing; and it means what the target meant to a server that
 * decodes once and resolves dot segments (the independent model in
 * path-model.ts).
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileAcl } from "../../src/acl/compile.js";
import { normalizeTarget } from "../../src/http/path.js";
import { decodeOnce, expectCanonical, hostileTarget, isUtf8, upstreamReading } from "./path-model.js";
import { fuzzParams } from "../helpers/property.js";

describe("normalizeTarget under fuzzing", () => {
  test("any target gives a normalized path in canonical form or a refusal with a reason; nothing throws", () => {
    fc.assert(
      fc.property(hostileTarget, (target) => {
        const result = normalizeTarget(target);
        if (!result.ok) {
          expect(typeof result.reason).toBe("string");
          expect(result.reason.length).toBeGreaterThan(0);
          return;
        }
        expectCanonical(target, result.path);
        // The query is passed through exactly as sent.
        const q = target.indexOf("?");
        expect(result.query).toBe(q === -1 ? "" : target.slice(q));
      }),
      fuzzParams(20_000),
    );
  });

  test("normalizing is idempotent: a normalized path, with or without its query, normalizes to itself", () => {
    fc.assert(
      fc.property(hostileTarget, (target) => {
        const first = normalizeTarget(target);
        if (!first.ok) return;
        expect(normalizeTarget(first.path), JSON.stringify(target)).toEqual({ ok: true, path: first.path, query: "" });
        expect(normalizeTarget(first.path + first.query), JSON.stringify(target)).toEqual(first);
      }),
      fuzzParams(20_000),
    );
  });

  test("an accepted target means the same to a server that decodes once and resolves dot segments, and its path is what that server reads from the normalized form", () => {
    fc.assert(
      fc.property(hostileTarget, (target) => {
        const result = normalizeTarget(target);
        if (!result.ok) return;
        const reading = upstreamReading(target);
        expect(reading, `${JSON.stringify(target)} accepted but a decoding server reads it as climbing above the root`).not.toBeNull();
        expect(decodeOnce(result.path), JSON.stringify(target)).toBe(reading);
        // Decoding the normalized path once leaves nothing a second decoding would change meaning of.
        expect(upstreamReading(result.path), JSON.stringify(target)).toBe(reading);
      }),
      fuzzParams(20_000),
    );
  });

  test("refusals cover what the README names: encoded / or \\, raw \\, NUL and control bytes, .. above the root, ;-hidden dot segments, double encoding, invalid UTF-8", () => {
    const mustRefuse = (target: string) => {
      const path = target.split("?")[0]!;
      const decoded = decodeOnce(path);
      return (
        /%2f|%5c|%00|%0[0-9a-f]|%1[0-9a-f]|%7f|%25[0-9a-f]{2}/i.test(path) ||
        /[\\]/.test(path) ||
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are exactly what the normalizer must refuse
        /[\u0000-\u001f\u007f#]/.test(target) ||
        /(^|\/)\.\.?(;|%3b)/i.test(path) ||
        upstreamReading(target) === null ||
        (decoded !== null && !isUtf8(decoded))
      );
    };
    fc.assert(
      fc.property(hostileTarget, (target) => {
        if (!target.startsWith("/") || !mustRefuse(target)) return;
        expect(normalizeTarget(target).ok, JSON.stringify(target)).toBe(false);
      }),
      fuzzParams(20_000),
    );
  });

  test("decide() answers any target with a decision, refusing what the proxy refuses", () => {
    const acl = compileAcl("a.yaml", 'version: 1\npaths:\n  /public/**:\n    GET: ["*"]\n  /users/{id}:\n    GET: ["*"]\n  /admin/**:\n    "*": [OU=ops]\n');
    fc.assert(
      fc.property(hostileTarget, (target) => {
        const decision = acl.decide({ method: "GET", path: target, peer: { OU: "web" } });
        const normalized = normalizeTarget(target);
        if (!normalized.ok) expect(decision.allow).toBe(false);
        else expect(decision.allow).toBe(normalized.path.startsWith("/public") ? normalized.path === "/public" || normalized.path.startsWith("/public/") : /^\/users\/[^/]+\/?$/.test(normalized.path));
      }),
      fuzzParams(10_000),
    );
  });

  test("known double encodings through encoded hex digits are refused (found by this fuzzer)", () => {
    for (const target of ["/%25%34%31", "/%25%341", "/%254%31", "/a/%25%32%65%25%32%65/admin", "/%25%32%46"]) {
      expect(normalizeTarget(target), target).toMatchObject({ ok: false, reason: expect.stringMatching(/double percent-encoding/) });
    }
  });
});
