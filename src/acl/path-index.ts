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
 * This file builds the index; the ints' layout (node rows, slots) and the
 * lookup that reads them are in layout.ts.
 *
 * Precedence (the README's ACL reference): at every segment, from the left, a literal
 * child is tried before `{name}`, which is tried before `/**`; a subtree that
 * matches nothing falls back to the next choice. The first pattern found is
 * therefore the most specific one.
 */
import { hashRange, NONE, nodeSize, slotCountToInts, slotNode, writeNode, writeSlot, type PathIndex } from "./layout.js";
import type { PatternSegment } from "./path-pattern.js";

export { hashRange, lookupPath, type PathIndex } from "./layout.js";

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
    rows += nodeSize(node.key.length, node.terminal?.length ?? 0, node.rest?.length ?? 0);
  }
  const tableSize = (count: number) => {
    let size = 0;
    // At most half full, so a probe always meets an empty slot and ends.
    if (count > 0) for (size = 2; size < count * 2; size *= 2);
    return size;
  };
  let slotCount = tableSize(exactRows.length);
  for (const node of order) slotCount += tableSize(node.literals.size);

  const nodes = new Int32Array(rows);
  const slots = new Int32Array(slotCountToInts(slotCount)).fill(NONE);
  let nextSlot = 0;
  const table = (children: Iterable<Builder>, count: number): { start: number; mask: number } => {
    const start = nextSlot;
    const mask = tableSize(count) - 1;
    for (const child of children) {
      const hash = hashRange(child.key, 0, child.key.length);
      let slot = hash & mask;
      while (slotNode(slots, start, slot) !== NONE) slot = (slot + 1) & mask;
      writeSlot(slots, start, slot, hash, offsets.get(child)!);
    }
    nextSlot += mask + 1;
    return { start, mask };
  };
  for (const node of order) {
    const { start, mask } = table(node.literals.values(), node.literals.size);
    writeNode(nodes, offsets.get(node)!, start, mask, node.param ? offsets.get(node.param)! : NONE, node.key, node.terminal, node.rest);
  }
  const exactTable = table(exactRows, exactRows.length);
  return Object.freeze({ nodes, slots, exactTable: exactTable.start, exactMask: exactTable.mask });
}
