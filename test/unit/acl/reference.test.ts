import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { aclRules, compileAcl } from "../../../src/acl/compile.js";
import { buildDecisionTable, evaluate } from "../../../src/acl/decide.js";
import { lookupPath } from "../../../src/acl/path-index.js";
import { referenceEvaluate } from "../../../src/acl/reference.js";
import { TableLayoutError, verifyTable } from "../../../src/acl/verify-table.js";
import { normalizeTarget } from "../../../src/http/path.js";
import { canonicalPeer } from "../../../src/identity/attributes.js";
import { ACL_CASES, ACL_TEXTS } from "../../helpers/acl-cases.js";
import { randomAcl, randomRequests } from "../../helpers/acl-random.js";
import { fuzzParams } from "../../helpers/property.js";

describe("the reference evaluator", () => {
  test("agrees with every case of the shared table", () => {
    for (const c of ACL_CASES) {
      const target = normalizeTarget(c.target);
      if (!target.ok) continue;
      const rules = aclRules(compileAcl(`${c.acl}.yaml`, ACL_TEXTS.get(c.acl)!));
      const d = referenceEvaluate(rules, c.method, target.path, canonicalPeer(c.peer));
      expect({ case: c.name, allow: d.allow, entry: d.entry }).toEqual({ case: c.name, allow: c.expect === "allow", entry: c.entry });
    }
  });

  test("evaluate() gives the reference's Decision (allow, entry and reason) for random whole ACLs and requests", () => {
    fc.assert(
      fc.property(
        randomAcl().chain((acl) => fc.tuple(fc.constant(acl), randomRequests(acl.patterns))),
        ([{ text }, requests]) => {
          const acl = compileAcl("random.yaml", text);
          const rules = aclRules(acl);
          for (const { method, path, peer } of requests) {
            const fast = acl.evaluate(method, path, peer);
            const slow = referenceEvaluate(rules, method, path, peer);
            expect({ method, path, peer, ...fast }).toEqual({ method, path, peer, ...slow });
          }
        },
      ),
      fuzzParams(1500),
    );
  });
});

describe("verifyTable", () => {
  test("accepts every table the compiler builds (the shared table's ACLs)", () => {
    for (const [name, text] of ACL_TEXTS) {
      const rules = aclRules(compileAcl(`${name}.yaml`, text));
      expect(() => verifyTable(buildDecisionTable(rules), rules)).not.toThrow();
    }
  });

  test("a table it accepts after one int was changed still decides as the reference does", () => {
    // Any corruption is either caught or harmless: no changed int that passes the check can change a decision.
    let caught = 0;
    fc.assert(
      fc.property(
        randomAcl({ maxPaths: 6 }).chain((acl) => fc.tuple(fc.constant(acl), randomRequests(acl.patterns, 20), fc.nat(), fc.constantFrom("nodes", "slots"), fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0))),
        ([{ text }, requests, at, array, delta]) => {
          const rules = aclRules(compileAcl("random.yaml", text));
          const table = buildDecisionTable(rules);
          const ints = table.paths[array as "nodes" | "slots"];
          if (ints.length === 0) return;
          ints[at % ints.length]! += delta;
          try {
            verifyTable(table, rules);
          } catch (err) {
            expect(err).toBeInstanceOf(TableLayoutError);
            caught++;
            return;
          }
          for (const { method, path, peer } of requests) {
            const d = evaluate(table, method, path, peer);
            expect({ method, path, allow: d.allow, entry: d.entry }).toEqual({ method, path, ...pick(referenceEvaluate(rules, method, path, peer)) });
          }
        },
      ),
      fuzzParams(1500),
    );
    // The property must not hold vacuously.
    expect(caught).toBeGreaterThan(0);
  });

  test("names what is wrong: a method column pointed at another entry", () => {
    const rules = aclRules(compileAcl("a.yaml", "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n    POST: [OU=ops]\n"));
    const table = buildDecisionTable(rules);
    const nodes = table.paths.nodes;
    const get = table.methods.get("GET")!;
    const post = table.methods.get("POST")!;
    // The block of /a (a rule's method columns come first in it), its two columns swapped.
    const block = lookupPath(table.paths, "/a");
    [nodes[block + get], nodes[block + post]] = [nodes[block + post]!, nodes[block + get]!];
    expect(() => verifyTable(table, rules)).toThrow(/column (GET|POST)/);
  });
});

function pick(d: { allow: boolean; entry: string | null }) {
  return { allow: d.allow, entry: d.entry };
}
