/**
 * Reading YAML files with positions. Config, ACL and policy-test loaders walk
 * the parsed node tree through a `YamlSource`, so every error they raise can
 * say `file:line:col: message` about the exact node that is wrong.
 */
import { readFileSync } from "node:fs";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from "yaml";
import { GuardpostError, type ErrorCode, type SourcePosition } from "../errors.js";
import { readFailure } from "../text/read-failure.js";
import { closest } from "../text/suggest.js";

/** A key of a mapping with its value node; the key node carries the position. */
export interface YamlEntry {
  readonly key: string;
  readonly keyNode: Scalar;
  readonly value: Node | null;
}

export class YamlSource {
  readonly file: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  private readonly lines: LineCounter;
  /** Alias -> the node it names, built on the first alias resolved (see `resolve`). */
  private aliasTargets: Map<Alias, Node | undefined> | undefined;

  private constructor(file: string, text: string, doc: Document.Parsed, lines: LineCounter) {
    this.file = file;
    this.text = text;
    this.doc = doc;
    this.lines = lines;
  }

  /** Parses `text` as one YAML document; syntax errors and duplicate keys throw with their position. */
  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    // The library's own uniqueKeys check compares each key with every earlier
    // one (quadratic: 2.4 s for an ACL of 10k paths); firstDuplicateKey is linear.
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true });
    const source = new YamlSource(file, text, doc, lines);
    const syntax = doc.errors[0];
    const duplicate = firstDuplicateKey(doc);
    if (duplicate && (!syntax || duplicate.offset < syntax.pos[0])) {
      throw new GuardpostError("GP_ERR_YAML_DUPLICATE_KEY", `duplicate key ${JSON.stringify(duplicate.key)}`, source.positionAt(duplicate.offset));
    }
    if (syntax) {
      const star = unquotedStarKey(text, syntax.pos[0]);
      if (star !== undefined) throw new GuardpostError("GP_ERR_YAML_SYNTAX", `an unquoted * key starts a YAML alias; write "*" (with quotes)`, source.positionAt(star));
      if (syntax.code === "BAD_ALIAS" && isBareStar(text, syntax.pos[0])) {
        throw new GuardpostError("GP_ERR_YAML_SYNTAX", 'an unquoted * starts a YAML alias; to mean "any peer" (or any method, as a key), quote it as "*"', source.positionAt(syntax.pos[0]));
      }
      const hint = syntaxHint(text, syntax.code, syntax.pos[0]);
      throw new GuardpostError("GP_ERR_YAML_SYNTAX", `${conciseYamlMessage(syntax.message)}${hint ? `; ${hint}` : ""}`, source.positionAt(syntax.pos[0]));
    }
    return source;
  }

  /** Reads and parses a file; a file that cannot be read throws GP_ERR_FILE_READ naming it. */
  static read(file: string): YamlSource {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new GuardpostError("GP_ERR_FILE_READ", readFailure(err), { file }, { cause: err });
    }
    return YamlSource.parse(file, text);
  }

  /** The document's top-level node, or null for an empty file. */
  get root(): Node | null {
    return this.resolve(this.doc.contents as Node | null);
  }

  positionAt(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  /** The position of a node; the start of the file when there is no node (an empty document). */
  position(node: Node | null | undefined): SourcePosition {
    return this.positionAt(node?.range?.[0] ?? 0);
  }

  error(code: ErrorCode, node: Node | null | undefined, message: string): GuardpostError {
    return new GuardpostError(code, message, this.position(node));
  }

  /**
   * Runs a parser that knows nothing of files (a `--peer` spec, a request
   * line) on a node's value; a GuardpostError it throws without a position
   * is rethrown at the node, so users still get `file:line:col` (and the
   * name of another file the error was about, e.g. `a.yaml:3:5: web.pem: ...`).
   */
  at<T>(node: Node | null | undefined, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof GuardpostError && !err.position) throw new GuardpostError(err.code, err.format(), this.position(node), { cause: err });
      throw err;
    }
  }

  /** Follows an alias to the node it names, so `*anchor` reads like the anchored node. */
  resolve(node: Node | null | undefined): Node | null {
    if (node && isAlias(node)) return this.aliasTarget(node) ?? null;
    return node ?? null;
  }

  /**
   * The library's `Alias.resolve(doc)` walks the whole document on every
   * call, which made a file of N aliases cost N full walks (4000 aliases:
   * 45 s). One walk, in the same order and with the same rule (the last
   * anchor of that name before the alias), resolves every alias.
   */
  private aliasTarget(alias: Alias): Node | undefined {
    if (!this.aliasTargets) {
      const targets = new Map<Alias, Node | undefined>();
      const anchors = new Map<string, Node>();
      visit(this.doc, {
        Node: (_key, node) => {
          if (isAlias(node)) targets.set(node, anchors.get(node.source));
          else if (node.anchor) anchors.set(node.anchor, node);
        },
      });
      this.aliasTargets = targets;
    }
    return this.aliasTargets.get(alias);
  }

  map(node: Node | null, what: string): YAMLMap<Node, Node | null> {
    const resolved = this.resolve(node);
    if (!isMap(resolved)) throw this.typeError(resolved, what, "a mapping");
    return resolved as YAMLMap<Node, Node | null>;
  }

  seq(node: Node | null, what: string): YAMLSeq<Node | null> {
    const resolved = this.resolve(node);
    if (!isSeq(resolved)) throw this.typeError(resolved, what, "a list");
    return resolved as YAMLSeq<Node | null>;
  }

  /** The entries of a mapping in file order; keys outside `allowed` are refused with the list of what is accepted. */
  entries(node: Node | null, what: string, allowed?: readonly string[]): YamlEntry[] {
    const map = this.map(node, what);
    const out: YamlEntry[] = [];
    for (const pair of map.items as Pair<Node, Node | null>[]) {
      const keyNode = this.resolve(pair.key);
      if (!isScalar(keyNode) || (typeof keyNode.value !== "string" && typeof keyNode.value !== "number")) {
        throw this.error("GP_ERR_YAML_TYPE", keyNode ?? node, `keys of ${what} must be plain strings`);
      }
      const key = String(keyNode.value);
      if (allowed && !allowed.includes(key)) {
        const suggestion = closest(key, allowed);
        const guess = suggestion ? `did you mean ${JSON.stringify(suggestion)}? ` : "";
        throw this.error("GP_ERR_YAML_UNKNOWN_KEY", keyNode, `unknown key ${JSON.stringify(key)} in ${what} (${guess}expected one of ${allowed.join(", ")})`);
      }
      out.push({ key, keyNode, value: this.resolve(pair.value) });
    }
    return out;
  }

  /** Like `entries`, as a lookup table; `required` keys must be present. */
  fields(node: Node | null, what: string, allowed: readonly string[], required: readonly string[] = []): Map<string, YamlEntry> {
    const table = new Map<string, YamlEntry>();
    for (const entry of this.entries(node, what, allowed)) table.set(entry.key, entry);
    for (const key of required) {
      if (!table.has(key)) throw this.error("GP_ERR_YAML_MISSING_KEY", this.resolve(node), `${what} is missing the required key ${JSON.stringify(key)}`);
    }
    return table;
  }

  string(node: Node | null, what: string): string {
    const resolved = this.resolve(node);
    if (!isScalar(resolved) || typeof resolved.value !== "string") throw this.typeError(resolved, what, "a string");
    return resolved.value;
  }

  /**
   * A scalar as the text the user wrote: `CN: 123` is the string "123", not a
   * number, because certificate attribute values are always strings.
   */
  scalarText(node: Node | null, what: string): string {
    const resolved = this.resolve(node);
    if (!isScalar(resolved) || resolved.value === null || typeof resolved.value === "object") throw this.typeError(resolved, what, "a string");
    if (typeof resolved.value === "string") return resolved.value;
    const [start, end] = resolved.range ?? [0, 0];
    return this.text.slice(start, end).trim();
  }

  number(node: Node | null, what: string): number {
    const resolved = this.resolve(node);
    if (!isScalar(resolved) || typeof resolved.value !== "number") throw this.typeError(resolved, what, "a number");
    return resolved.value;
  }

  boolean(node: Node | null, what: string): boolean {
    const resolved = this.resolve(node);
    if (!isScalar(resolved) || typeof resolved.value !== "boolean") throw this.typeError(resolved, what, "true or false");
    return resolved.value;
  }

  isNull(node: Node | null): boolean {
    const resolved = this.resolve(node);
    return resolved === null || (isScalar(resolved) && resolved.value === null);
  }

  typeError(node: Node | null, what: string, expected: string): GuardpostError {
    // `GET:[OU=web]` is one string to YAML: a key needs a space after its colon.
    const missingSpace = expected !== "a string" && isScalar(node) && node.type === "PLAIN" && typeof node.value === "string" && KEY_WITHOUT_SPACE.exec(node.value);
    const hint = missingSpace ? `; if ${JSON.stringify(node.value)} was meant as a key and its value, put a space after the colon (${missingSpace[1]}: ${missingSpace[2]})` : "";
    return this.error("GP_ERR_YAML_TYPE", node, `${what} must be ${expected}, not ${describeNode(node)}${hint}`);
  }
}

