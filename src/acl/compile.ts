/**
 * ACL file (the README's ACL reference) -> immutable CompiledAcl. Everything is checked
 * and built here, once: patterns parsed and normalized, duplicates refused,
 * principals compiled to predicates, HEAD's fallback to GET resolved, and
 * every Decision the ACL can give created. Loading is synchronous and has no
 * side effects, so the proxy can load a changed file, and swap it in only if
 * this returned.
 */
import { isScalar, type Node } from "yaml";
import type { SourcePosition } from "../errors.js";
import type { PeerAttributes } from "../identity/attributes.js";
import { describeNode, YamlSource } from "../yaml/source.js";
import { buildDecisionTable, decide, evaluate, type Decision, type DecisionRequest } from "./decide.js";
import { parsePathPattern } from "./path-pattern.js";
import { PrincipalCompiler } from "./principal.js";
import type { AclRule, RuleEntry } from "./rules.js";

export type AclMode = "enforce" | "audit";

/** One method entry of one path, where it is written, and whom it grants. */
export interface AclEntry {
  /** `METHOD pattern`, as `Decision.entry` names it: `GET /user/{id}`, `* /admin/**`. */
  readonly entry: string;
  /** The method key: a method token or "*". */
  readonly method: string;
  /** The path pattern as written. */
  readonly path: string;
  /** The principals as decisions show them, groups expanded (`OU=web via @frontends`). */
  readonly principals: readonly string[];
  /** Where the method key is. */
  readonly position: SourcePosition;
}

export interface CompiledAcl {
  readonly file: string;
  /** `enforce` (default) or `audit`: in audit mode the proxy reports denials but lets the requests through. */
  readonly mode: AclMode;
  /** Every entry in file order. */
  readonly entries: readonly AclEntry[];
  /** For libraries and tools: normalizes the request-target (the query plays no part) and accepts a loosely written peer. */
  decide(request: DecisionRequest): Decision;
  /** For the proxy: `normalizedPath` from `normalizeTarget`, `peer` from `peerAttributesFromCertificate`. Allocates nothing. */
  evaluate(method: string, normalizedPath: string, peer: PeerAttributes): Decision;
}

const TOP_LEVEL_KEYS = ["version", "mode", "groups", "paths"] as const;
const MODES: readonly AclMode[] = ["enforce", "audit"];

/** RFC 9110 section 5.6.2: token = 1*tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 section 9 and RFC 5789: methods people write in another case by mistake. */
const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export function isHttpToken(text: string): boolean {
  return TOKEN.test(text);
}

/** Reads, validates and compiles an ACL file; throws GuardpostError with `file:line:col`. */
export function loadAcl(file: string): CompiledAcl {
  return compileSource(YamlSource.read(file));
}

/** Like `loadAcl` for text already read; `file` is the name errors use. */
export function compileAcl(file: string, text: string): CompiledAcl {
  return compileSource(YamlSource.parse(file, text));
}

