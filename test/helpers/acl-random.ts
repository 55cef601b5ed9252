/**
 * Random whole ACLs and requests for property tests (fast-check): small
 * pools of segments, methods and principals, so that random requests often
 * hit the random patterns and the interesting overlaps (literal against
 * `{name}` against `/**`, HEAD against GET and "*") come up in few runs.
 */
import fc from "fast-check";
import { parsePathPattern } from "../../src/acl/path-pattern.js";
import { canonicalPeer, type PeerAttributes, type PeerInput } from "../../src/identity/attributes.js";

export const LITERALS = ["a", "b", "user", "42"] as const;
export const ACL_METHODS = ["GET", "HEAD", "POST", "DELETE", "*"] as const;
export const REQUEST_METHODS = ["GET", "HEAD", "POST", "DELETE", "PUT", "OPTIONS"] as const;

/** Principals as they appear in YAML (objects are attribute maps). */
export const PRINCIPALS: readonly (string | Record<string, string>)[] = ["*", "OU=web", "OU=ops", "CN=a-*", { OU: "web", CN: "a-1" }, "@g"];
export const GROUPS = { g: ["OU=ops", "CN=b"] };

export const PEERS: readonly PeerInput[] = [{ OU: "web", CN: "a-1" }, { OU: "web", CN: "b" }, { OU: "ops" }, { CN: "a-9" }, { OU: ["web", "ops"] }, { CN: "zz" }];

/** A path pattern such as `/a/{p0}/**`. */
export const patternText: fc.Arbitrary<string> = fc.array(fc.constantFrom<string>(...LITERALS, "{}", "**"), { maxLength: 4 }).map((parts) => {
  const rest = parts.indexOf("**");
  const kept = rest === -1 ? parts : parts.slice(0, rest + 1);
  let n = 0;
  return `/${kept.map((p) => (p === "{}" ? `{p${n++}}` : p)).join("/")}`;
});

const principalList = fc.array(fc.constantFrom(...PRINCIPALS), { maxLength: 3 });
const methodMap = fc.uniqueArray(fc.tuple(fc.constantFrom(...ACL_METHODS), principalList), { maxLength: 4, selector: ([m]) => m }).map((pairs) => Object.fromEntries(pairs));

export interface RandomAcl {
  /** The ACL as JSON (which is YAML). */
  readonly text: string;
  readonly patterns: readonly string[];
}

/** A valid ACL of up to `maxPaths` distinct patterns. */
export function randomAcl(options: { maxPaths?: number; principals?: fc.Arbitrary<readonly (string | Record<string, string>)[]> } = {}): fc.Arbitrary<RandomAcl> {
  const list = options.principals ?? principalList;
  const methods = options.principals ? fc.uniqueArray(fc.tuple(fc.constantFrom(...ACL_METHODS), list), { maxLength: 4, selector: ([m]) => m }).map((pairs) => Object.fromEntries(pairs)) : methodMap;
  return fc.uniqueArray(fc.tuple(patternText, methods), { maxLength: options.maxPaths ?? 8, selector: ([p]) => parsePathPattern(p).key }).map((paths) => ({
    text: JSON.stringify({ version: 1, groups: GROUPS, paths: Object.fromEntries(paths) }, null, 1),
    patterns: paths.map(([p]) => p),
  }));
}

/** A normalized request path: segments from the pools (and one no pattern has), sometimes with a trailing slash. */
export const requestPath: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.constantFrom<string>(...LITERALS, "zz"), { maxLength: 5 }), fc.boolean())
  .map(([parts, slash]) => `/${parts.join("/")}${slash && parts.length > 0 ? "/" : ""}`);

/** A request path that one of `patterns` matches, with `{name}` and `**` filled from the pools. */
export function pathFor(pattern: string, fill: readonly string[]): string {
  const out: string[] = [];
  let k = 0;
  for (const segment of pattern.split("/").slice(1)) {
    if (segment === "") continue;
    if (segment === "**") {
      const n = fill.length > 0 ? fill[0]!.length % 3 : 0;
      for (let i = 0; i < n; i++) out.push(fill[(k++ % Math.max(1, fill.length))] ?? "zz");
      break;
    }
    out.push(segment.startsWith("{") ? (fill[k++ % Math.max(1, fill.length)] ?? "zz") : segment);
  }
  return `/${out.join("/")}`;
}

export interface RandomRequest {
  readonly method: string;
  readonly path: string;
  readonly peer: PeerAttributes;
}

/** Requests for an ACL: half aimed at its patterns, half anywhere. */
export function randomRequests(patterns: readonly string[], maxLength = 30, peers: readonly PeerInput[] = PEERS): fc.Arbitrary<RandomRequest[]> {
  const aimed = patterns.length === 0 ? requestPath : fc.tuple(fc.constantFrom(...patterns), fc.array(fc.constantFrom<string>(...LITERALS, "zz"), { maxLength: 4 })).map(([p, fill]) => pathFor(p, fill));
  const path = fc.oneof(aimed, requestPath);
  return fc.array(
    fc.record({ method: fc.constantFrom<string>(...REQUEST_METHODS), path, peer: fc.constantFrom(...peers).map((p) => canonicalPeer(p)) }),
    { minLength: 1, maxLength },
  );
}