/** A short phrase for what a node is, for "must be a list, not a string" messages. */
export function describeNode(node: Node | null): string {
  if (node === null) return "empty";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return "null";
    if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    if (typeof value === "number") return `the number ${value}`;
    if (typeof value === "boolean") return `the boolean ${value}`;
  }
  return "an unsupported value";
}

/**
 * The earliest key that repeats an earlier key of the same mapping. Scalar
 * keys are equal when their values are (`1` and `"1"` differ, as in the
 * library's own check); other keys are refused later by `entries`.
 */
function firstDuplicateKey(doc: Document.Parsed): { key: string; offset: number } | undefined {
  let first: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key as Node | null;
        if (!isScalar(key)) continue;
        const id = `${typeof key.value}:${String(key.value)}`;
        const offset = key.range?.[0] ?? 0;
        if (seen.has(id) && (!first || offset < first.offset)) first = { key: String(key.value), offset };
        seen.add(id);
      }
    },
  });
  return first;
}

/**
 * An unquoted `*` key (`*: [OU=ops]`) is a YAML alias, and the parser's
 * complaint about it says nothing of that; ACLs write "any method" as a `"*"`
 * key. Returns the offset of the `*` when the error's line starts with one.
 */
function unquotedStarKey(text: string, offset: number): number | undefined {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const match = /^(\s*(?:- )?)\*\s*:/.exec(text.slice(lineStart, offset + 1));
  return match ? lineStart + match[1]!.length : undefined;
}

