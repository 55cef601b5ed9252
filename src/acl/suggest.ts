/**
 * `guardpost acl suggest`: the least-privilege ACL that grants what the
 * access log shows, and nothing the traffic does not show.
 *
 * Lines are read one at a time (the CLI streams files, gzip and stdin into
 * `add`); what is kept is one trie of the observed paths with, at each path,
 * the callers and methods seen there and their counts. Memory is bounded by
 * the shape of the traffic, not its volume:
 * - identifier-like segments (decimal, UUID, long hex) go to a `{id}` child
 *   at once;
 * - a position that shows more than MAX_LITERALS distinct values is folded
 *   into `{id}` (its subtrees merged);
 * - past MAX_NODES nodes in all, every new value is folded.
 *
 * Only guardpost's own access lines count (`msg: "request"`), and of those
 * only `allow` and `would_deny` (audit mode) decisions: `deny` was refused on
 * purpose and `error` never reached the ACL. Anything else is counted and
 * skipped, never fatal.
 */
import { ATTRIBUTES, attributeNamed, canonicalPeer, type Attribute } from "../identity/attributes.js";
import { peerWithSource } from "../identity/source-address.js";
import { normalizeTarget } from "../http/path.js";
import { isGuardpostError } from "../errors.js";
import { aclRules, compileAcl, isHttpToken, type CompiledAcl } from "./compile.js";

/** More distinct values than this at one position fold into `{id}`. */
export const MAX_LITERALS = 100;
/** Trie nodes kept in all; past this every new segment value folds. */
export const MAX_NODES = 200_000;
/** A longer line is not an access line; it is skipped without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;

const DECIMAL = /^[0-9]+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LONG_HEX = /^(?=[^0-9]*[0-9])[0-9a-fA-F]{16,}$/;

/** Segments that vary like identifiers. `*` cannot be written in a pattern literal, so such a segment folds too. */
export function isIdentifierLike(segment: string): boolean {
  return DECIMAL.test(segment) || UUID.test(segment) || LONG_HEX.test(segment) || segment.includes("*");
}

interface Stats {
  allowed: number;
  wouldDeny: number;
  first: number;
  last: number;
  /** Calls that the `--acl` ACL would deny, and one of its reasons. */
  currentDenied: number;
  currentReason: string;
}

interface PathNode {
  literals: Map<string, PathNode>;
  param: PathNode | null;
  /** Set once this position showed too many values: every value goes to `param`. */
  folded: boolean;
  /** Caller key -> method -> stats, for calls that ended here. */
  calls: Map<string, Map<string, Stats>> | null;
  /** One observed path that ended here, for policy test cases. */
  example: string | null;
}

function node(): PathNode {
  return { literals: new Map(), param: null, folded: false, calls: null, example: null };
}

export interface SuggestOptions {
  /** Attributes that group callers, in order (default: OU). */
  readonly by?: readonly Attribute[];
  /** Calls of one caller, method and pattern seen fewer times than this are left out (default 1). */
  readonly minCount?: number;
  /** Allow `/**` where a position shows many values of differing depth (default: never). */
  readonly allowGlobs?: boolean;
  /** The ACL in service: report what to add and what was never used. */
  readonly current?: CompiledAcl;
}

export interface SuggestCounts {
  lines: number;
  used: number;
  allowed: number;
  wouldDeny: number;
  /** Not JSON, or longer than MAX_LINE_BYTES. */
  malformed: number;
  /** JSON, but not a guardpost access line (another tool's, or guardpost's other lines). */
  other: number;
  denied: number;
  errors: number;
  /** Access lines whose peer lacks a --by attribute, or whose value cannot be written as a principal. */
  ungrouped: number;
  /** With --acl: calls the current ACL could not decide (an SRC principal and no remote address). */
  undecided: number;
}

export interface Suggestion {
  /** The suggested ACL, YAML with comments; it compiles (checked before it is returned). */
  readonly acl: string;
  /** A policy test file for it (cases only; the caller names the ACL file). */
  tests(aclFile: string): string;
  readonly counts: Readonly<SuggestCounts>;
}

interface Caller {
  readonly key: string;
  readonly principal: string;
  /** The caller's attributes, as a policy test peer. */
  readonly peer: Readonly<Record<string, string>>;
}

const PLAIN = /^[A-Za-z0-9_.@/-]+$/;
const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function methodRank(method: string): string {
  const i = METHOD_ORDER.indexOf(method);
  return i === -1 ? `9${method}` : `${i}`;
}

