/**
 * `guardpost acl diff OLD NEW`: every change of access between two ACLs, as
 * decisions. Sound by construction: the space of requests is cut into
 * regions on which both ACLs are constant, and each region is decided.
 *
 * - Paths: one walk over the patterns of both files together. At each depth
 *   the next segment is either one of the literals some live pattern names
 *   there, or "any other segment"; a path may also end there. Once no live
 *   pattern looks further, everything deeper is one region. Within a region
 *   every path selects the same winning pattern in each ACL.
 * - Methods: every method either file names, GET and HEAD (HEAD falls back to
 *   GET), and "any other method".
 * - Peers: a decision is "some principal of the deciding entry matches". A
 *   peer whose access changed matches a principal of the entry that now (or
 *   before) grants it; keeping only the attribute values that principal needs
 *   can only remove matches on the other side, so a peer with just those
 *   values (and the same source) is a witness. Each principal of the two
 *   deciding entries is therefore searched for such a peer, over candidate
 *   values taken from every pattern and network of both files.
 *
 * Every printed change carries its witness: a concrete request the two ACLs
 * decide differently.
 */
import { ATTRIBUTES, canonicalValue, type Attribute, type PeerAttributes } from "../identity/attributes.js";
import { lastAddress, networkMatcher, formatAddress, parseAddress, stepAddress, UNKNOWN_SOURCE, type Network, type SourceAddress } from "../identity/source-address.js";
import type { SourcePosition } from "../errors.js";
import { aclRules, type CompiledAcl } from "./compile.js";
import type { PatternSegment } from "./path-pattern.js";
import { valueMatcher, type Condition, type Principal } from "./principal.js";
import type { AclRule, RuleEntry } from "./rules.js";

export type ChangeKind = "widen" | "narrow";

/** One segment of a path region: a literal, or any segment but the listed literals. */
export type RegionSegment = { readonly literal: string } | { readonly other: readonly string[] };

export interface PathRegion {
  readonly segments: readonly RegionSegment[];
  /** The path of just these segments is in the region. */
  readonly exact: boolean;
  /** Paths with one or more further segments, of any value, are in the region. */
  readonly below: boolean;
  /** How it reads: `/user/{id}`, `/static/**`. */
  readonly text: string;
}

export interface EntryRef {
  readonly entry: string;
  readonly position: SourcePosition;
}

export interface Change {
  readonly kind: ChangeKind;
  /** The principal as its file shows it (`OU=web`, `{OU: web, SRC: 10.1.0.0/16}`, `OU=ops via @admins`). */
  readonly principal: string;
  /** What the principal tests; a peer is in the change's region when all hold. */
  readonly conditions: readonly Condition[];
  /** Methods of the region; OTHER_METHODS stands for every method neither file names, ANY_METHOD for all. */
  readonly methods: readonly string[];
  readonly path: PathRegion;
  /** The entry that decided before and the one that decides now (null: no entry). */
  readonly old: EntryRef | null;
  readonly new: EntryRef | null;
  /**
   * Principals of the other side that cover part of this one (all its
   * conditions and more): peers matching those are not affected. `- OU=ops ...
   * unless {OU: ops, SRC: 10.20.0.0/16}`.
   */
  readonly unless: readonly string[];
  /** A request the two ACLs decide differently, in this region. */
  readonly witness: { readonly method: string; readonly path: string; readonly peer: Record<string, string>; readonly source: string };
}

export interface AclDiff {
  readonly old: string;
  readonly new: string;
  /** `enforce -> audit` widens (nothing is refused any more), `audit -> enforce` narrows; null when the mode is the same. */
  readonly mode: { readonly from: string; readonly to: string; readonly kind: ChangeKind } | null;
  readonly changes: readonly Change[];
}

/** The method class of every method neither file names. */
export const OTHER_METHODS = "(any other method)";
/** In `methods`: every method (each method class changed alike). */
export const ANY_METHOD = "(any method)";

/** Candidate peers tried per principal before giving up; real principals have one to three conditions. */
const SEARCH_LIMIT = 50_000;