function compileSource(src: YamlSource): CompiledAcl {
  const fields = src.fields(src.root, "the ACL", TOP_LEVEL_KEYS, ["version", "paths"]);

  const version = fields.get("version")!.value;
  if (!isScalar(version) || version.value !== 1) {
    const where = version ?? fields.get("version")!.keyNode;
    if (isScalar(version) && typeof version.value === "number") throw src.error("GP_ERR_ACL_VERSION", where, `unsupported version ${version.value} (expected 1)`);
    throw src.error("GP_ERR_ACL_VERSION", where, `"version" must be the number 1, not ${describeNode(version)}`);
  }

  let mode: AclMode = "enforce";
  const modeField = fields.get("mode");
  if (modeField) {
    const text = src.string(modeField.value, '"mode"');
    if (!MODES.includes(text as AclMode)) throw src.error("GP_ERR_ACL_BAD_MODE", modeField.value, `unknown mode ${JSON.stringify(text)} (expected enforce or audit)`);
    mode = text as AclMode;
  }

  const principals = new PrincipalCompiler(src, fields.get("groups")?.value ?? null, { allowSource: true });

  const entries: AclEntry[] = [];
  const seen = new Map<string, { text: string; line: number }>();
  const rules: AclRule[] = [];
  const intern = interner();

  for (const { key, keyNode, value } of src.entries(fields.get("paths")!.value, '"paths"')) {
    const pattern = src.at(keyNode, () => parsePathPattern(key));
    const earlier = seen.get(pattern.key);
    if (earlier) {
      const same = earlier.text === pattern.text ? "" : ` as ${JSON.stringify(earlier.text)}`;
      throw src.error("GP_ERR_ACL_DUPLICATE_PATH", keyNode, `path ${JSON.stringify(key)} matches the same paths${same} on line ${earlier.line}`);
    }
    seen.set(pattern.key, { text: pattern.text, line: src.position(keyNode).line });

    const methods = new Map<string, RuleEntry>();
    let anyMethod: RuleEntry | null = null;
    for (const method of src.entries(value, `path ${JSON.stringify(key)}`)) {
      checkMethod(src, method.key, method.keyNode);
      const entry = `${method.key} ${key}`;
      const granted = principals.list(method.value, `the principals of ${entry}`);
      const position = src.position(method.keyNode);
      const spec: RuleEntry = Object.freeze({
        entry,
        method: method.key,
        position,
        grants: Object.freeze(granted.map((principal) => Object.freeze({ principal, allow: Object.freeze({ allow: true, entry, reason: intern(`granted to ${principal.text}`) }) }))),
        deny: Object.freeze({ allow: false, entry, reason: granted.length === 0 ? `${entry} grants no one (its list is empty)` : `no principal of ${entry} matches the peer` }),
      });
      if (method.key === "*") anyMethod = spec;
      else methods.set(method.key, spec);
      entries.push(Object.freeze({ entry, method: method.key, path: key, principals: Object.freeze(granted.map((p) => p.text)), position }));
    }
    // Only decides when there is no "*" entry, so the methods listed are all the path has.
    const has = methods.size === 0 ? "it has no entries" : `it has ${[...methods.keys()].join(", ")}`;
    const noMethod = Object.freeze({ allow: false, entry: null, reason: `path ${key} has no entry for this method (${has})` });
    rules.push(Object.freeze({ pattern, position: src.position(keyNode), methods, anyMethod, noMethod }));
  }

  const table = buildDecisionTable(rules);
  const acl: CompiledAcl = Object.freeze({
    file: src.file,
    mode,
    entries: Object.freeze(entries),
    decide: (request: DecisionRequest) => decide(table, request),
    evaluate: (method: string, normalizedPath: string, peer: PeerAttributes) => evaluate(table, method, normalizedPath, peer),
  });
  RULES.set(acl, Object.freeze(rules));
  return acl;
}

/** The rules each compiled ACL was built from, for tools (`acl diff`, the reference evaluator) that reason about the whole ACL. */
const RULES = new WeakMap<CompiledAcl, readonly AclRule[]>();

/** The plain-object rules of an ACL this module compiled, in file order. */
export function aclRules(acl: CompiledAcl): readonly AclRule[] {
  const rules = RULES.get(acl);
  if (rules === undefined) throw new TypeError("not an ACL compiled by loadAcl or compileAcl");
  return rules;
}

function checkMethod(src: YamlSource, method: string, node: Node): void {
  if (method === "*") return;
  if (!isHttpToken(method)) {
    throw src.error("GP_ERR_ACL_BAD_METHOD", node, `bad method ${JSON.stringify(method)} (expected an HTTP method token such as GET, or "*" for any method)`);
  }
  const upper = method.toUpperCase();
  if (upper !== method && STANDARD_METHODS.has(upper)) {
    throw src.error("GP_ERR_ACL_BAD_METHOD", node, `bad method ${JSON.stringify(method)}: methods are case-sensitive (write ${upper})`);
  }
}

/** One copy of each repeated string (reasons such as "granted to OU=web" recur across thousands of entries). */
function interner(): (text: string) => string {
  const strings = new Map<string, string>();
  return (text) => {
    const known = strings.get(text);
    if (known !== undefined) return known;
    strings.set(text, text);
    return text;
  };
}
