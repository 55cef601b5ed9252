/**
 * The segment trie that holds an ACL's patterns (paths with `{name}` or
 * `/**`). Lookup walks the request path by index, without splitting it or
 * slicing segments out of it: a literal child is found by hashing the
 * segment's characters in place and comparing with `startsWith(key, at)`.
 * The cost depends on the depth of the path, not on the number of patterns.
 *
 * Precedence (SPEC section 3): at every segment, from the left, a literal
 * child is tried before `{name}`, which is tried before `/**`; a subtree that
 * matches nothing falls back to the next choice. The first pattern found is
 * therefore the most specific one.
 */
import type { PatternSegment } from "./path-pattern.js";

const SLASH = 0x2f;

interface LiteralTable<T> {
  /** Table size - 1 (a power of two minus one); -1 when empty. */
  readonly mask: number;
  readonly keys: readonly (string | undefined)[];
  readonly hashes: Int32Array;
  readonly nodes: readonly (TrieNode<T> | undefined)[];
}

export interface TrieNode<T> {
  readonly literals: LiteralTable<T>;
  readonly param: TrieNode<T> | null;
  /** The value of `<path to here>/**`. */
  readonly rest: T | null;
  /** The value of the pattern that ends exactly here. */
  readonly terminal: T | null;
}

/** FNV-1a over UTF-16 code units of `text[start, end)`; the same function at build and at lookup. */
function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

interface Builder<T> {
  literals: Map<string, Builder<T>>;
  param: Builder<T> | null;
  rest: T | null;
  terminal: T | null;
}

function builder<T>(): Builder<T> {
  return { literals: new Map(), param: null, rest: null, terminal: null };
}

/** Builds the trie; patterns must be distinct (the compiler refuses duplicates first). */
export function buildTrie<T>(patterns: Iterable<{ readonly segments: readonly PatternSegment[]; readonly value: T }>): TrieNode<T> {
  const root = builder<T>();
  for (const { segments, value } of patterns) {
    let node = root;
    for (const segment of segments) {
      if (segment.kind === "rest") {
        node.rest = value;
        break;
      }
      if (segment.kind === "param") {
        node = node.param ??= builder<T>();
        continue;
      }
      let child = node.literals.get(segment.value);
      if (!child) node.literals.set(segment.value, (child = builder<T>()));
      node = child;
    }
    if (segments.length === 0 || segments[segments.length - 1]!.kind !== "rest") node.terminal = value;
  }
  return freeze(root);
}

function freeze<T>(node: Builder<T>): TrieNode<T> {
  return Object.freeze({
    literals: literalTable(node.literals),
    param: node.param && freeze(node.param),
    rest: node.rest,
    terminal: node.terminal,
  });
}

function literalTable<T>(children: Map<string, Builder<T>>): LiteralTable<T> {
  if (children.size === 0) return { mask: -1, keys: [], hashes: new Int32Array(0), nodes: [] };
  // Open addressing with linear probing, at most half full.
  let size = 2;
  while (size < children.size * 2) size *= 2;
  const keys: (string | undefined)[] = new Array<string | undefined>(size).fill(undefined);
  const nodes: (TrieNode<T> | undefined)[] = new Array<TrieNode<T> | undefined>(size).fill(undefined);
  const hashes = new Int32Array(size);
  for (const [key, child] of children) {
    const hash = hashRange(key, 0, key.length);
    let slot = hash & (size - 1);
    while (keys[slot] !== undefined) slot = (slot + 1) & (size - 1);
    keys[slot] = key;
    hashes[slot] = hash;
    nodes[slot] = freeze(child);
  }
  return { mask: size - 1, keys, hashes, nodes };
}

function literalChild<T>(table: LiteralTable<T>, path: string, start: number, end: number): TrieNode<T> | undefined {
  if (table.mask === -1) return undefined;
  const hash = hashRange(path, start, end);
  const length = end - start;
  for (let slot = hash & table.mask; ; slot = (slot + 1) & table.mask) {
    const key = table.keys[slot];
    if (key === undefined) return undefined;
    if (table.hashes[slot] === hash && key.length === length && path.startsWith(key, start)) return table.nodes[slot];
  }
}

/**
 * The most specific pattern matching a normalized path, or null. A trailing
 * slash is ignored (`/user/` is matched as `/user`).
 */
export function lookupTrie<T>(root: TrieNode<T>, path: string): T | null {
  if (path.charCodeAt(0) !== SLASH) return null;
  let end = path.length;
  if (end > 1 && path.charCodeAt(end - 1) === SLASH) end--;
  return walk(root, path, 1, end);
}

/** `start` is the index just after the `/` that begins the next segment; `start >= end` means the path is used up. */
function walk<T>(node: TrieNode<T>, path: string, start: number, end: number): T | null {
  if (start >= end) return node.terminal ?? node.rest;
  let stop = path.indexOf("/", start);
  if (stop === -1 || stop > end) stop = end;
  const literal = literalChild(node.literals, path, start, stop);
  if (literal !== undefined) {
    const found = walk(literal, path, stop + 1, end);
    if (found !== null) return found;
  }
  if (node.param !== null && stop > start) {
    const found = walk(node.param, path, stop + 1, end);
    if (found !== null) return found;
  }
  return node.rest;
}