export function diffAcls(oldAcl: CompiledAcl, newAcl: CompiledAcl): AclDiff {
  const oldRules = aclRules(oldAcl);
  const newRules = aclRules(newAcl);
  const all = [...oldRules, ...newRules];

  const named = new Set<string>(["GET", "HEAD"]);
  for (const rule of all) for (const method of rule.methods.keys()) named.add(method);
  let otherMethod = "OTHER";
  for (let i = 2; named.has(otherMethod); i++) otherMethod = `OTHER${i}`;
  const methods = [...named].sort();
  methods.push(OTHER_METHODS);

  const candidates = new Candidates(all);
  const entriesOf = (rules: readonly AclRule[]) => {
    const byName = new Map<string, RuleEntry>();
    for (const rule of rules) for (const entry of [...rule.methods.values(), ...(rule.anyMethod ? [rule.anyMethod] : [])]) byName.set(entry.entry, entry);
    return byName;
  };
  const oldEntries = entriesOf(oldRules);
  const newEntries = entriesOf(newRules);
  // The deciding entry does not depend on the peer; a peer whose source matches nothing never throws.
  const nobody: PeerAttributes = Object.freeze({ source: UNKNOWN_SOURCE });
  const decidingEntry = (acl: CompiledAcl, byName: Map<string, RuleEntry>, method: string, path: string): RuleEntry | null => {
    const entry = acl.evaluate(method, path, nobody).entry;
    return entry === null ? null : byName.get(entry)!;
  };

  const raw: (Change & { order: number })[] = [];
  const analysed = new Map<string, ReturnType<typeof changesBetween>>();
  let order = 0;
  for (const region of pathRegions(all.map((r) => r.pattern.segments))) {
    for (const method of methods) {
      const concrete = method === OTHER_METHODS ? otherMethod : method;
      const before = decidingEntry(oldAcl, oldEntries, concrete, region.witness);
      const after = decidingEntry(newAcl, newEntries, concrete, region.witness);
      const key = `${before?.entry ?? ""}\u0000${after?.entry ?? ""}`;
      let found = analysed.get(key);
      if (!found) {
        found = changesBetween(before?.grants ?? [], after?.grants ?? [], candidates);
        analysed.set(key, found);
      }
      for (const f of found) {
        raw.push({
          order: order++,
          kind: f.kind,
          principal: f.principal.text,
          conditions: f.principal.conditions,
          unless: f.unless,
          methods: [method],
          path: region.region,
          old: before ? { entry: before.entry, position: before.position } : null,
          new: after ? { entry: after.entry, position: after.position } : null,
          witness: { method: concrete, path: region.witness, peer: Object.fromEntries(f.peer), source: formatAddress(f.source) },
        });
      }
    }
  }

  // One line per principal, region and pair of entries, with its methods together ...
  const byRegion = new Map<string, Change & { order: number }>();
  for (const change of raw) {
    const key = JSON.stringify([change.kind, change.principal, change.path.segments, change.path.exact, change.path.below, change.old?.entry, change.new?.entry]);
    const known = byRegion.get(key);
    if (known) byRegion.set(key, { ...known, methods: [...known.methods, ...change.methods] });
    else byRegion.set(key, change);
  }
  // ... and a path and everything below it as one `/path/**` line when they changed alike.
  const merged = new Map<string, Change & { order: number }>();
  const sameBut = (c: Change, exact: boolean, below: boolean) => JSON.stringify([c.kind, c.principal, c.path.segments, exact, below, [...c.methods].sort(), c.old?.entry, c.new?.entry]);
  for (const change of byRegion.values()) merged.set(sameBut(change, change.path.exact, change.path.below), change);
  for (const change of byRegion.values()) {
    if (!change.path.exact || change.path.below) continue;
    const deeper = merged.get(sameBut(change, false, true));
    if (!deeper) continue;
    merged.delete(sameBut(change, false, true));
    merged.delete(sameBut(change, true, false));
    const names = change.path.text.split("/").slice(1).filter((p) => p !== "");
    const text = `/${names.join("/")}${names.length === 0 ? "**" : "/**"}`;
    merged.set(sameBut(change, true, true), { ...change, path: Object.freeze({ segments: change.path.segments, exact: true, below: true, text }) });
  }
  const allMethods = methods.length;
  const changes = [...merged.values()]
    .map((c) => (c.methods.length === allMethods ? { ...c, methods: [ANY_METHOD] } : c))
    // By path, then removals before additions as in a text diff, then as found.
    .sort((a, b) => a.path.text.localeCompare(b.path.text) || (a.kind === b.kind ? 0 : a.kind === "narrow" ? -1 : 1) || a.order - b.order)
    .map(({ order: _order, ...change }) => Object.freeze(change));

  const mode = oldAcl.mode === newAcl.mode ? null : { from: oldAcl.mode, to: newAcl.mode, kind: (newAcl.mode === "audit" ? "widen" : "narrow") as ChangeKind };
  return Object.freeze({ old: oldAcl.file, new: newAcl.file, mode, changes: Object.freeze(changes) });
}

