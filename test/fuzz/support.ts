/**
 * Shared pieces of the fuzz tests: mutations of valid YAML files, and the one
 * outcome a loader may have for any input (a value, or a GuardpostError from
 * the registry that says `file:line:col: `). Run counts and seeds come from
 * test/helpers/property.ts (FUZZ_SEED, FUZZ_SCALE).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { expect } from "vitest";
import { ERROR_CODES, GuardpostError } from "../../src/errors.js";

/** The YAML files of a folder (not recursive), name -> text. */
export function yamlFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith(".yaml") || name.endsWith(".yml")) out.set(join(dir, name), readFileSync(join(dir, name), "utf8"));
  }
  return out;
}

/** Tokens that mean something to a YAML parser or to guardpost's formats. */
export const YAML_TOKENS: readonly string[] = [
  "&a ", "*a", "&b ", "*b", "<<: *a", "!!binary ", "!!binary aGVsbG8=", "!!str ", "!!int ", "!!float ", "!!map ", "!!seq ", "!!set ", "!!omap ",
  "!!timestamp ", "!!null ", "!!bool ", "!local ", "!<tag:yaml.org,2002:str> ", "!!python/object:os.system ", "? ", "- ", ": ", ":", ",", "{", "}", "[", "]",
  '"', "'", "|", "|-", ">", ">+", "#", " #", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "--- |\n", "~", "null", "true", "no", "yes", "on",
  "1e999", "-1e999", "99999999999999999999999999999", "-0", ".nan", ".inf", "-.inf", "0x1F", "0o17", "0b101", "1_000", "0123", "1.", "12:30:00",
  "2001-12-14t21:59:43.10-05:00", "\t", "\u0000", "\uFEFF", "\u2028", "\u0085", "\r", "\r\n", "\\", "\\u0000", "😀", "é", "\u202E", "\uD800",
  "@", '"@frontends"', "@nope", '"*"', "*", "**", "/**", "{id}", "{", "/%2e%2e", "/%2F", "OU=", "OU=*", "CN=web-*", "OUU=x", "GET", "get",
  "version", "paths", "groups", "mode: audit", "mode: nope", "tls", "inbound", "outbound", "listen", "upstream", "acl", "routes", "limits", "0", "65536",
  "http://", "unix:", "https://h", "10s", "1h", "16KiB", "1e3ms", "NaN", "auto", "expect: [OU=db]",
];

const INTERESTING_CHARS = fc.oneof(
  fc.constantFrom(..."{}[]:,-?&*!|>'\"%@`#\\ \t\n\r=/.~0123456789aZ"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

/** A huge or odd number, as YAML text. */
const hugeNumber = fc.oneof(
  fc.bigInt({ min: -(10n ** 400n), max: 10n ** 400n }).map((n) => n.toString()),
  fc.double().map((d) => String(d)),
  fc.constantFrom("1e308", "1e309", "4.9e-324", "9007199254740993", "0x" + "f".repeat(80), "1" + "0".repeat(5000)),
);

/** Deep nesting, flow or block. */
const deepNesting = fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom("flow-seq", "flow-map", "block-map", "block-seq", "unclosed")).map(([depth, kind]) => {
  switch (kind) {
    case "flow-seq":
      return "[".repeat(depth) + "]".repeat(depth);
    case "flow-map":
      return "{a: ".repeat(depth) + "b" + "}".repeat(depth);
    case "block-map":
      return "\n" + Array.from({ length: Math.min(depth, 200) }, (_, i) => `${" ".repeat(i + 1)}k${i}:`).join("\n");
    case "block-seq":
      return "\n" + Array.from({ length: Math.min(depth, 200) }, (_, i) => `${" ".repeat(i + 1)}-`).join("\n");
    default:
      return "[{".repeat(depth);
  }
});

/** An anchor on one value and aliases to it elsewhere, sometimes many of them. */
const aliasBurst = fc.tuple(fc.constantFrom("a", "b", "x"), fc.integer({ min: 1, max: 200 })).map(([name, n]) => `[${Array.from({ length: n }, () => `*${name}`).join(", ")}]`);

const insertion = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...YAML_TOKENS) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
  { weight: 2, arbitrary: hugeNumber },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: aliasBurst },
);

/** One edit of a text, applied by line or by character offset (fractions of the length, so they fit any text). */
export type Mutation =
  | { op: "delete-line" | "duplicate-line"; at: number }
  | { op: "swap-lines"; at: number; other: number }
  | { op: "indent"; at: number; by: number; tab: boolean }
  | { op: "flip"; at: number; char: string }
  | { op: "insert"; at: number; text: string }
  | { op: "insert-line"; at: number; text: string }
  | { op: "anchor"; at: number; other: number; name: string }
  | { op: "truncate"; at: number }
  | { op: "repeat"; times: number };

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom("delete-line" as const, "duplicate-line" as const), at: fraction }),
  fc.record({ op: fc.constant("swap-lines" as const), at: fraction, other: fraction }),
  fc.record({ op: fc.constant("indent" as const), at: fraction, by: fc.integer({ min: -4, max: 6 }), tab: fc.boolean() }),
  fc.record({ op: fc.constant("flip" as const), at: fraction, char: INTERESTING_CHARS }),
  fc.record({ op: fc.constant("insert" as const), at: fraction, text: insertion }),
  fc.record({ op: fc.constant("insert-line" as const), at: fraction, text: insertion }),
  fc.record({ op: fc.constant("anchor" as const), at: fraction, other: fraction, name: fc.constantFrom("a", "b", "x") }),
  fc.record({ op: fc.constant("truncate" as const), at: fraction }),
  fc.record({ op: fc.constant("repeat" as const), times: fc.integer({ min: 2, max: 3 }) }),
);

