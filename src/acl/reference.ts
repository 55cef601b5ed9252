/**
 * The ACL's decision rules, stated as plainly as code can (README, ACL
 * reference). This is the normative statement: the proxy's `evaluate`
 * (decide.ts over the integer table of layout.ts and path-index.ts) is an
 * optimization of it, and the tests hold the two to the same Decision for
 * random ACLs and requests. Nothing here is fast, and nothing needs to be:
 * production never calls it.
 *
 *   1. The request path is split into segments; a trailing slash is ignored.
 *   2. A pattern matches when each of its segments matches in turn: a literal
 *      segment only itself, `{name}` any one non-empty segment, a final `**`
 *      the path so far and everything below it.
 *   3. Of the patterns that match, the most specific wins, compared segment by
 *      segment from the left: a literal beats `{name}`, which beats `**`
 *      (a pattern that ends where the path ends counts as literal there).
 *   4. Within the winning path only its own entries count (a wider pattern
 *      never adds access): the method's entry; for HEAD without one, GET's;
 *      then the "*" entry; with none of those, deny.
 *   5. The entry's principals are tried in file order; the first that matches
 *      allows. None matching denies.
 */
import type { PeerAttributes } from "../identity/attributes.js";
import type { PatternSegment } from "./path-pattern.js";
import { NO_PATH, type AclRule, type Decision, type RuleEntry } from "./rules.js";

/** The decision for `method` on a normalized request path, for a canonical peer. */
export function referenceEvaluate(rules: readonly AclRule[], method: string, path: string, peer: PeerAttributes): Decision {
  if (!path.startsWith("/")) return NO_PATH;
  const segments = requestSegments(path);
  let best: AclRule | null = null;
  for (const rule of rules) {
    if (!matches(rule.pattern.segments, segments)) continue;
    if (best === null || compareSpecificity(rule.pattern.segments, best.pattern.segments) < 0) best = rule;
  }
  if (best === null) return NO_PATH;

  const entry: RuleEntry | null = best.methods.get(method) ?? (method === "HEAD" ? best.methods.get("GET") : undefined) ?? best.anyMethod;
  if (entry === null) return best.noMethod;
  for (const grant of entry.grants) if (grant.principal.matches(peer)) return grant.allow;
  return entry.deny;
}

/** `/a/b/` -> ["a", "b"]; `/` -> []. */
function requestSegments(path: string): string[] {
  const body = path.endsWith("/") ? path.slice(1, -1) : path.slice(1);
  return body === "" ? [] : body.split("/");
}

function matches(pattern: readonly PatternSegment[], segments: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.kind === "rest") return true;
    if (i >= segments.length) return false;
    if (p.kind === "literal" && p.value !== segments[i]) return false;
    if (p.kind === "param" && segments[i] === "") return false;
  }
  return pattern.length === segments.length;
}

/** Negative when `a` is more specific than `b`; both must match the same request path. */
function compareSpecificity(a: readonly PatternSegment[], b: readonly PatternSegment[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = rank(a[i]) - rank(b[i]);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Past the end of a matching pattern the path has ended too: that is as specific as a literal. */
function rank(segment: PatternSegment | undefined): number {
  if (segment === undefined || segment.kind === "literal") return 0;
  return segment.kind === "param" ? 1 : 2;
}