/** The principals whose access differs between two grant lists, each with a witness peer. */
function changesBetween(before: RuleEntry["grants"], after: RuleEntry["grants"], candidates: Candidates) {
  const out: { kind: ChangeKind; principal: Principal; unless: string[]; peer: Map<Attribute, string>; source: SourceAddress }[] = [];
  const grants = (list: RuleEntry["grants"], peer: PeerAttributes) => list.some((g) => g.principal.matches(peer));
  // The same principals in the same order decide alike (cheap, and the common case of an untouched entry).
  const same = (a: RuleEntry["grants"], b: RuleEntry["grants"]) => a.length === b.length && a.every((g, i) => conditionsKey(g.principal) === conditionsKey(b[i]!.principal));
  if (same(before, after)) return out;
  const seen = new Set<string>();
  for (const [kind, from, to] of [["widen", after, before], ["narrow", before, after]] as const) {
    for (const { principal } of from) {
      if (seen.has(`${kind} ${principal.text}`)) continue;
      seen.add(`${kind} ${principal.text}`);
      const witness = candidates.search(principal, (peer) => !grants(to, peer));
      if (!witness) continue;
      const unless = [...new Set(to.filter((g) => conditionsKey(g.principal) !== conditionsKey(principal) && refines(g.principal, principal)).map((g) => g.principal.text))];
      out.push({ kind, principal, unless, ...witness });
    }
  }
  return out;
}

function conditionKey(c: Condition): string {
  return c.attribute === "SRC" ? `SRC=${c.network.text}` : `${c.attribute}=${c.pattern}`;
}

function conditionsKey(p: Principal): string {
  return JSON.stringify(p.conditions.map(conditionKey).sort());
}

/** Whether `narrow` tests everything `wide` tests (and maybe more): every peer it matches, `wide` matches. */
function refines(narrow: Principal, wide: Principal): boolean {
  const has = new Set(narrow.conditions.map(conditionKey));
  return wide.conditions.every((c) => has.has(conditionKey(c)));
}

/** Values worth trying per attribute, and source addresses worth trying, from every pattern and network of both files. */
class Candidates {
  private readonly values = new Map<Attribute, string[]>();
  private readonly sources: SourceAddress[] = [];