export class Suggester {
  private readonly by: readonly Attribute[];
  private readonly minCount: number;
  private readonly allowGlobs: boolean;
  private readonly current: CompiledAcl | undefined;
  private readonly root = node();
  private nodes = 1;
  private readonly callers = new Map<string, Caller>();
  /** With --acl: entry -> principal text -> calls it granted. */
  private readonly used = new Map<string, Map<string, number>>();
  readonly counts: SuggestCounts = { lines: 0, used: 0, allowed: 0, wouldDeny: 0, malformed: 0, other: 0, denied: 0, errors: 0, ungrouped: 0, undecided: 0 };

  constructor(options: SuggestOptions = {}) {
    this.by = options.by && options.by.length > 0 ? options.by : ["OU"];
    this.minCount = options.minCount ?? 1;
    this.allowGlobs = options.allowGlobs ?? false;
    this.current = options.current;
  }

  /** One line of an access log (without its newline); `tooLong` when the reader cut it. */
  add(line: string, tooLong = false): void {
    this.counts.lines++;
    if (tooLong) {
      this.counts.malformed++;
      return;
    }
    if (line.trim() === "") {
      this.counts.lines--;
      return;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      this.counts.malformed++;
      return;
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      this.counts.malformed++;
      return;
    }
    const fields = record as Record<string, unknown>;
    const { msg, method, path, decision, peer } = fields;
    if (msg !== "request" || typeof method !== "string" || typeof path !== "string" || typeof decision !== "string" || !isHttpToken(method)) {
      this.counts.other++;
      return;
    }
    if (decision === "deny") {
      this.counts.denied++;
      return;
    }
    if (decision === "error") {
      this.counts.errors++;
      return;
    }
    if (decision !== "allow" && decision !== "would_deny") {
      this.counts.other++;
      return;
    }
    const target = normalizeTarget(path);
    if (!target.ok || target.query !== "") {
      this.counts.other++;
      return;
    }
    const attributes = peerAttributes(peer);
    const caller = this.caller(attributes);
    if (caller === null) {
      this.counts.ungrouped++;
      return;
    }
    this.counts.used++;
    if (decision === "allow") this.counts.allowed++;
    else this.counts.wouldDeny++;
    const time = typeof fields.time === "number" ? fields.time : typeof fields.time === "string" ? Date.parse(fields.time) : NaN;
    const stats = this.insert(target.path, caller.key, method);
    if (decision === "allow") stats.allowed++;
    else stats.wouldDeny++;
    if (Number.isFinite(time)) {
      if (!(stats.first <= time)) stats.first = time;
      if (!(stats.last >= time)) stats.last = time;
    }
    if (this.current) this.checkCurrent(this.current, method, target.path, attributes, fields.remote, stats);
  }

  private checkCurrent(acl: CompiledAcl, method: string, path: string, attributes: Map<Attribute, string[]>, remote: unknown, stats: Stats): void {
    const peer = canonicalPeer(Object.fromEntries(attributes));
    try {
      const decision = acl.evaluate(method, path, typeof remote === "string" ? peerWithSource(peer, remote) : peer);
      if (!decision.allow) {
        stats.currentDenied++;
        if (stats.currentReason === "") stats.currentReason = decision.entry === null ? decision.reason : `${decision.entry}: ${decision.reason}`;
        return;
      }
      const principal = decision.reason.startsWith("granted to ") ? decision.reason.slice("granted to ".length) : decision.reason;
      const byPrincipal = this.used.get(decision.entry!) ?? new Map<string, number>();
      byPrincipal.set(principal, (byPrincipal.get(principal) ?? 0) + 1);
      this.used.set(decision.entry!, byPrincipal);
    } catch (err) {
      if (!isGuardpostError(err)) throw err;
      this.counts.undecided++;
    }
  }

  /** The group a peer falls in, or null when it lacks a --by attribute or a value cannot be a principal. */
  private caller(attributes: Map<Attribute, string[]>): Caller | null {
    const pairs: [Attribute, string][] = [];
    for (const attribute of this.by) {
      const value = attributes.get(attribute)?.[0];
      // "*" would read as a glob and widen the grant.
      if (value === undefined || value === "" || value.includes("*")) return null;
      pairs.push([attribute, value]);
    }
    const key = JSON.stringify(pairs);
    let caller = this.callers.get(key);
    if (!caller) {
      const quote = (v: string) => (PLAIN.test(v) ? v : JSON.stringify(v));
      const principal = pairs.length === 1 ? (PLAIN.test(pairs[0]![1]) ? `${pairs[0]![0]}=${pairs[0]![1]}` : JSON.stringify(`${pairs[0]![0]}=${pairs[0]![1]}`)) : `{${pairs.map(([a, v]) => `${a}: ${quote(v)}`).join(", ")}}`;
      caller = { key, principal, peer: Object.fromEntries(pairs) };
      this.callers.set(key, caller);
    }
    return caller;
  }