/** `key:value` written without the space YAML needs after a key's colon (not a URL's `scheme://`). */
const KEY_WITHOUT_SPACE = /^([A-Za-z_][\w.-]*|\/[^\s:]*|"\*"):(?!\/\/)(\S.*)$/;

/** A `*` standing alone (`[*]`, `GET: *`), which YAML reads as an alias with no name: "any peer" to the writer. */
function isBareStar(text: string, offset: number): boolean {
  return text[offset] === "*" && !/[^\s,[\]{}]/.test(text[offset + 1] ?? " ");
}

/**
 * A hint for parser errors whose usual cause the library's message does not
 * name: a tab in the indentation, or a key without a space after its colon.
 */
function syntaxHint(text: string, code: string, offset: number): string | undefined {
  if (code === "TAB_AS_INDENT") return "YAML indents with spaces only; replace the tab with spaces";
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const lineEnd = text.indexOf("\n", offset);
  const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  const missingSpace = KEY_WITHOUT_SPACE.exec(line.trim().replace(/^- /, ""));
  if (missingSpace) return `a key needs a space after its colon (${missingSpace[1]}: ${missingSpace[2]})`;
  return undefined;
}

/** The yaml library appends "at line N, column M" and a source excerpt; we give the position ourselves. */
function conciseYamlMessage(message: string): string {
  const firstLine = message.split("\n", 1)[0] ?? message;
  // The parser is recursive and reports its own stack overflow as a syntax error at the node it was reading.
  if (firstLine.startsWith("Maximum call stack size exceeded")) return "collections are nested too deeply";
  return firstLine.replace(/ at line \d+, column \d+:?$/, "").trim();
}
