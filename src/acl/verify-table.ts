/**
 * Checks a built decision table against the rules it was built from: every
 * offset lands inside its array, every probe sequence ends, every key is
 * found where its hash says, every rule block sits at the node of its own
 * pattern, and every method column points at the entry the rules give that
 * method (HEAD falling back to GET's), with the same predicates and
 * Decisions in the same order. A layout mistake would otherwise read a
 * neighbour's int and could become a wrong allow; here it is an exception
 * that says where.
 *
 * Tests run it after every table is built (`checkEveryTable`, installed by
 * test/setup/verify-acl-tables.ts); production never calls it.
 */
import type { DecisionTable } from "./decide.js";
import * as L from "./layout.js";
import { hashRange } from "./path-index.js";
import type { AclRule, Decision, RuleEntry } from "./rules.js";

export class TableLayoutError extends Error {
  override readonly name = "TableLayoutError";
}

export function verifyTable(table: DecisionTable, rules: readonly AclRule[]): void {
  const { nodes, slots, exactTable, exactMask } = table.paths;
  const fail = (what: string): never => {
    throw new TableLayoutError(`decision table: ${what}`);
  };
  const inNodes = (offset: number, length: number, what: string) => {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > nodes.length) fail(`${what} at ${offset} (+${length}) is outside nodes[0, ${nodes.length})`);
  };
  const slotCount = slots.length / 2;

  // Every rule block, by the pattern key of the place the index stores it (`/a/{}/**`).
  const blocks = new Map<string, number>();
  const claim = (key: string, block: number) => {
    if (blocks.has(key)) fail(`two blocks for ${key}`);
    blocks.set(key, block);
  };
  const visited = new Set<number>();

  /** The children of a slot table, checked: in range, hash right, reachable by probing, at least one empty slot. */
  const children = (table: number, mask: number, where: string): number[] => {
    if (mask === L.NONE) return [];
    if (mask < 1 || (mask & (mask + 1)) !== 0) fail(`${where}: table mask ${mask} is not a power of two minus one`);
    if (table < 0 || table + mask + 1 > slotCount) fail(`${where}: table [${table}, ${table + mask}] is outside ${slotCount} slots`);
    const found: number[] = [];
    const keys = new Set<string>();
    for (let slot = 0; slot <= mask; slot++) {
      const node = L.slotNode(slots, table, slot);
      if (node === L.NONE) continue;
      inNodes(node, L.nodeSize(0, 0, 0), `${where}: slot ${slot}'s node`);
      const key = keyOf(node);
      if (keys.has(key)) fail(`${where}: key ${JSON.stringify(key)} twice`);
      keys.add(key);
      const hash = hashRange(key, 0, key.length);
      if (L.slotHash(slots, table, slot) !== hash) fail(`${where}: slot ${slot} stores hash ${L.slotHash(slots, table, slot)} for ${JSON.stringify(key)} (${hash})`);
      // Linear probing from the hash must reach this slot before an empty one.
      for (let probe = hash & mask; probe !== slot; probe = (probe + 1) & mask) {
        if (L.slotNode(slots, table, probe) === L.NONE) fail(`${where}: ${JSON.stringify(key)} cannot be found (empty slot ${probe} before its slot ${slot})`);
      }
      found.push(node);
    }
    if (found.length > mask) fail(`${where}: table is full, so a probe for a missing key would not end`);
    return found;
  };

  const keyOf = (node: number): string => {
    const length = L.nodeKeyLength(nodes, node);
    inNodes(L.nodeKey(node), length, `key of node ${node}`);
    let key = "";
    for (let i = 0; i < length; i++) key += String.fromCharCode(nodes[L.nodeKey(node) + i]!);
    return key;
  };

  /** The node's blocks sit right after its key, terminal first. */
  const blocksOf = (node: number, path: string[]): void => {
    const terminal = L.nodeTerminal(nodes, node);
    const rest = L.nodeRest(nodes, node);
    const afterKey = L.nodeKey(node) + L.nodeKeyLength(nodes, node);
    if (terminal !== L.NONE) {
      if (terminal !== afterKey) fail(`node ${node}: terminal block at ${terminal}, expected right after the key at ${afterKey}`);
      claim(`/${path.join("/")}`, terminal);
    }
    if (rest !== L.NONE) {
      if (terminal === L.NONE ? rest !== afterKey : rest <= terminal) fail(`node ${node}: rest block at ${rest} is not right after its key or terminal block`);
      claim(`/${[...path, "**"].join("/")}`, rest);
    }
  };

  const visit = (node: number, path: string[]): void => {
    if (visited.has(node)) fail(`node ${node} is reachable twice`);
    visited.add(node);
    inNodes(node, L.nodeSize(0, 0, 0), "node");
    blocksOf(node, path);
    for (const child of children(L.nodeTable(nodes, node), L.nodeMask(nodes, node), `node ${node} (/${path.join("/")})`)) {
      const key = keyOf(child);
      if (key === "" || key.includes("/")) fail(`node ${child}: literal key ${JSON.stringify(key)} is empty or holds a slash`);
      visit(child, [...path, key]);
    }
    const param = L.nodeParam(nodes, node);
    if (param !== L.NONE) {
      if (L.nodeKeyLength(nodes, param) !== 0) fail(`node ${param}: a {name} node has a key`);
      visit(param, [...path, "{}"]);
    }
  };
  visit(0, []);
  if (L.nodeKeyLength(nodes, 0) !== 0) fail("the root has a key");
  for (const row of children(exactTable, exactMask, "exact table")) {
    if (visited.has(row)) fail(`exact row ${row} is also a trie node`);
    visited.add(row);
    if (L.nodeMask(nodes, row) !== L.NONE || L.nodeParam(nodes, row) !== L.NONE || L.nodeRest(nodes, row) !== L.NONE) fail(`exact row ${row} has children or a rest block`);
    if (L.nodeTerminal(nodes, row) === L.NONE) fail(`exact row ${row} has no block`);
    const key = keyOf(row);
    const path = `/${key}`;
    if (blocks.has(path)) fail(`exact path ${path} is in the trie too`);
    blocksOf(row, key === "" ? [] : [key]);
  }

  // Each rule's block is where its pattern leads, and says what the rule says.
  if (blocks.size !== rules.length) fail(`${blocks.size} blocks for ${rules.length} rules`);
  for (const rule of rules) {
    const block = blocks.get(rule.pattern.key);
    if (block === undefined) fail(`no block for ${rule.pattern.text} (${rule.pattern.key})`);
    verifyRule(table, rule, block!, fail, inNodes);
  }
}