  constructor(rules: readonly AclRule[]) {
    const patterns = new Map<Attribute, Set<string>>();
    const networks: Network[] = [];
    for (const rule of rules) {
      for (const entry of [...rule.methods.values(), ...(rule.anyMethod ? [rule.anyMethod] : [])]) {
        for (const { principal } of entry.grants) {
          for (const c of principal.conditions) {
            if (c.attribute === "SRC") networks.push(c.network);
            else patterns.set(c.attribute, (patterns.get(c.attribute) ?? new Set()).add(c.pattern));
          }
        }
      }
    }
    for (const [attribute, set] of patterns) {
      const list = [...set];
      // The pieces between stars of every pattern of this attribute, to fill another pattern's stars with.
      const pieces = new Set<string>(["", "x", "\u00a7"]);
      for (const p of list) for (const piece of p.split("*")) pieces.add(piece);
      const values = new Set<string>();
      for (const p of list) {
        if (!p.includes("*")) values.add(p);
        else for (const fill of pieces) values.add(p.split("*").join(fill));
      }
      values.add("\u00a7unnamed");
      values.delete("");
      // Peers carry canonical values (an IPv6 SAN as ::1, not 0:0:0:0:0:0:0:1), and so must candidates.
      this.values.set(attribute, [...new Set([...values].map((v) => canonicalValue(attribute, v)))]);
    }
    const sources = new Map<string, SourceAddress>();
    const add = (a: SourceAddress | null) => {
      if (a) sources.set(formatAddress(a), a);
    };
    for (const n of networks) {
      add(n.first);
      add(lastAddress(n));
      add(stepAddress(n.first, -1));
      add(stepAddress(lastAddress(n), 1));
    }
    // Addresses inside no network of these files, most likely (documentation ranges, RFC 5737 and 3849).
    add(parseAddress("192.0.2.1"));
    add(parseAddress("2001:db8::1"));
    this.sources = [...sources.values()];
  }

  /** A peer with only the attributes `principal` needs, matching it, for which `wanted` holds; or null. */
  search(principal: Principal, wanted: (peer: PeerAttributes) => boolean): { peer: Map<Attribute, string>; source: SourceAddress } | null {
    const attributeConditions = principal.conditions.filter((c): c is Extract<Condition, { pattern: string }> => c.attribute !== "SRC");
    const network = principal.conditions.find((c): c is Extract<Condition, { network: Network }> => c.attribute === "SRC")?.network;
    const inNetwork = network ? networkMatcher(network) : () => true;
    const sources = this.sources.filter(inNetwork);
    const choices = attributeConditions.map((c) => {
      const match = valueMatcher(c.pattern);
      return { attribute: c.attribute, values: (this.values.get(c.attribute) ?? []).filter(match) };
    });
    let tried = 0;
    const chosen = new Map<Attribute, string>();
    const visit = (i: number): { peer: Map<Attribute, string>; source: SourceAddress } | null => {
      if (i === choices.length) {
        const attributes: Record<string, readonly string[]> = {};
        for (const attribute of ATTRIBUTES) {
          const value = chosen.get(attribute);
          if (value !== undefined) attributes[attribute] = [value];
        }
        for (const source of sources) {
          if (++tried > SEARCH_LIMIT) return null;
          const peer: PeerAttributes = { ...attributes, source };
          if (principal.matches(peer) && wanted(peer)) return { peer: new Map(chosen), source };
        }
        return null;
      }
      for (const value of choices[i]!.values) {
        chosen.set(choices[i]!.attribute, value);
        const found = visit(i + 1);
        if (found || tried > SEARCH_LIMIT) return found;
      }
      chosen.delete(choices[i]!.attribute);
      return null;
    };
    return visit(0);
  }
}

interface RegionWitness {
  readonly region: PathRegion;
  /** A normalized request path in the region. */
  readonly witness: string;
}

