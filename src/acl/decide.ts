/**
 * Deciding one request against a compiled ACL. Pure: no I/O, no clock, and
 * `evaluate` (the proxy's hot path) allocates nothing: the path is looked up
 * by index, and every Decision it can return was built at compile time.
 *
 * The decision table is flat: each path's rule, its method entries and
 * their grants are one block of ints, stored by the path index next to the
 * path's node and referring to predicates and Decisions by index (the
 * layout is in layout.ts). A decision reads a few neighbouring ints instead
 * of following a chain of objects spread over the heap, which is what keeps
 * its cost flat from 10 to 10k paths (bench/RESULTS.md).
 *
 * The rules it implements are stated plainly in reference.ts; the tests
 * hold the two to the same answers.
 */
import { GuardpostError } from "../errors.js";
import { normalizeTarget } from "../http/path.js";
import { canonicalPeer, type PeerAttributes, type PeerInput } from "../identity/attributes.js";
import { parsePeerSpec } from "../identity/peer.js";
import { parseAddress, type SourceAddress } from "../identity/source-address.js";
import {
  entryDenyDecision,
  entryEnd,
  entryFirstGrant,
  grantDecision,
  grantPredicate,
  layRule,
  nextGrant,
  NONE,
  ruleAnyMethodEntry,
  ruleEntry,
  ruleNoMethodDecision,
  type EntryInts,
} from "./layout.js";
import { buildPathIndex, lookupPath, type Block, type PathIndex } from "./path-index.js";
import type { PeerPredicate } from "./principal.js";
import { NO_PATH, type AclRule, type Decision, type RuleEntry } from "./rules.js";

export { NO_PATH, type Decision } from "./rules.js";

export interface DecisionTable {
  /** Every method the ACL names -> its column in a rule. */
  readonly methods: ReadonlyMap<string, number>;
  readonly methodCount: number;
  /** Path -> the offset of its rule's block in `paths.nodes`. */
  readonly paths: PathIndex;
  readonly predicates: readonly PeerPredicate[];
  readonly decisions: readonly Decision[];
}

/**
 * The hot path: `path` is already normalized (`normalizeTarget`) and `peer`
 * canonical (`peerAttributesFromCertificate`).
 */
export function evaluate(table: DecisionTable, method: string, path: string, peer: PeerAttributes): Decision {
  const rule = lookupPath(table.paths, path);
  if (rule === NONE) return NO_PATH;
  const code = table.paths.nodes;
  // A wider pattern never adds access: once a path matched, only its own entries count.
  const column = table.methods.get(method);
  let entry = column === undefined ? NONE : ruleEntry(code, rule, column);
  if (entry === NONE) {
    entry = ruleAnyMethodEntry(code, rule, table.methodCount);
    if (entry === NONE) return table.decisions[ruleNoMethodDecision(code, rule, table.methodCount)]!;
  }
  const end = entryEnd(code, entry);
  for (let grant = entryFirstGrant(entry); grant < end; grant = nextGrant(grant)) {
    if (table.predicates[grantPredicate(code, grant)]!(peer)) return table.decisions[grantDecision(code, grant)]!;
  }
  return table.decisions[entryDenyDecision(code, entry)]!;
}

/** A request as library callers describe it; `path` is a request-target and may carry a query. */
export interface DecisionRequest {
  readonly method: string;
  readonly path: string;
  /** Attribute -> value(s), names in any case (`{ OU: ["web", "ops"], cn: "web-01" }`), or a `--peer` string (`OU=web,CN=web-01`). */
  readonly peer: PeerInput | string;
  /** The client's source address (`10.1.2.3`, `2001:db8::7`), for `SRC=` principals; a decision that needs it throws GP_ERR_ACL_SOURCE_REQUIRED without it. */
  readonly source?: string | undefined;
}

/** A `--source` or `source:` value, parsed; throws GP_ERR_SOURCE_ADDRESS. */
export function parseSource(text: string): SourceAddress {
  const address = parseAddress(text);
  if (address === null) throw new GuardpostError("GP_ERR_SOURCE_ADDRESS", `bad source address ${JSON.stringify(text)} (expected an IPv4 or IPv6 address such as 10.1.2.3 or 2001:db8::7, without a prefix or zone id)`);
  return address;
}

/**
 * The library form: normalizes the target as the proxy does (a target the
 * proxy would refuse with 400 is a deny here) and canonicalizes the peer.
 */
export function decide(table: DecisionTable, request: DecisionRequest): Decision {
  const target = normalizeTarget(request.path);
  if (!target.ok) return Object.freeze({ allow: false, entry: null, reason: `the proxy refuses this request-target with 400: ${target.reason}` });
  const attributes = typeof request.peer === "string" ? parsePeerSpec(request.peer) : canonicalPeer(request.peer);
  const peer: PeerAttributes = request.source === undefined ? attributes : Object.freeze({ ...attributes, source: parseSource(request.source) });
  return evaluate(table, request.method, target.path, peer);
}

/** Called with every table built and the rules it was built from; tests install `verifyTable` here. Null in production. */
let tableCheck: ((table: DecisionTable, rules: readonly AclRule[]) => void) | null = null;

/** Installs (or with null removes) a check that runs after every table is built. */
export function checkEveryTable(check: ((table: DecisionTable, rules: readonly AclRule[]) => void) | null): void {
  tableCheck = check;
}

/**
 * Lays out the table: one rule block per path, in order, with the Decisions
 * made in the same order, so one path's ints and Decisions sit side by side
 * in memory. HEAD without an entry of its own gets GET's entry in its
 * column; the "*" entry is the lookup's fallback.
 */
export function buildDecisionTable(rules: readonly AclRule[]): DecisionTable {
  const methods = new Map<string, number>();
  const column = (method: string) => {
    if (!methods.has(method)) methods.set(method, methods.size);
  };
  for (const rule of rules) {
    for (const method of rule.methods.keys()) column(method);
    if (rule.methods.has("GET")) column("HEAD");
  }
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

  const exact = new Map<string, Block>();
  const patterns: { segments: AclRule["pattern"]["segments"]; value: Block }[] = [];
  for (const rule of rules) {
    const laid = new Map<RuleEntry, EntryInts>();
    const ints = (spec: RuleEntry | null | undefined): EntryInts | null => {
      if (!spec) return null;
      let entry = laid.get(spec);
      if (!entry) {
        const deny = decision(spec.deny);
        entry = { deny, grants: spec.grants.map((g) => [predicate(g.principal.matches), decision(g.allow)] as const) };
        laid.set(spec, entry);
      }
      return entry;
    };
    const columns = new Array<EntryInts | null>(methodCount).fill(null);
    for (const [method, index] of methods) {
      // README: HEAD with no entry of its own uses GET's entry, then "*".
      columns[index] = ints(rule.methods.get(method) ?? (method === "HEAD" ? rule.methods.get("GET") : null));
    }
    const block = layRule(columns, ints(rule.anyMethod), decision(rule.noMethod));
    if (rule.pattern.exact !== null) exact.set(rule.pattern.exact, block);
    else patterns.push({ segments: rule.pattern.segments, value: block });
  }

  const table: DecisionTable = Object.freeze({ methods, methodCount, paths: buildPathIndex(exact, patterns), predicates: Object.freeze(predicates), decisions: Object.freeze(decisions) });
  if (tableCheck !== null) tableCheck(table, rules);
  return table;
}
