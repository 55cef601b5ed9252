/**
 * The ACL loader under fuzzing: whatever text it is given (mutations of the
 * real example ACLs, random YAML, random bytes, bombs), it returns a
 * CompiledAcl or throws a GuardpostError from the registry that says
 * `file:line:col: `; never a TypeError, a RangeError, a stack overflow or a
 * hang. A loaded ACL answers decide() for any request without throwing.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileAcl, loadAcl, type CompiledAcl } from "../../src/acl/compile.js";
import { MAX_GROUP_EXPANSION } from "../../src/acl/principal.js";
import { ACL_TEXTS } from "../helpers/acl-cases.js";
import { tempDir } from "../helpers/pki.js";
import { fuzzParams } from "../helpers/property.js";
import { expectTypedOutcome, mutatedText, structuredYaml, yamlFiles } from "./support.js";

const FILE = "fuzz/acl.yaml";

/** Every ACL the repo ships or tests with, valid or not: the seeds of the mutations. */
const CORPUS: readonly string[] = [
  ...yamlFiles("acl").values(),
  ...yamlFiles("config/acl").values(),
  ...yamlFiles("test/fixtures/acl/invalid").values(),
  ...ACL_TEXTS.values(),
];
const VALID = CORPUS.filter((text) => {
  try {
    compileAcl(FILE, text);
    return true;
  } catch {
    return false;
  }
});

const requestTarget = fc.oneof(
  fc.constantFrom("/", "/user", "/user/1", "/static/a/b", "/admin", "/admin/x", "/orders/7/refunds", "/%2e%2e/admin", "//admin", "/a?b", "*", "http://h/"),
  fc.string({ unit: fc.constantFrom("/", "a", ".", "%", "2", "e", "f", "{", "}", "*", "?", ";", "é"), maxLength: 12 }),
);
const peer = fc.oneof(
  fc.dictionary(fc.constantFrom("OU", "CN", "O", "ou", "URI", "DNS", "X"), fc.oneof(fc.string({ maxLength: 6 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }))),
  fc.constantFrom("OU=web", "OU=ops,CN=a", "OU=payments,CN=api-1"),
);
const method = fc.constantFrom("GET", "HEAD", "POST", "DELETE", "PATCH", "get", "*", "PURGE");

/**
 * A loaded ACL must decide anything: a decision, never an exception. The
 * typed errors are a bad peer string, and a decision that depends on SRC=
 * asked without a source address.
 */
function probe(acl: CompiledAcl, probes: readonly [string, string, string | Record<string, string | string[]>][]): void {
  for (const [m, path, p] of probes) {
    try {
      const decision = acl.decide({ method: m, path, peer: p });
      expect(typeof decision.allow).toBe("boolean");
      expect(typeof decision.reason).toBe("string");
    } catch (err) {
      expect(["GP_ERR_PEER_SPEC", "GP_ERR_ACL_SOURCE_REQUIRED"], String(err)).toContain((err as { code?: string }).code);
    }
  }
}