/** Regions of request paths on which every one of `patterns` either always or never matches, and the most specific match is the same. */
export function pathRegions(patterns: readonly (readonly PatternSegment[])[]): RegionWitness[] {
  const out: RegionWitness[] = [];
  // A live pattern matches the path so far; `absorbed` once its `**` took the rest.
  type Live = { readonly segments: readonly PatternSegment[]; readonly absorbed: boolean };
  const walk = (depth: number, prefix: RegionSegment[], concrete: string[], names: string[], live: readonly Live[]) => {
    if (live.length === 0) return;
    const at = (l: Live) => (l.absorbed ? undefined : l.segments[depth]);
    // The path ends here: patterns of exactly this length, `**` here, and absorbed ones match.
    if (live.some((l) => l.absorbed || l.segments.length === depth || at(l)?.kind === "rest")) {
      out.push({ region: region(prefix, names, true, false), witness: `/${concrete.join("/")}` });
    }
    const deeper = live.filter((l) => !l.absorbed && l.segments.length > depth && at(l)!.kind !== "rest");
    const continuing = live.filter((l) => l.absorbed || (l.segments.length > depth && at(l)!.kind === "rest"));
    if (deeper.length === 0) {
      // Nothing looks further: every longer path is decided alike.
      if (continuing.length > 0) out.push({ region: region(prefix, names, false, true), witness: `/${[...concrete, fresh(new Set())].join("/")}` });
      return;
    }
    // Live patterns by what they take at this depth: one literal, or any segment (`{name}`, `**`, absorbed).
    const byLiteral = new Map<string, Live[]>();
    const wild: Live[] = [];
    for (const l of live) {
      const s = at(l);
      if (l.absorbed) wild.push(l);
      else if (s === undefined) continue;
      else if (s.kind === "rest") wild.push({ segments: l.segments, absorbed: true });
      else if (s.kind === "param") wild.push(l);
      else {
        const list = byLiteral.get(s.value);
        if (list) list.push(l);
        else byLiteral.set(s.value, [l]);
      }
    }
    const literals = [...byLiteral.keys()].sort();
    for (const literal of literals) walk(depth + 1, [...prefix, { literal }], [...concrete, literal], [...names, ""], [...byLiteral.get(literal)!, ...wild]);
    const param = deeper.map(at).find((s) => s!.kind === "param") as { name: string } | undefined;
    walk(depth + 1, [...prefix, { other: literals }], [...concrete, fresh(new Set(literals))], [...names, param?.name ?? "any"], wild);
  };
  walk(0, [], [], [], patterns.map((segments) => ({ segments, absorbed: false })));
  return out;
}

function fresh(taken: ReadonlySet<string>): string {
  let name = "x";
  for (let i = 2; taken.has(name); i++) name = `x${i}`;
  return name;
}

function region(segments: readonly RegionSegment[], names: readonly string[], exact: boolean, below: boolean): PathRegion {
  const parts = segments.map((s, i) => ("literal" in s ? s.literal : `{${names[i]}}`));
  // As patterns read: `/a/**` is /a and below; below only is `/a/{any}/**`.
  if (below && !exact) parts.push("{any}");
  const text = `/${parts.join("/")}${below ? (parts.length === 0 ? "**" : "/**") : ""}`;
  return Object.freeze({ segments: Object.freeze([...segments]), exact, below, text });
}

/** Whether a normalized request path is in a region. */
export function regionContains(region: PathRegion, path: string): boolean {
  const body = path.endsWith("/") ? path.slice(1, -1) : path.slice(1);
  const segments = body === "" ? [] : body.split("/");
  const n = region.segments.length;
  if (!(segments.length === n ? region.exact : segments.length > n && region.below)) return false;
  return region.segments.every((s, i) => ("literal" in s ? segments[i] === s.literal : segments[i] !== "" && !s.other.includes(segments[i]!)));
}

/** The text form: one line per change, `+` for access added, `-` for access removed, each with the entries that decide. */
export function formatDiff(diff: AclDiff): string {
  const lines: string[] = [];
  if (diff.mode) {
    const what = diff.mode.to === "audit" ? "denials are only logged now; every request is let through" : "denials are enforced now";
    lines.push(`${diff.mode.kind === "widen" ? "+" : "-"} mode ${diff.mode.from} -> ${diff.mode.to}: ${what}   (${diff.new})`);
  }
  const at = (ref: EntryRef | null) => (ref === null ? "no entry" : `${ref.position.file}:${ref.position.line}:${ref.position.col} ${ref.entry}`);
  for (const c of diff.changes) {
    const methods = c.methods[0] === ANY_METHOD ? "call any method on" : c.methods.map((m) => (m === OTHER_METHODS ? "any other method" : m)).join(", ");
    const unless = c.unless.length === 0 ? "" : ` unless ${c.unless.join(" or ")}`;
    if (c.kind === "widen") lines.push(`+ ${c.principal} may ${methods} ${c.path.text}${unless}   (${at(c.new)}${c.old ? `; was ${at(c.old)}` : ""})`);
    else lines.push(`- ${c.principal} may no longer ${methods} ${c.path.text}${unless}   (${at(c.old)}; now ${at(c.new)})`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