/** Applies one mutation; pure, so a failing case shrinks and replays exactly. */
export function mutate(text: string, m: Mutation): string {
  const lines = text.split("\n");
  const line = (f: number) => Math.min(lines.length - 1, Math.floor(f * lines.length));
  const offset = (f: number) => Math.floor(f * (text.length + 1));
  switch (m.op) {
    case "delete-line":
      lines.splice(line(m.at), 1);
      return lines.join("\n");
    case "duplicate-line": {
      const i = line(m.at);
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case "swap-lines": {
      const [i, j] = [line(m.at), line(m.other)];
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join("\n");
    }
    case "indent": {
      const i = line(m.at);
      const current = lines[i]!;
      lines[i] = m.by >= 0 ? (m.tab ? "\t" : " ").repeat(m.by) + current : current.replace(new RegExp(`^ {0,${-m.by}}`), "");
      return lines.join("\n");
    }
    case "flip": {
      const at = Math.min(text.length - 1, offset(m.at));
      return at < 0 ? m.char : text.slice(0, at) + m.char + text.slice(at + 1);
    }
    case "insert": {
      const at = offset(m.at);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "insert-line": {
      lines.splice(line(m.at), 0, m.text);
      return lines.join("\n");
    }
    case "anchor": {
      // An anchor at the end of one line's key and an alias replacing another line's value.
      const [i, j] = [line(m.at), line(m.other)];
      lines[i] = lines[i]!.replace(/:(\s|$)/, `: &${m.name}$1`);
      lines[j] = lines[j]!.replace(/:\s.*$/, `: *${m.name}`);
      return lines.join("\n");
    }
    case "truncate":
      return text.slice(0, offset(m.at));
    case "repeat":
      return Array.from({ length: m.times }, () => text).join("\n");
  }
}

/** A valid file from `corpus`, then 1..`max` mutations. */
export function mutatedText(corpus: readonly string[], max = 5): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...corpus), fc.array(mutation, { minLength: 1, maxLength: max })).map(([text, ms]) => ms.reduce(mutate, text));
}

/**
 * Random YAML built from structure rather than characters: a value of the
 * format's rough shape (or of any shape), printed by a small emitter that
 * sometimes adds anchors, aliases and tags.
 */
export function structuredYaml(keys: readonly string[], leaves: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
  const leaf = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...leaves) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }).map((s) => JSON.stringify(s)) },
    { weight: 1, arbitrary: hugeNumber },
    { weight: 1, arbitrary: fc.constantFrom("*a", "!!binary aGk=", "!!str 1", "~", "[]", "{}", "&a x", "!!int 1e3", "!!float x", "!!set {a}", "? [a]") },
  );
  const { tree } = fc.letrec<{ tree: string }>((tie) => ({
    tree: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("tree"), { maxLength: 4 }).map((items) => `[${items.join(", ")}]`),
      fc.array(fc.tuple(key, tie("tree")), { maxLength: 5 }).map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`),
      fc.tuple(fc.constantFrom("&a ", "&b ", "!!map ", "!!seq ", ""), tie("tree")).map(([prefix, v]) => prefix + v),
    ),
  }));
  // Top level as a block mapping, so indentation-sensitive parsing is exercised too.
  return fc.array(fc.tuple(key, tree), { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}: ${v}`).join("\n") + "\n");
}

/** Longest a single load may take: these inputs are small, so anything slower is a hang in the making. */
export const LOAD_BUDGET_MS = 3000;

/**
 * Runs `load` on `text`: it must return, or throw a GuardpostError with a
 * registered code whose formatted form starts `file:line:col: ` with a line
 * and column inside the text. Returns the value or the error.
 */
export function expectTypedOutcome<T>(file: string, text: string, load: () => T): { ok: true; value: T } | { ok: false; error: GuardpostError } {
  const started = performance.now();
  let outcome: { ok: true; value: T } | { ok: false; error: GuardpostError };
  try {
    outcome = { ok: true, value: load() };
  } catch (err) {
    if (!(err instanceof GuardpostError)) {
      // Show the input in the failure, not just the error.
      throw new Error(`loader threw ${(err as Error)?.name ?? typeof err} instead of a GuardpostError: ${String((err as Error)?.message ?? err)}\ninput: ${JSON.stringify(text.slice(0, 2000))}`, { cause: err });
    }
    outcome = { ok: false, error: err };
  }
  const elapsed = performance.now() - started;
  expect(elapsed, `load took ${elapsed.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 300))}`).toBeLessThan(LOAD_BUDGET_MS);
  if (!outcome.ok) {
    const { error } = outcome;
    expect(Object.hasOwn(ERROR_CODES, error.code), `unregistered code ${error.code}`).toBe(true);
    expect(error.position, `no position: ${error.format()}`).toBeDefined();
    const { line, col } = error.position!;
    const prefix = `${file}:${line}:${col}: `;
    expect(error.format().startsWith(prefix), error.format()).toBe(true);
    expect(error.message.length, error.format()).toBeGreaterThan(0);
    // Positions point into the text (a line past the last newline is the end of the file).
    const lines = text.split(/\r\n|\r|\n/);
    expect(Number.isInteger(line) && line >= 1 && line <= lines.length + 1, `line ${line} of ${lines.length}: ${error.format()}`).toBe(true);
    expect(Number.isInteger(col) && col >= 1, `col ${col}: ${error.format()}`).toBe(true);
    // Nothing of a JavaScript failure leaks into what users read.
    expect(error.message, error.format()).not.toMatch(/TypeError|RangeError|ReferenceError|Maximum call stack|undefined is not|Cannot read prop/);
  }
  return outcome;
}
