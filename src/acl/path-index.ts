/**
 * An ACL's paths compiled into two Int32Arrays: a hash table of the exact
 * paths, and a segment trie of the patterns (paths with `{name}` or `/**`).
 * Each path carries a block of ints (its rule), stored right after the row
 * of the node that ends the path; lookup returns the offset in `nodes` of
 * the block of the most specific path matching a request path, or -1. An
 * exact path is always the most specific match, so its table is asked first.
 *
 * Lookup walks the request path by index, without splitting it or slicing
 * segments out of it: one pass over a segment finds its end and hashes it,
 * and a child is found in an open-addressing table by hash, then by
 * comparing the segment's characters with the key stored in the child's own
 * row. Cost depends on the depth of the path, not on the number of paths.
 *
 * Why flat arrays: at 10k paths, a graph of objects spreads a lookup over
 * ten cache lines in a heap larger than the cache, and decisions cost 17x
 * those of a 10-path ACL. Nodes numbered depth-first, with their keys and
 * blocks inline, keep one path's data on neighbouring lines (bench/RESULTS.md).
 *
 * Precedence (the README's ACL reference): at every segment, from the left, a literal
 * child is tried before `{name}`, which is tried before `/**`; a subtree that
 * matches nothing falls back to the next choice. The first pattern found is
 * therefore the most specific one.
 */
import type { PatternSegment } from "./path-pattern.js";

const SLASH = 0x2f;
const FNV_OFFSET = 0x811c9dc5 | 0; // as an int32, like every hash Math.imul returns and the slots store
const FNV_PRIME = 0x01000193;

// A node is a row in `nodes`, found by its offset:
const TABLE = 0; // first slot of its literal children's table in `slots`
const MASK = 1; // that table's size - 1 (a power of two minus one), or -1 when it has no literal children
const PARAM = 2; // the `{name}` child's offset, or -1
const REST = 3; // the offset of the block of `<path to here>/**`, or -1
const TERMINAL = 4; // the offset of the block of the path that ends exactly here, or -1
const KEY_LENGTH = 5; // the key that leads to this node (a segment; in the exact table, a whole path without its leading slash)
const KEY = 6; // its UTF-16 code units follow, then the terminal block, then the rest block
// A slot is two ints in `slots`: the key's hash and the node's offset (-1: empty).
const SLOT_HASH = 0;
const SLOT_NODE = 1;

export interface PathIndex {
  readonly nodes: Int32Array;
  readonly slots: Int32Array;
  /** The exact paths' table: its first slot and size - 1 (-1: there are no exact paths). */
  readonly exactTable: number;
  readonly exactMask: number;
}