  private insert(path: string, callerKey: string, method: string): Stats {
    let at = this.root;
    const body = path === "/" ? "" : path.endsWith("/") ? path.slice(1, -1) : path.slice(1);
    if (body !== "") {
      for (const segment of body.split("/")) {
        if (at.folded || isIdentifierLike(segment) || (this.nodes >= MAX_NODES && !at.literals.has(segment))) {
          if (at.param === null) {
            at.param = node();
            this.nodes++;
          }
          at = at.param;
          continue;
        }
        let child = at.literals.get(segment);
        if (!child) {
          if (at.literals.size >= MAX_LITERALS) {
            this.fold(at);
            at = at.param!;
            continue;
          }
          child = node();
          this.nodes++;
          at.literals.set(segment, child);
        }
        at = child;
      }
    }
    at.example ??= path;
    at.calls ??= new Map();
    let methods = at.calls.get(callerKey);
    if (!methods) {
      methods = new Map();
      at.calls.set(callerKey, methods);
    }
    let stats = methods.get(method);
    if (!stats) {
      stats = { allowed: 0, wouldDeny: 0, first: NaN, last: NaN, currentDenied: 0, currentReason: "" };
      methods.set(method, stats);
    }
    return stats;
  }

  /** Merges every literal child of `at` into its `{id}` child; from now on every value there goes to `{id}`. */
  private fold(at: PathNode): void {
    at.param ??= node();
    for (const child of at.literals.values()) this.merge(child, at.param);
    this.nodes -= at.literals.size;
    at.literals = new Map();
    at.folded = true;
  }

  private merge(from: PathNode, into: PathNode): void {
    mergeCalls(from, into);
    if (from.param) {
      if (into.param) {
        this.merge(from.param, into.param);
        this.nodes--;
      } else into.param = from.param;
    }
    for (const [segment, child] of from.literals) {
      if (into.folded) {
        into.param ??= node();
        this.merge(child, into.param);
        this.nodes--;
        continue;
      }
      const existing = into.literals.get(segment);
      if (existing) {
        this.merge(child, existing);
        this.nodes--;
      } else into.literals.set(segment, child);
    }
    if (into.literals.size > MAX_LITERALS) this.fold(into);
  }

