/**
 * Deciding one request against a compiled ACL. Pure: no I/O, no clock, and
 * `evaluate` (the proxy's hot path) allocates nothing: the path is looked up
 * by index, and every Decision it can return was built at compile time.
 *
 * The decision table is flat: each path's rule, its method entries and
 * their grants are one block of ints, stored by the path index next to the
 * path's node and referring to predicates and Decisions by index. A
 * decision reads a few neighbouring ints instead of following a chain of
 * objects spread over the heap, which is what keeps its cost flat from 10
 * to 10k paths (bench/RESULTS.md).
 */
import { normalizeTarget } from "../http/path.js";
import { canonicalPeer, type PeerAttributes, type PeerInput } from "../identity/attributes.js";
import { parsePeerSpec } from "../identity/peer.js";
import type { PeerPredicate } from "./principal.js";
import { buildPathIndex, lookupPath, type Block, type PathIndex } from "./path-index.js";
import type { PatternSegment } from "./path-pattern.js";

export interface Decision {
  readonly allow: boolean;
  /** The entry that decided, `METHOD pattern` as written in the ACL (`GET /user/{id}`), or null when no entry did. */
  readonly entry: string | null;
  /** Why, in words: which principal granted, or what was missing. */
  readonly reason: string;
}

// A rule (one per path) is a block of ints that the path index stores next to the path's node:
//   [entry (or -1) for each method column] [ANY_METHOD] [NO_METHOD] [its entries...]
// An entry is referred to by its offset from the start of the rule's block.
const ANY_METHOD = 0; // after the method columns: the "*" entry, or -1
const NO_METHOD = 1; // the decision when the path has no entry for the method
const RULE_TAIL = 2;
// An entry: [GRANT_COUNT] [DENY] then per principal, in file order: [predicate] [decision when it matches]
const GRANT_COUNT = 0;
const DENY = 1;
const GRANTS = 2;

export interface DecisionTable {
  /** Every method the ACL names -> its column in a rule. */
  readonly methods: ReadonlyMap<string, number>;
  readonly methodCount: number;
  /** Path -> the offset of its rule's block in `paths.nodes`. */
  readonly paths: PathIndex;
  readonly predicates: readonly PeerPredicate[];
  readonly decisions: readonly Decision[];
}

export const NO_PATH: Decision = Object.freeze({ allow: false, entry: null, reason: "no path in the ACL matches" });

/**
 * The hot path: `path` is already normalized (`normalizeTarget`) and `peer`
 * canonical (`peerAttributesFromCertificate`).
 */
export function evaluate(table: DecisionTable, method: string, path: string, peer: PeerAttributes): Decision {
  const rule = lookupPath(table.paths, path);
  if (rule === -1) return NO_PATH;
  const code = table.paths.nodes;
  // A wider pattern never adds access: once a path matched, only its own entries count.
  const column = table.methods.get(method);
  let offset = column === undefined ? -1 : code[rule + column]!;
  if (offset === -1) {
    const tail = rule + table.methodCount;
    offset = code[tail + ANY_METHOD]!;
    if (offset === -1) return table.decisions[code[tail + NO_METHOD]!]!;
  }
  const entry = rule + offset;
  const end = entry + GRANTS + 2 * code[entry + GRANT_COUNT]!;
  for (let grant = entry + GRANTS; grant < end; grant += 2) {
    if (table.predicates[code[grant]!]!(peer)) return table.decisions[code[grant + 1]!]!;
  }
  return table.decisions[code[entry + DENY]!]!;
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

/** A method entry before layout: its principals' predicates, each with the decision it returns, and the deny. */
export interface EntrySpec {
  readonly grants: readonly { readonly matches: PeerPredicate; readonly allow: Decision }[];
  readonly deny: Decision;
}

/**
 * Collects one rule per path, then lays out the table: the rule blocks in
 * order, and the Decisions made together in the same order, so one path's
 * ints and Decisions sit side by side in memory.
 */
export class DecisionTableBuilder {
  private readonly rules: { methods: ReadonlyMap<string, EntrySpec>; anyMethod: EntrySpec | null; noMethod: Decision }[] = [];

  /** A path's rule: method -> entry (HEAD may share GET's), the `"*"` entry, and the no-entry decision. Returns its number. */
  rule(methods: ReadonlyMap<string, EntrySpec>, anyMethod: EntrySpec | null, noMethod: Decision): number {
    return this.rules.push({ methods, anyMethod, noMethod }) - 1;
  }

  /** The table, with `exact` paths and `patterns` mapped to the rule numbers `rule()` returned. */
  build(exact: ReadonlyMap<string, number>, patterns: readonly { readonly segments: readonly PatternSegment[]; readonly value: number }[]): DecisionTable {
    const methods = new Map<string, number>();
    for (const rule of this.rules) for (const method of rule.methods.keys()) if (!methods.has(method)) methods.set(method, methods.size);
    const methodCount = methods.size;

    const decisions: Decision[] = [];
    const predicates: PeerPredicate[] = [];
    const predicateIds = new Map<PeerPredicate, number>();
    const decision = (d: Decision) => decisions.push(Object.freeze({ allow: d.allow, entry: d.entry, reason: d.reason })) - 1;
    const predicate = (matches: PeerPredicate) => {
      let id = predicateIds.get(matches);
      if (id === undefined) {
        id = predicates.push(matches) - 1;
        predicateIds.set(matches, id);
      }
      return id;
    };

    const blocks = this.rules.map((rule): Block => {
      const block: number[] = new Array<number>(methodCount + RULE_TAIL).fill(-1);
      const placed = new Map<EntrySpec, number>();
      const place = (spec: EntrySpec) => {
        let offset = placed.get(spec);
        if (offset === undefined) {
          offset = block.length;
          placed.set(spec, offset);
          block.push(spec.grants.length, decision(spec.deny));
          for (const { matches, allow } of spec.grants) block.push(predicate(matches), decision(allow));
        }
        return offset;
      };
      for (const [method, spec] of rule.methods) block[methods.get(method)!] = place(spec);
      if (rule.anyMethod) block[methodCount + ANY_METHOD] = place(rule.anyMethod);
      block[methodCount + NO_METHOD] = decision(rule.noMethod);
      return block;
    });

    const paths = buildPathIndex(
      new Map([...exact].map(([path, rule]) => [path, blocks[rule]!])),
      patterns.map(({ segments, value }) => ({ segments, value: blocks[value]! })),
    );
    return Object.freeze({ methods, methodCount, paths, predicates: Object.freeze(predicates), decisions: Object.freeze(decisions) });
  }
}
