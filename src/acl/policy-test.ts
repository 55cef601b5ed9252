/**
 * Policy test files (the README's "Policy tests in CI"): cases that say which peer may make
 * which request, run against an ACL in CI so a policy change is reviewed and
 * tested like code. Used by `guardpost acl test` and usable as a library.
 *
 *   acl: payments-api.yaml              # relative to this file
 *   cases:
 *     - name: web reads users           # optional; default "GET /user as OU=web,CN=web-01"
 *       peer: {OU: web, CN: web-01}     # or peer: OU=web, or peerCert: certs/web.pem
 *       source: 10.1.2.3                # the client's address; required when an SRC principal decides
 *       request: GET /user
 *       expect: allow                   # allow or deny
 *       entry: GET /user                # optional: the entry that must decide (null: none)
 */
import { dirname, isAbsolute, join } from "node:path";
import { isScalar, isSeq, type Node } from "yaml";
import { GuardpostError, isGuardpostError, type SourcePosition } from "../errors.js";
import { attributeNamed, formatPeer, freezePeer, unknownAttributeMessage, type Attribute, type CertificateAttributes } from "../identity/attributes.js";
import { parsePeerSpec, readPeerCertificate } from "../identity/peer.js";
import { YamlSource } from "../yaml/source.js";
import { isHttpToken, loadAcl, type AclEntry, type CompiledAcl } from "./compile.js";
import { parseSource, type Decision } from "./decide.js";

export interface PolicyCase {
  readonly name: string;
  /** Where the case starts in its file. */
  readonly position: SourcePosition;
  readonly peer: CertificateAttributes;
  /** The client's source address as written, for `SRC=` principals; undefined when the case gives none. */
  readonly source?: string;
  readonly method: string;
  /** The request-target as written; normalized when the case runs, as the proxy would. */
  readonly target: string;
  readonly expect: "allow" | "deny";
  /** The entry that must decide (`null`: no entry); undefined when the case does not say. */
  readonly entry?: string | null;
}

export interface PolicyTest {
  readonly file: string;
  readonly acl: CompiledAcl;
  readonly cases: readonly PolicyCase[];
}

export interface CaseResult {
  readonly case: PolicyCase;
  readonly decision: Decision;
  readonly passed: boolean;
}

export interface PolicyTestResult {
  readonly test: PolicyTest;
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
}

const CASE_KEYS = ["name", "peer", "peerCert", "source", "request", "expect", "entry"] as const;

/** `METHOD /path` -> its parts; throws GP_ERR_POLICY_BAD_REQUEST (no position). */
export function parseRequestLine(line: string): { method: string; target: string } {
  const match = /^(\S+) +(\S+)$/.exec(line.trim());
  if (!match || !isHttpToken(match[1]!) || !match[2]!.startsWith("/")) {
    throw new GuardpostError("GP_ERR_POLICY_BAD_REQUEST", `bad request ${JSON.stringify(line)} (expected "METHOD /path", e.g. "GET /user/42")`);
  }
  return { method: match[1]!, target: match[2]! };
}

/** Reads a policy test file and the ACL it names; throws GuardpostError with `file:line:col`. */
export function loadPolicyTest(file: string): PolicyTest {
  const src = YamlSource.read(file);
  const fields = src.fields(src.root, "the policy test file", ["acl", "cases"], ["acl", "cases"]);
  const aclField = fields.get("acl")!;
  const acl = src.at(aclField.value, () => loadAcl(relativeTo(file, src.string(aclField.value, '"acl"'))));
  const cases = src.seq(fields.get("cases")!.value, '"cases"').items.map((item) => readCase(src, item, acl));
  return Object.freeze({ file, acl, cases: Object.freeze(cases) });
}

function relativeTo(file: string, path: string): string {
  return isAbsolute(path) ? path : join(dirname(file), path);
}