  /** The suggestion for everything added so far. */
  finish(): Suggestion {
    interface Rule {
      pattern: string;
      example: string;
      methods: Map<string, { caller: Caller; stats: Stats }[]>;
    }
    const rules: Rule[] = [];
    let leftOut = 0;
    const walk = (at: PathNode, segments: string[], params: number, glob: boolean) => {
      if (at.calls) {
        const pattern = `/${segments.join("/")}${glob ? (segments.length === 0 ? "**" : "/**") : ""}`;
        const methods = new Map<string, { caller: Caller; stats: Stats }[]>();
        for (const [key, byMethod] of at.calls) {
          for (const [method, stats] of byMethod) {
            if (stats.allowed + stats.wouldDeny < this.minCount) {
              leftOut++;
              continue;
            }
            const list = methods.get(method) ?? [];
            list.push({ caller: this.callers.get(key)!, stats });
            methods.set(method, list);
          }
        }
        if (methods.size > 0) rules.push({ pattern, example: at.example ?? pattern, methods });
      }
      const literals = [...at.literals.keys()].sort();
      for (const segment of literals) walk(at.literals.get(segment)!, [...segments, segment], params, false);
      if (at.param) {
        if (this.allowGlobs && at.folded && depthsDiffer(at.param)) {
          // Many values of differing depth below one prefix: one /** for all of them, when asked for.
          walk(collapse(at.param), segments, params, true);
        } else {
          walk(at.param, [...segments, params === 0 ? "{id}" : `{id${params + 1}}`], params + 1, false);
        }
      }
    };
    walk(this.root, [], 0, false);

    const count = (n: number) => n.toLocaleString("en-US");
    const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : "unknown");
    const c = this.counts;
    const out: string[] = [
      `# Suggested by guardpost acl suggest: the calls seen in ${count(c.lines)} access-log lines, nothing more.`,
      `# Used ${count(c.used)} (${count(c.allowed)} allowed, ${count(c.wouldDeny)} would_deny); skipped ${count(c.denied)} denied, ${count(c.errors)} errors, ${count(c.malformed)} malformed, ${count(c.other)} not access lines, ${count(c.ungrouped)} without ${this.by.join(", ")}.`,
      `# Callers grouped by ${this.by.join(", ")}; identifier-like segments folded into {id}${this.allowGlobs ? "; /** where one position showed many values" : ""}.${this.minCount > 1 ? ` Left out ${count(leftOut)} calls seen fewer than ${this.minCount} times.` : ""}`,
    ];
    if (this.current) out.push(...this.currentReport(this.current, rules));
    out.push("version: 1", "paths:");
    if (rules.length === 0) out.splice(out.length - 1, 1, "paths: {}  # nothing observed");
    for (const rule of rules) {
      out.push(`  ${yamlKey(rule.pattern)}:`);
      for (const method of [...rule.methods.keys()].sort((a, b) => methodRank(a).localeCompare(methodRank(b)))) {
        out.push(`    ${yamlKey(method)}:`);
        const grants = rule.methods.get(method)!.sort((a, b) => a.caller.principal.localeCompare(b.caller.principal));
        const width = Math.max(...grants.map((g) => g.caller.principal.length));
        for (const { caller, stats } of grants) {
          const calls = stats.allowed + stats.wouldDeny;
          const audit = stats.wouldDeny > 0 ? ` (${count(stats.wouldDeny)} would_deny)` : "";
          const seen = Number.isFinite(stats.first) ? `, first ${iso(stats.first)}, last ${iso(stats.last)}` : "";
          out.push(`      - ${caller.principal.padEnd(width)}  # ${count(calls)} call${calls === 1 ? "" : "s"}${audit}${seen}`);
        }
      }
    }
    const acl = `${out.join("\n")}\n`;
    // The output must pass `acl check`; a failure here is a bug, not bad input.
    const compiled = compileAcl("suggested.yaml", acl);
    return {
      acl,
      counts: { ...c },
      tests: (aclFile) => policyTests(aclFile, compiled, rules, [...this.callers.values()]),
    };
  }

  /** With --acl: the observed calls the ACL in service would deny, and its entries and principals no call used. */
  private currentReport(current: CompiledAcl, rules: readonly { pattern: string; methods: Map<string, { caller: Caller; stats: Stats }[]> }[]): string[] {
    const add: string[] = [];
    for (const rule of rules) {
      for (const [method, grants] of rule.methods) {
        for (const { caller, stats } of grants) {
          if (stats.currentDenied > 0) add.push(`#   + ${caller.principal} ${method} ${rule.pattern}  (${stats.currentDenied} call${stats.currentDenied === 1 ? "" : "s"} denied now: ${stats.currentReason})`);
        }
      }
    }
    const unused: string[] = [];
    for (const rule of aclRules(current)) {
      for (const entry of [...rule.methods.values(), ...(rule.anyMethod ? [rule.anyMethod] : [])]) {
        const where = `${entry.position.file}:${entry.position.line}:${entry.position.col}`;
        const used = this.used.get(entry.entry);
        if (!used) {
          unused.push(`#   - ${entry.entry}  (${where}): no call used it`);
          continue;
        }
        for (const grant of entry.grants) {
          if (!used.has(grant.principal.text)) unused.push(`#   - ${grant.principal.text} in ${entry.entry}  (${where}): never granted a call`);
        }
      }
    }
    return [
      `# Compared with ${current.file}${this.counts.undecided > 0 ? ` (${this.counts.undecided} calls undecidable: an SRC principal and no remote address)` : ""}:`,
      `# To add (observed, ${current.file} denies them): ${add.length === 0 ? "nothing" : ""}`,
      ...add,
      `# Never used in these logs: ${unused.length === 0 ? "nothing" : ""}`,
      ...unused,
    ].map((line) => line.trimEnd());
  }
}

/** Whether the subtrees under a folded position end at different depths. */
function depthsDiffer(at: PathNode): boolean {
  const depths = new Set<number>();
  const visit = (n: PathNode, depth: number) => {
    if (n.calls) depths.add(depth);
    for (const child of n.literals.values()) visit(child, depth + 1);
    if (n.param) visit(n.param, depth + 1);
  };
  visit(at, 0);
  return depths.size > 1;
}