describe("the ACL loader under fuzzing", () => {
  test("the corpus holds the shipped example ACLs, and they load", () => {
    expect(VALID.length).toBeGreaterThanOrEqual(5);
    expect(CORPUS.length).toBeGreaterThan(VALID.length);
  });

  test("mutated example ACLs (lines deleted, duplicated, swapped, re-indented; characters flipped; tokens, unicode, huge numbers, anchors, tags, deep nesting inserted) load or fail with file:line:col", () => {
    fc.assert(
      fc.property(mutatedText(CORPUS), fc.array(fc.tuple(method, requestTarget, peer), { maxLength: 3 }), (text, probes) => {
        const outcome = expectTypedOutcome(FILE, text, () => compileAcl(FILE, text));
        if (outcome.ok) probe(outcome.value, probes);
      }),
      fuzzParams(1200),
    );
  });

  test("structured random YAML of the ACL's shape loads or fails with file:line:col", () => {
    const keys = ["version", "mode", "groups", "paths", "/user", "/user/{id}", "/a/**", "/**", "/", "GET", "POST", "*", "HEAD", "frontends", "OU", "CN", "URI"];
    const leaves = ["1", "2", "enforce", "audit", "OU=web", '"*"', '"@frontends"', '"@g"', "CN=api-*", "[]", "{OU: web}", "null", '""', "GET", "/x"];
    fc.assert(
      fc.property(structuredYaml(keys, leaves), (text) => {
        const outcome = expectTypedOutcome(FILE, text, () => compileAcl(FILE, text));
        if (outcome.ok) probe(outcome.value, [["GET", "/user", "OU=web"]]);
      }),
      fuzzParams(1000),
    );
  });

  test("arbitrary text and bytes load or fail with file:line:col", () => {
    const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("utf8"));
    const text = fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 100 }), bytes);
    fc.assert(
      fc.property(text, (t) => {
        expectTypedOutcome(FILE, t, () => compileAcl(FILE, t));
        expectTypedOutcome(FILE, `version: 1\npaths:\n  ${t}`, () => compileAcl(FILE, `version: 1\npaths:\n  ${t}`));
      }),
      fuzzParams(1000),
    );
  });

  test("loadAcl on a mutated file on disk reports that file's name and position", () => {
    const dir = tempDir("guardpost-fuzz-acl-");
    const file = join(dir, "acl.yaml");
    fc.assert(
      fc.property(mutatedText(VALID, 3), (text) => {
        writeFileSync(file, text);
        expectTypedOutcome(file, text, () => loadAcl(file));
      }),
      fuzzParams(200),
    );
  });

  describe("bombs are refused or bounded quickly", () => {
    const quick = (text: string) => {
      const started = performance.now();
      const outcome = expectTypedOutcome(FILE, text, () => compileAcl(FILE, text));
      return { outcome, ms: performance.now() - started };
    };

    test("a billion laughs through YAML aliases (nine aliases per level, eight levels) is refused at once", () => {
      let text = 'version: 1\ngroups:\n  l0: &l0 ["OU=lol", "OU=lol", "OU=lol", "OU=lol", "OU=lol", "OU=lol", "OU=lol", "OU=lol", "OU=lol"]\n';
      for (let i = 1; i <= 8; i++) text += `  l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]\n`;
      text += "paths:\n  /a:\n    GET: *l8\n";
      const { outcome, ms } = quick(text);
      expect(outcome.ok).toBe(false);
      expect(ms).toBeLessThan(500);
    });

    test("a billion laughs through group references (ten references per level) is refused with GP_ERR_ACL_BAD_GROUP", () => {
      for (const depth of [5, 7, 9]) {
        let text = `version: 1\ngroups:\n  g0: [${Array.from({ length: 10 }, (_, i) => `OU=u${i}`).join(", ")}]\n`;
        for (let i = 1; i <= depth; i++) text += `  g${i}: [${Array(10).fill(`"@g${i - 1}"`).join(", ")}]\n`;
        text += `paths:\n  /a:\n    GET: ["@g${depth}"]\n`;
        const { outcome, ms } = quick(text);
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) expect(outcome.error.code).toBe("GP_ERR_ACL_BAD_GROUP");
        expect(ms).toBeLessThan(1000);
      }
    });

    test("group references below the limit still load and decide", () => {
      // 3 levels of 10: 1000 principals per reference, far below MAX_GROUP_EXPANSION.
      let text = `version: 1\ngroups:\n  g0: [${Array.from({ length: 10 }, (_, i) => `OU=u${i}`).join(", ")}]\n`;
      for (let i = 1; i <= 2; i++) text += `  g${i}: [${Array.from({ length: 10 }, () => `"@g${i - 1}"`).join(", ")}]\n`;
      text += 'paths:\n  /a:\n    GET: ["@g2"]\n';
      expect(MAX_GROUP_EXPANSION).toBeGreaterThan(1000);
      const acl = compileAcl(FILE, text);
      expect(acl.decide({ method: "GET", path: "/a", peer: { OU: "u7" } }).reason).toBe("granted to OU=u7 via @g0 via @g1 via @g2");
    });

    test("thousands of aliases to one anchor load in linear time", () => {
      let text = "version: 1\ngroups:\n  g: &p [OU=web]\npaths:\n";
      for (let i = 0; i < 5000; i++) text += `  /p${i}:\n    GET: *p\n`;
      const started = performance.now();
      const acl = compileAcl(FILE, text);
      // A bound, not a benchmark: an expansion per alias would take minutes; a loaded CI box takes ~3 s.
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(acl.decide({ method: "GET", path: "/p4999", peer: "OU=web" }).allow).toBe(true);
    });

    test("nesting deep enough to exhaust the parser's stack is a syntax error, not a RangeError", () => {
      for (const depth of [500, 2000, 5000]) {
        for (const text of [`version: 1\npaths: ${"[".repeat(depth)}${"]".repeat(depth)}\n`, `version: 1\npaths: ${"{a: ".repeat(depth)}b${"}".repeat(depth)}\n`]) {
          const { outcome } = quick(text);
          expect(outcome.ok).toBe(false);
        }
      }
    });

    test("an anchor that contains its own alias is refused", () => {
      for (const text of [
        "version: 1\npaths: &p\n  /a: *p\n",
        "version: 1\ngroups: &g\n  a: *g\npaths: {}\n",
        "version: 1\ngroups:\n  a: &l [*l]\npaths: {}\n",
        "version: 1\npaths:\n  /a: &m\n    GET: *m\n",
        "version: 1\npaths:\n  /a:\n    GET: [&v {OU: *v}]\n",
      ]) {
        expect(quick(text).outcome.ok, text).toBe(false);
      }
    });
  });
});