function readCase(src: YamlSource, node: Node | null, acl: CompiledAcl): PolicyCase {
  const fields = src.fields(node, "a case", CASE_KEYS, ["request", "expect"]);
  const peerField = fields.get("peer");
  const certField = fields.get("peerCert");
  if ((peerField === undefined) === (certField === undefined)) {
    throw src.error("GP_ERR_POLICY_BAD_CASE", src.resolve(node), `a case needs exactly one of "peer" and "peerCert"`);
  }

  let peer: CertificateAttributes;
  let peerText: string;
  if (certField) {
    const path = src.string(certField.value, '"peerCert"');
    peer = src.at(certField.value, () => readPeerCertificate(relativeTo(src.file, path)));
    peerText = `peerCert ${path}`;
  } else {
    peer = readPeer(src, peerField!.value);
    peerText = formatPeer(peer);
  }

  const requestField = fields.get("request")!;
  const requestText = src.string(requestField.value, '"request"');
  const { method, target } = src.at(requestField.value, () => parseRequestLine(requestText));

  const expectField = fields.get("expect")!;
  const expect = src.scalarText(expectField.value, '"expect"');
  if (expect !== "allow" && expect !== "deny") {
    throw src.error("GP_ERR_POLICY_BAD_CASE", expectField.value, `"expect" must be allow or deny, not ${JSON.stringify(expect)}`);
  }

  const sourceField = fields.get("source");
  let source: string | undefined;
  if (sourceField) {
    source = src.scalarText(sourceField.value, '"source"');
    src.at(sourceField.value, () => parseSource(source!));
  }

  const nameField = fields.get("name");
  const from = source === undefined ? "" : ` from ${source}`;
  const name = nameField ? src.scalarText(nameField.value, '"name"') : `${method} ${target} as ${peerText}${from}`;
  const position = src.position(src.resolve(node));
  const entryField = fields.get("entry");
  const base: PolicyCase = { name, position, peer, ...(source === undefined ? {} : { source }), method, target, expect };
  if (!entryField) return Object.freeze(base);
  return Object.freeze({ ...base, entry: readEntry(src, entryField.value, acl) });
}

/** `peer:` as a map (`{OU: [web, ops], CN: web-01}`) or a `--peer` string (`OU=web,CN=web-01`). */
function readPeer(src: YamlSource, node: Node | null): CertificateAttributes {
  const resolved = src.resolve(node);
  if (isScalar(resolved) && typeof resolved.value === "string") {
    const text = resolved.value;
    return src.at(resolved, () => parsePeerSpec(text));
  }
  const values = new Map<Attribute, string[]>();
  for (const { key, keyNode, value } of src.entries(resolved, '"peer"')) {
    const attribute = attributeNamed(key);
    if (!attribute) throw src.error("GP_ERR_PEER_SPEC", keyNode, unknownAttributeMessage(key));
    const list = values.get(attribute) ?? [];
    if (isSeq(value)) for (const v of value.items) list.push(src.scalarText(v as Node | null, `a value of ${attribute}`));
    else list.push(src.scalarText(value, `the value of ${attribute}`));
    values.set(attribute, list);
  }
  return freezePeer(values);
}

function readEntry(src: YamlSource, node: Node | null, acl: CompiledAcl): string | null {
  if (src.isNull(node)) return null;
  const entry = src.string(node, '"entry"');
  if (!acl.entries.some((e) => e.entry === entry)) {
    const known = acl.entries.length <= 12 ? `it has ${acl.entries.map((e) => e.entry).join(", ")}` : `it has ${acl.entries.length} entries`;
    throw src.error("GP_ERR_POLICY_BAD_CASE", node, `no entry ${JSON.stringify(entry)} in ${acl.file} (${known})`);
  }
  return entry;
}

export function runPolicyTest(test: PolicyTest): PolicyTestResult {
  const results = test.cases.map((c): CaseResult => {
    let decision: Decision;
    try {
      decision = test.acl.decide({ method: c.method, path: c.target, peer: c.peer, source: c.source });
    } catch (err) {
      if (!isGuardpostError(err) || err.code !== "GP_ERR_ACL_SOURCE_REQUIRED") throw err;
      throw new GuardpostError(err.code, `case ${JSON.stringify(c.name)}: ${err.message}; add "source: ADDRESS" to the case`, c.position, { cause: err });
    }
    const passed = decision.allow === (c.expect === "allow") && (c.entry === undefined || c.entry === decision.entry);
    return Object.freeze({ case: c, decision, passed });
  });
  const passed = results.filter((r) => r.passed).length;
  return Object.freeze({ test, results: Object.freeze(results), passed, failed: results.length - passed });
}

/** The line `acl test` prints for a failed case: where, its name, what was expected, what decided. */
export function describeFailure(result: CaseResult): string {
  const { case: c, decision } = result;
  const { file, line, col } = c.position;
  const wanted = c.entry === undefined ? c.expect : `${c.expect} by ${c.entry ?? "no entry"}`;
  const got = decision.allow ? "allow" : "deny";
  return `${file}:${line}:${col}: FAIL ${c.name}: expected ${wanted}, got ${got} (entry: ${decision.entry ?? "none"}; ${decision.reason})`;
}

/** The entries of `acl` that decided none of `results` (cases run against that ACL). */
export function uncoveredEntries(acl: CompiledAcl, results: Iterable<CaseResult>): AclEntry[] {
  const decided = new Set<string>();
  for (const r of results) if (r.decision.entry !== null) decided.add(r.decision.entry);
  return acl.entries.filter((e) => !decided.has(e.entry));
}