/** Adds the calls that ended at `from` to those that ended at `into`. */
function mergeCalls(from: PathNode, into: PathNode): void {
  into.example ??= from.example;
  if (!from.calls) return;
  into.calls ??= new Map();
  for (const [caller, methods] of from.calls) {
    const target = into.calls.get(caller) ?? new Map<string, Stats>();
    into.calls.set(caller, target);
    for (const [method, s] of methods) {
      const t = target.get(method);
      if (!t) {
        target.set(method, { ...s });
        continue;
      }
      t.allowed += s.allowed;
      t.wouldDeny += s.wouldDeny;
      t.currentDenied += s.currentDenied;
      if (t.currentReason === "") t.currentReason = s.currentReason;
      if (!(t.first <= s.first)) t.first = s.first;
      if (!(t.last >= s.last)) t.last = s.last;
    }
  }
}

/** One node holding every call of a subtree (for a `/**`). */
function collapse(at: PathNode): PathNode {
  const all = node();
  const visit = (n: PathNode) => {
    mergeCalls(n, all);
    for (const child of n.literals.values()) visit(child);
    if (n.param) visit(n.param);
  };
  visit(at);
  return all;
}

/** Certificate attributes from a log line's `peer` (lower-case names, a string or an array of strings each); unknown names are ignored. */
function peerAttributes(peer: unknown): Map<Attribute, string[]> {
  const out = new Map<Attribute, string[]>();
  if (peer === null || typeof peer !== "object" || Array.isArray(peer)) return out;
  for (const [name, value] of Object.entries(peer)) {
    const attribute = attributeNamed(name);
    if (!attribute) continue;
    const values = typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
    if (values.length > 0) out.set(attribute, [...(out.get(attribute) ?? []), ...values]);
  }
  return out;
}

function yamlKey(text: string): string {
  return /^[A-Za-z0-9/_.{}~%!$&'()*+,;=@-]+$/.test(text) && !/^[{*&!%@]/.test(text) ? text : JSON.stringify(text);
}

/** Allow cases for the observed calls; deny cases for near misses (another observed caller, another method), as the suggestion decides them. */
function policyTests(aclFile: string, acl: CompiledAcl, rules: readonly { pattern: string; example: string; methods: Map<string, { caller: Caller; stats: Stats }[]> }[], callers: readonly Caller[]): string {
  const lines = [`# Generated by guardpost acl suggest: allow cases for observed calls, deny cases for near misses.`, `acl: ${JSON.stringify(aclFile)}`, "cases:"];
  const seen = new Set<string>();
  const push = (name: string, caller: Caller, method: string, path: string, expect: "allow" | "deny") => {
    const key = `${caller.key} ${method} ${path}`;
    if (seen.has(key)) return;
    seen.add(key);
    const decision = acl.decide({ method, path, peer: caller.peer });
    // Only what the suggestion really decides goes in (a near miss another grant covers is not one).
    if (decision.allow !== (expect === "allow")) return;
    lines.push(`  - name: ${JSON.stringify(name)}`, `    peer: ${JSON.stringify(caller.peer)}`, `    request: ${JSON.stringify(`${method} ${path}`)}`, `    expect: ${expect}`);
  };
  for (const rule of rules) {
    const observed = [...rule.methods.keys()];
    for (const [method, grants] of rule.methods) {
      for (const { caller } of grants) push(`${caller.principal} ${method} ${rule.pattern} (observed)`, caller, method, rule.example, "allow");
      const granted = new Set(grants.map((g) => g.caller.key));
      const other = callers.find((c) => !granted.has(c.key));
      if (other) push(`${other.principal} ${method} ${rule.pattern} (near miss: another caller)`, other, method, rule.example, "deny");
      const otherMethod = ["DELETE", "POST", "PUT", "PATCH", "GET"].find((m) => !observed.includes(m) && !(m === "GET" && observed.includes("HEAD")));
      if (otherMethod) push(`${grants[0]!.caller.principal} ${otherMethod} ${rule.pattern} (near miss: another method)`, grants[0]!.caller, otherMethod, rule.example, "deny");
    }
  }
  if (lines.length === 3) lines[2] = "cases: []";
  return `${lines.join("\n")}\n`;
}

/** Attribute names for `--by`, validated. */
export function parseBy(text: string): Attribute[] | string {
  const out: Attribute[] = [];
  for (const name of text.split(",").map((n) => n.trim())) {
    const attribute = attributeNamed(name);
    if (!attribute) return `unknown attribute ${JSON.stringify(name)} in --by (expected one or more of ${ATTRIBUTES.join(", ")}, joined by commas)`;
    if (!out.includes(attribute)) out.push(attribute);
  }
  return out;
}
