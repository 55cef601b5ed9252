/**
 * The integer layout of a compiled ACL, and the only code that knows it.
 *
 * A decision table is two Int32Arrays plus two object arrays:
 *
 *   nodes   rows of the path index (a trie of the patterns, and the exact
 *           paths' rows), each followed by the rule blocks of the paths that
 *           end at it; a rule block holds its method entries and their grants
 *   slots   open-addressing tables of (hash, node) pairs: the literal
 *           children of a trie node, and the exact paths
 *   predicates, decisions   what the ints in a rule refer to by index
 *
 * Everything else (path-index.ts builds the index, decide.ts builds rules
 * and evaluates them, verify-table.ts checks a built table) reads and writes
 * through the functions here, so a change of layout (a new column in a rule,
 * a new field in a node) touches this file only. The path lookup, the
 * hottest reader, lives here too and indexes the arrays directly: as a chain
 * of small accessors it used up V8's inlining budget for `evaluate` (the
 * first `walk` was no longer inlined), which cost 10-15% per decision in
 * bench/micro/acl-decide.mjs. The rule accessors inline without that cost.
 *
 * Mistakes in a layout do not crash, they read a neighbour's int: a wrong
 * offset can become a wrong allow. That is why the tests build every table
 * through `verifyTable` (verify-table.ts) and compare `evaluate` with the
 * plain-object reference evaluator (reference.ts).
 */

/** "None" in every offset and index field. */
export const NONE = -1;

// ---------------------------------------------------------------------------
// Nodes: [TABLE] [MASK] [PARAM] [REST] [TERMINAL] [KEY_LENGTH] [key code units...] [terminal block] [rest block]
const TABLE = 0; // first slot of its literal children's table in `slots`
const MASK = 1; // that table's size - 1 (a power of two minus one), or NONE when it has no literal children
const PARAM = 2; // the `{name}` child's offset, or NONE
const REST = 3; // the offset of the rule block of `<path to here>/**`, or NONE
const TERMINAL = 4; // the offset of the rule block of the path that ends exactly here, or NONE
const KEY_LENGTH = 5; // the key that leads here: a segment; in the exact table a whole path without its leading slash
const KEY = 6;

/** Ints a node takes with its key and blocks. */
export function nodeSize(keyLength: number, terminalLength: number, restLength: number): number {
  return KEY + keyLength + terminalLength + restLength;
}

/**
 * Writes a node at `at`; `terminal` and `rest` (rule blocks, or null) are
 * copied after the key, as their offsets inside are relative to the block.
 */
export function writeNode(nodes: Int32Array, at: number, table: number, mask: number, param: number, key: string, terminal: readonly number[] | null, rest: readonly number[] | null): void {
  nodes[at + TABLE] = table;
  nodes[at + MASK] = mask;
  nodes[at + PARAM] = param;
  nodes[at + KEY_LENGTH] = key.length;
  for (let i = 0; i < key.length; i++) nodes[at + KEY + i] = key.charCodeAt(i);
  let next = at + KEY + key.length;
  nodes[at + TERMINAL] = NONE;
  nodes[at + REST] = NONE;
  if (terminal) {
    nodes[at + TERMINAL] = next;
    nodes.set(terminal, next);
    next += terminal.length;
  }
  if (rest) {
    nodes[at + REST] = next;
    nodes.set(rest, next);
  }
}

export function nodeTable(nodes: Int32Array, node: number): number {
  return nodes[node + TABLE]!;
}
export function nodeMask(nodes: Int32Array, node: number): number {
  return nodes[node + MASK]!;
}
export function nodeParam(nodes: Int32Array, node: number): number {
  return nodes[node + PARAM]!;
}
export function nodeRest(nodes: Int32Array, node: number): number {
  return nodes[node + REST]!;
}
export function nodeTerminal(nodes: Int32Array, node: number): number {
  return nodes[node + TERMINAL]!;
}
export function nodeKeyLength(nodes: Int32Array, node: number): number {
  return nodes[node + KEY_LENGTH]!;
}
/** Where the node's key starts (one UTF-16 code unit per int). */
export function nodeKey(node: number): number {
  return node + KEY;
}

// ---------------------------------------------------------------------------
// Slots: tables of [hash] [node] pairs; a table of size `mask + 1` starts at slot `table`.
const SLOT_HASH = 0;
const SLOT_NODE = 1;
const SLOT_INTS = 2;

export function slotCountToInts(slots: number): number {
  return slots * SLOT_INTS;
}
export function slotHash(slots: Int32Array, table: number, slot: number): number {
  return slots[(table + slot) * SLOT_INTS + SLOT_HASH]!;
}
/** The node in the slot, or NONE when the slot is empty (a new slot array is filled with NONE). */
export function slotNode(slots: Int32Array, table: number, slot: number): number {
  return slots[(table + slot) * SLOT_INTS + SLOT_NODE]!;
}
export function writeSlot(slots: Int32Array, table: number, slot: number, hash: number, node: number): void {
  slots[(table + slot) * SLOT_INTS + SLOT_HASH] = hash;
  slots[(table + slot) * SLOT_INTS + SLOT_NODE] = node;
}

