import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { aclRules, compileAcl, type CompiledAcl } from "../../../src/acl/compile.js";
import { ANY_METHOD, diffAcls, formatDiff, OTHER_METHODS, regionContains, type Change } from "../../../src/acl/diff.js";
import { valueMatcher } from "../../../src/acl/principal.js";
import { canonicalValue, type PeerAttributes } from "../../../src/identity/attributes.js";
import { networkMatcher, parseAddress, peerWithSource } from "../../../src/identity/source-address.js";
import { PRINCIPALS, randomAcl, randomRequests, type RandomAcl } from "../../helpers/acl-random.js";
import { fuzzParams } from "../../helpers/property.js";

const principals = fc.array(
  fc.constantFrom(...PRINCIPALS, "CN=a-1", "CN=*-9", "SRC=10.0.0.0/8", "SRC=10.1.0.0/16", "SRC=2001:db8::/32", { OU: "web", SRC: "10.1.0.0/16" }, { OU: "ops", CN: "a-*" }),
  { maxLength: 3 },
);
const PEERS = [{ OU: "web", CN: "a-1" }, { OU: "web", CN: "b" }, { OU: "ops" }, { CN: "a-9" }, { OU: ["web", "ops"] }, { CN: "zz" }, { OU: "ops", CN: "a-x" }, {}];
const SOURCES = ["10.1.2.3", "10.2.0.1", "2001:db8::1", "192.0.2.1", "::ffff:10.1.0.9"];

function namedMethods(...acls: CompiledAcl[]): Set<string> {
  const named = new Set(["GET", "HEAD"]);
  for (const acl of acls) for (const rule of aclRules(acl)) for (const m of rule.methods.keys()) named.add(m);
  return named;
}

/** Whether a change's region holds the request (the `unless` list narrows who is affected, not the region). */
function covers(change: Change, method: string, path: string, peer: PeerAttributes, named: ReadonlySet<string>): boolean {
  const methodIn = change.methods.includes(ANY_METHOD) || change.methods.includes(method) || (!named.has(method) && change.methods.includes(OTHER_METHODS));
  if (!methodIn || !regionContains(change.path, path)) return false;
  return change.conditions.every((c) => {
    if (c.attribute === "SRC") return peer.source !== undefined && networkMatcher(c.network)(peer.source);
    const match = valueMatcher(c.attribute === "IP" ? canonicalValue("IP", c.pattern) : c.pattern);
    return (peer[c.attribute] ?? []).some(match);
  });
}

const pair: fc.Arbitrary<[RandomAcl, RandomAcl]> = randomAcl({ principals }).chain((a) =>
  fc.oneof({ weight: 4, arbitrary: randomAcl({ principals }) }, { weight: 1, arbitrary: fc.constant(a) }).map((b) => [a, b] as [RandomAcl, RandomAcl]),
);

describe("acl diff is sound and every line has a witness", () => {
  test("for random ACL pairs: every request decided differently is covered by a printed change of the right kind", () => {
    fc.assert(
      fc.property(
        pair.chain(([a, b]) => fc.tuple(fc.constant([a, b] as const), randomRequests([...a.patterns, ...b.patterns], 40, PEERS), fc.array(fc.constantFrom(...SOURCES), { minLength: 40, maxLength: 40 }))),
        ([[a, b], requests, sources]) => {
          const before = compileAcl("old.yaml", a.text);
          const after = compileAcl("new.yaml", b.text);
          const diff = diffAcls(before, after);
          const named = namedMethods(before, after);
          requests.forEach(({ method, path, peer }, i) => {
            const p = peerWithSource(peer, sources[i]!);
            const was = before.evaluate(method, path, p).allow;
            const now = after.evaluate(method, path, p).allow;
            if (was === now) return;
            const kind = now ? "widen" : "narrow";
            const covering = diff.changes.filter((c) => c.kind === kind && covers(c, method, path, p, named));
            expect(covering.length, `${method} ${path} as ${JSON.stringify(peer)} from ${sources[i]}: ${kind}, not covered by\n${formatDiff(diff)}`).toBeGreaterThan(0);
          });
        },
      ),
      fuzzParams(400),
    );
  });

  test("for random ACL pairs: each change's witness is in its region and decided differently, as the change says", () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const before = compileAcl("old.yaml", a.text);
        const after = compileAcl("new.yaml", b.text);
        const diff = diffAcls(before, after);
        const named = namedMethods(before, after);
        if (a.text === b.text) expect(diff.changes).toEqual([]);
        for (const change of diff.changes) {
          const w = change.witness;
          const peer = { ...Object.fromEntries(Object.entries(w.peer).map(([k, v]) => [k, [v]])), source: parseAddress(w.source)! } as PeerAttributes;
          expect(covers(change, w.method, w.path, peer, named), JSON.stringify(change)).toBe(true);
          const was = before.evaluate(w.method, w.path, peer).allow;
          const now = after.evaluate(w.method, w.path, peer).allow;
          expect([was, now], JSON.stringify(change)).toEqual(change.kind === "widen" ? [false, true] : [true, false]);
        }
      }),
      fuzzParams(400),
    );
  });
});

describe("acl diff reads as decisions", () => {
  const base = `version: 1
groups:
  frontends: [OU=web, OU=fulfillment]
paths:
  /user:
    GET: ["@frontends"]
    DELETE: [OU=web]
  /user/{id}:
    GET: [OU=web]
  /admin/**:
    "*": [OU=ops]
`;

  test("renaming a parameter, reordering entries and inlining a group change nothing", () => {
    const same = `version: 1
paths:
  /admin/**:
    "*": [OU=ops]
  /user/{uid}:
    GET: [OU=web]
  /user:
    DELETE: [OU=web]
    GET: [OU=fulfillment, OU=web]
`;
    const diff = diffAcls(compileAcl("old.yaml", base), compileAcl("new.yaml", same));
    expect(diff.changes).toEqual([]);
    expect(formatDiff(diff)).toBe("");
  });

  test("a new more specific path narrows only where it applies and names the entries", () => {
    const next = base.replace("  /admin/**:", "  /user/me:\n    GET: [OU=fulfillment]\n  /admin/**:");
    const text = formatDiff(diffAcls(compileAcl("old.yaml", base), compileAcl("new.yaml", next)));
    expect(text).toBe(
      "- OU=web may no longer GET, HEAD /user/me   (old.yaml:9:5 GET /user/{id}; now new.yaml:11:5 GET /user/me)\n" +
        "+ OU=fulfillment may GET, HEAD /user/me   (new.yaml:11:5 GET /user/me; was old.yaml:9:5 GET /user/{id})\n",
    );
  });

  test("a wider pattern that adds a path shows the path region, not the pattern text", () => {
    const next = base.replace("  /user/{id}:\n    GET: [OU=web]\n", "  /user/{id}:\n    GET: [OU=web]\n  /user/{id}/**:\n    GET: [OU=web]\n");
    const diff = diffAcls(compileAcl("old.yaml", base), compileAcl("new.yaml", next));
    expect(formatDiff(diff)).toBe("+ OU=web may GET, HEAD /user/{id}/{any}/**   (new.yaml:11:5 GET /user/{id}/**)\n");
  });

  test("a mode change is a change: enforce -> audit widens", () => {
    const diff = diffAcls(compileAcl("old.yaml", base), compileAcl("new.yaml", base.replace("version: 1", "version: 1\nmode: audit")));
    expect(diff.mode).toEqual({ from: "enforce", to: "audit", kind: "widen" });
    expect(formatDiff(diff)).toMatch(/^\+ mode enforce -> audit/);
  });
});