/** FNV-1a over the UTF-16 code units of `text[start, end)`; `walk` computes the same while it scans a segment. */
function hashRange(text: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/** The ints a path carries; the index stores them as they are, so offsets inside must be relative to the block. */
export type Block = readonly number[];

interface Builder {
  readonly key: string;
  readonly literals: Map<string, Builder>;
  param: Builder | null;
  rest: Block | null;
  terminal: Block | null;
}

function builder(key: string): Builder {
  return { key, literals: new Map(), param: null, rest: null, terminal: null };
}

/**
 * Builds the index. `exact` maps normalized paths without `{name}` or `**`
 * (and without a trailing slash) to their blocks; patterns must be distinct
 * (the compiler refuses duplicates first).
 */
export function buildPathIndex(exact: ReadonlyMap<string, Block>, patterns: Iterable<{ readonly segments: readonly PatternSegment[]; readonly value: Block }>): PathIndex {
  const root = builder("");
  for (const { segments, value } of patterns) {
    let node = root;
    for (const segment of segments) {
      if (segment.kind === "rest") {
        node.rest = value;
        break;
      }
      if (segment.kind === "param") {
        node = node.param ??= builder("");
        continue;
      }
      let child = node.literals.get(segment.value);
      if (!child) {
        child = builder(segment.value);
        node.literals.set(segment.value, child);
      }
      node = child;
    }
    if (segments.length === 0 || segments[segments.length - 1]!.kind !== "rest") node.terminal = value;
  }
  const exactRows = [...exact].map(([path, value]) => ({ ...builder(path.slice(1)), terminal: value }));

  // Depth-first order, so the nodes of one pattern lie side by side.
  const order: Builder[] = [];
  const visit = (node: Builder): void => {
    order.push(node);
    for (const child of node.literals.values()) visit(child);
    if (node.param) visit(node.param);
  };
  visit(root);
  order.push(...exactRows);

  const offsets = new Map<Builder, number>();
  let rows = 0;
  for (const node of order) {
    offsets.set(node, rows);
    rows += KEY + node.key.length + (node.terminal?.length ?? 0) + (node.rest?.length ?? 0);
  }
  const tableSize = (count: number) => {
    let size = 0;
    if (count > 0) for (size = 2; size < count * 2; size *= 2);
    return size;
  };
  let slotCount = tableSize(exactRows.length);
  for (const node of order) slotCount += tableSize(node.literals.size);

  const nodes = new Int32Array(rows);
  const slots = new Int32Array(slotCount * 2).fill(-1);
  let nextSlot = 0;
  const table = (children: Iterable<Builder>, count: number): { start: number; mask: number } => {
    const start = nextSlot;
    const mask = tableSize(count) - 1;
    for (const child of children) {
      const hash = hashRange(child.key, 0, child.key.length);
      let slot = hash & mask;
      while (slots[(start + slot) * 2 + SLOT_NODE] !== -1) slot = (slot + 1) & mask;
      slots[(start + slot) * 2 + SLOT_HASH] = hash;
      slots[(start + slot) * 2 + SLOT_NODE] = offsets.get(child)!;
    }
    nextSlot += mask + 1;
    return { start, mask };
  };
  for (const node of order) {
    const at = offsets.get(node)!;
    const { start, mask } = table(node.literals.values(), node.literals.size);
    nodes[at + TABLE] = start;
    nodes[at + MASK] = mask;
    nodes[at + PARAM] = node.param ? offsets.get(node.param)! : -1;
    nodes[at + KEY_LENGTH] = node.key.length;
    for (let i = 0; i < node.key.length; i++) nodes[at + KEY + i] = node.key.charCodeAt(i);
    let next = at + KEY + node.key.length;
    nodes[at + TERMINAL] = -1;
    nodes[at + REST] = -1;
    if (node.terminal) {
      nodes[at + TERMINAL] = next;
      nodes.set(node.terminal, next);
      next += node.terminal.length;
    }
    if (node.rest) {
      nodes[at + REST] = next;
      nodes.set(node.rest, next);
    }
  }
  const exactTable = table(exactRows, exactRows.length);
  return Object.freeze({ nodes, slots, exactTable: exactTable.start, exactMask: exactTable.mask });
}

/**
 * The offset in `nodes` of the block of the most specific path matching a
 * normalized request path, or -1. A trailing slash is ignored (`/user/` is
 * matched as `/user`).
 */
export function lookupPath(index: PathIndex, path: string): number {
  if (path.charCodeAt(0) !== SLASH) return -1;
  let end = path.length;
  if (end > 1 && path.charCodeAt(end - 1) === SLASH) end--;
  if (index.exactMask !== -1) {
    const row = child(index, index.exactTable, index.exactMask, hashRange(path, 1, end), path, 1, end);
    if (row !== -1) return index.nodes[row + TERMINAL]!;
  }
  return walk(index, 0, path, 1, end);
}

/** `start` is the index just after the `/` that begins the next segment; `start >= end` means the path is used up. */
function walk(index: PathIndex, node: number, path: string, start: number, end: number): number {
  const nodes = index.nodes;
  if (start >= end) {
    const terminal = nodes[node + TERMINAL]!;
    return terminal !== -1 ? terminal : nodes[node + REST]!;
  }
  // One pass finds the end of the segment and hashes it (hashRange, inlined).
  let hash = FNV_OFFSET;
  let stop = start;
  for (; stop < end; stop++) {
    const code = path.charCodeAt(stop);
    if (code === SLASH) break;
    hash = Math.imul(hash ^ code, FNV_PRIME);
  }
  const mask = nodes[node + MASK]!;
  if (mask !== -1) {
    const literal = child(index, nodes[node + TABLE]!, mask, hash, path, start, stop);
    if (literal !== -1) {
      const found = walk(index, literal, path, stop + 1, end);
      if (found !== -1) return found;
    }
  }
  const param = nodes[node + PARAM]!;
  if (param !== -1 && stop > start) {
    const found = walk(index, param, path, stop + 1, end);
    if (found !== -1) return found;
  }
  return nodes[node + REST]!;
}

/** The node in table `[table, table + mask]` whose key is `path[start, stop)` (hash `hash`), or -1. */
function child(index: PathIndex, table: number, mask: number, hash: number, path: string, start: number, stop: number): number {
  const slots = index.slots;
  const nodes = index.nodes;
  const length = stop - start;
  for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
    const at = (table + slot) * 2;
    const node = slots[at + SLOT_NODE]!;
    if (node === -1) return -1;
    if (slots[at + SLOT_HASH] === hash && nodes[node + KEY_LENGTH] === length && sameKey(nodes, node + KEY, path, start, length)) return node;
  }
}

function sameKey(nodes: Int32Array, key: number, path: string, start: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (nodes[key + i] !== path.charCodeAt(start + i)) return false;
  return true;
}