// ---------------------------------------------------------------------------
// Lookup: the most specific path for a request path.
const SLASH = 0x2f;
const FNV_OFFSET = 0x811c9dc5 | 0; // as an int32, like every hash Math.imul returns and the slots store
const FNV_PRIME = 0x01000193;

export interface PathIndex {
  readonly nodes: Int32Array;
  readonly slots: Int32Array;
  /** The exact paths' table: its first slot and size - 1 (NONE: there are no exact paths). */
  readonly exactTable: number;
  readonly exactMask: number;
}

/** FNV-1a over the UTF-16 code units of `text[start, end)`: the hash slots store; `walk` computes the same while it scans a segment. */
export function hashRange(text: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * The offset in `nodes` of the rule block of the most specific path
 * matching a normalized request path, or -1. A trailing slash is ignored
 * (`/user/` is matched as `/user`). Precedence: see path-index.ts.
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
    const at = (table + slot) * SLOT_INTS;
    const node = slots[at + SLOT_NODE]!;
    if (node === -1) return -1;
    if (slots[at + SLOT_HASH] === hash && nodes[node + KEY_LENGTH] === length && sameKey(nodes, node + KEY, path, start, length)) return node;
  }
}

function sameKey(nodes: Int32Array, key: number, path: string, start: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (nodes[key + i] !== path.charCodeAt(start + i)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Rules (one per path), stored in `nodes` right after the node where the path ends:
//   [entry offset (or NONE) per method column] [ANY_METHOD] [NO_METHOD] [entries...]
// An entry is referred to by its offset from the start of its rule's block, so a block can be copied anywhere.
//   entry: [GRANT_COUNT] [DENY] then per principal, in file order: [predicate] [decision when it matches]
const ANY_METHOD = 0; // after the method columns: the "*" entry's offset, or NONE
const NO_METHOD = 1; // the decision when the path has no entry for the method
const RULE_TAIL = 2;
const GRANT_COUNT = 0;
const DENY = 1;
const GRANTS = 2;
const GRANT_INTS = 2;

/** The absolute offset of the entry in `column` of the rule at `rule`, or NONE. */
export function ruleEntry(code: Int32Array, rule: number, column: number): number {
  const offset = code[rule + column]!;
  return offset === NONE ? NONE : rule + offset;
}
/** The absolute offset of the rule's `"*"` entry, or NONE. */
export function ruleAnyMethodEntry(code: Int32Array, rule: number, methodCount: number): number {
  const offset = code[rule + methodCount + ANY_METHOD]!;
  return offset === NONE ? NONE : rule + offset;
}
/** The index of the decision for a method the rule has no entry for. */
export function ruleNoMethodDecision(code: Int32Array, rule: number, methodCount: number): number {
  return code[rule + methodCount + NO_METHOD]!;
}
/** Where the rule's entries start (its first entry, if it has any, is there). */
export function ruleEntriesStart(rule: number, methodCount: number): number {
  return rule + methodCount + RULE_TAIL;
}
export function entryDenyDecision(code: Int32Array, entry: number): number {
  return code[entry + DENY]!;
}
export function entryGrantCount(code: Int32Array, entry: number): number {
  return code[entry + GRANT_COUNT]!;
}
export function entryFirstGrant(entry: number): number {
  return entry + GRANTS;
}
/** Just past the entry's last grant: the next entry of the block, if any. */
export function entryEnd(code: Int32Array, entry: number): number {
  return entry + GRANTS + GRANT_INTS * code[entry + GRANT_COUNT]!;
}
export function nextGrant(grant: number): number {
  return grant + GRANT_INTS;
}
export function grantPredicate(code: Int32Array, grant: number): number {
  return code[grant]!;
}
export function grantDecision(code: Int32Array, grant: number): number {
  return code[grant + 1]!;
}

/** One method entry ready for layout: the deny decision's index, and (predicate index, allow decision index) per principal. */
export interface EntryInts {
  readonly deny: number;
  readonly grants: readonly (readonly [predicate: number, decision: number])[];
}

/**
 * Lays out one rule block. `columns[i]` is the entry for method column i (or
 * null); entries shared by several columns (HEAD using GET's) are laid once.
 */
export function layRule(columns: readonly (EntryInts | null)[], anyMethod: EntryInts | null, noMethodDecision: number): number[] {
  const methodCount = columns.length;
  const block: number[] = new Array<number>(methodCount + RULE_TAIL).fill(NONE);
  const placed = new Map<EntryInts, number>();
  const place = (entry: EntryInts) => {
    let offset = placed.get(entry);
    if (offset === undefined) {
      offset = block.length;
      placed.set(entry, offset);
      block.push(entry.grants.length, entry.deny);
      for (const [predicate, decision] of entry.grants) block.push(predicate, decision);
    }
    return offset;
  };
  columns.forEach((entry, column) => {
    if (entry !== null) block[column] = place(entry);
  });
  if (anyMethod !== null) block[methodCount + ANY_METHOD] = place(anyMethod);
  block[methodCount + NO_METHOD] = noMethodDecision;
  return block;
}