function verifyRule(table: DecisionTable, rule: AclRule, block: number, fail: (what: string) => never, inNodes: (offset: number, length: number, what: string) => void): void {
  const code = table.paths.nodes;
  const where = `rule ${rule.pattern.text}`;
  inNodes(block, table.methodCount + 2, where);
  const entriesStart = L.ruleEntriesStart(block, table.methodCount);
  const sameDecision = (index: number, expected: Decision, what: string) => {
    const actual = table.decisions[index];
    if (actual === undefined) fail(`${where}: ${what} refers to decision ${index} of ${table.decisions.length}`);
    if (actual!.allow !== expected.allow || actual!.entry !== expected.entry || actual!.reason !== expected.reason) {
      fail(`${where}: ${what} gives ${JSON.stringify(actual)}, the rule says ${JSON.stringify(expected)}`);
    }
  };
  const checkEntry = (entry: number, spec: RuleEntry | null, what: string) => {
    if (spec === null) {
      if (entry !== L.NONE) fail(`${where}: ${what} has an entry, the rule has none`);
      return;
    }
    if (entry === L.NONE) fail(`${where}: ${what} has no entry, the rule has ${spec.entry}`);
    if (entry < entriesStart) fail(`${where}: ${what} points into the block's columns`);
    inNodes(entry, 2, `${where}: ${what}`);
    if (L.entryGrantCount(code, entry) !== spec.grants.length) fail(`${where}: ${what} has ${L.entryGrantCount(code, entry)} grants, ${spec.entry} has ${spec.grants.length}`);
    inNodes(entry, L.entryEnd(code, entry) - entry, `${where}: ${what}'s grants`);
    sameDecision(L.entryDenyDecision(code, entry), spec.deny, `${what}'s deny`);
    let grant = L.entryFirstGrant(entry);
    spec.grants.forEach((expected, i) => {
      const predicate = table.predicates[L.grantPredicate(code, grant)];
      if (predicate !== expected.principal.matches) fail(`${where}: ${what}'s grant ${i} tests another predicate than ${expected.principal.text}`);
      sameDecision(L.grantDecision(code, grant), expected.allow, `${what}'s grant ${i}`);
      grant = L.nextGrant(grant);
    });
  };
  for (const [method, column] of table.methods) {
    if (column < 0 || column >= table.methodCount) fail(`method ${method} has column ${column} of ${table.methodCount}`);
    const spec = rule.methods.get(method) ?? (method === "HEAD" ? rule.methods.get("GET") : undefined) ?? null;
    checkEntry(L.ruleEntry(code, block, column), spec, `column ${method}`);
  }
  for (const method of rule.methods.keys()) if (!table.methods.has(method)) fail(`${where}: method ${method} has no column`);
  checkEntry(L.ruleAnyMethodEntry(code, block, table.methodCount), rule.anyMethod, `the "*" column`);
  sameDecision(L.ruleNoMethodDecision(code, block, table.methodCount), rule.noMethod, "the no-entry decision");
}
