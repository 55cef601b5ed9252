/**
 * Deciding one request against a compiled ACL. Pure: no I/O, no clock, and
 * `evaluate` (the proxy's hot path) allocates nothing: the path is looked up
 * by index, and every Decision it can return was built at compile time.
 */
import { normalizeTarget } from "../http/path.js";
import { canonicalPeer, type PeerAttributes, type PeerInput } from "../identity/attributes.js";
import { parsePeerSpec } from "../identity/peer.js";
import type { PeerPredicate } from "./principal.js";
import { lookupTrie, type TrieNode } from "./path-trie.js";

export interface Decision {
  readonly allow: boolean;
  /** The entry that decided, `METHOD pattern` as written in the ACL (`GET /user/{id}`), or null when no entry did. */
  readonly entry: string | null;
  /** Why, in words: which principal granted, or what was missing. */
  readonly reason: string;
}

/** A method entry of one path: its principals in file order, each with the allow it returns. */
export interface MethodRule {
  readonly grants: readonly { readonly matches: PeerPredicate; readonly decision: Decision }[];
  /** Returned when no principal matches. */
  readonly deny: Decision;
}

/** Everything one path pattern decides. */
export interface PathRule {
  /** Method -> rule, with HEAD already falling back to GET where HEAD has no entry. */
  readonly methods: ReadonlyMap<string, MethodRule>;
  /** The `"*"` entry, or null. */
  readonly anyMethod: MethodRule | null;
  /** Returned when the path matched but has no entry for the method. */
  readonly noMethod: Decision;
}

export interface DecisionTable {
  /** Paths without `{name}` or `**`, keyed by normalized path, each also under its trailing-slash form. */
  readonly exact: ReadonlyMap<string, PathRule>;
  readonly patterns: TrieNode<PathRule>;
}

export const NO_PATH: Decision = Object.freeze({ allow: false, entry: null, reason: "no path in the ACL matches" });

/**
 * The hot path: `path` is already normalized (`normalizeTarget`) and `peer`
 * canonical (`peerAttributesFromCertificate`). An exact path is always the
 * most specific match, so the Map is asked before the trie.
 */
export function evaluate(table: DecisionTable, method: string, path: string, peer: PeerAttributes): Decision {
  const rule = table.exact.get(path) ?? lookupTrie(table.patterns, path);
  if (rule === null) return NO_PATH;
  // A wider pattern never adds access: once a path matched, only its own entries count.
  const entry = rule.methods.get(method) ?? rule.anyMethod;
  if (entry === null) return rule.noMethod;
  const grants = entry.grants;
  for (let i = 0; i < grants.length; i++) {
    if (grants[i]!.matches(peer)) return grants[i]!.decision;
  }
  return entry.deny;
}

/** A request as library callers describe it; `path` is a request-target and may carry a query. */
export interface DecisionRequest {
  readonly method: string;
  readonly path: string;
  /** Attribute -> value(s), names in any case (`{ OU: ["web", "ops"], cn: "web-01" }`), or a `--peer` string (`OU=web,CN=web-01`). */
  readonly peer: PeerInput | string;
}

/**
 * The library form: normalizes the target as the proxy does (a target the
 * proxy would refuse with 400 is a deny here) and canonicalizes the peer.
 */
export function decide(table: DecisionTable, request: DecisionRequest): Decision {
  const target = normalizeTarget(request.path);
  if (!target.ok) return Object.freeze({ allow: false, entry: null, reason: `the proxy refuses this request-target with 400: ${target.reason}` });
  const peer = typeof request.peer === "string" ? parsePeerSpec(request.peer) : canonicalPeer(request.peer);
  return evaluate(table, request.method, target.path, peer);
}
