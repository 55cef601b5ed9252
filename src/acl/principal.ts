/**
 * Principals: who an ACL entry grants. Each principal is compiled once, at
 * load time, into a predicate over canonical peer attributes: plain string
 * equality for a value without `*`, a prefix/suffix/infix scan for a glob
 * (no regular expressions, so no pattern can be slow), and group references
 * inlined.
 *
 *   "*"                          any peer that completed the mTLS handshake
 *   ATTR=VALUE                   one attribute; VALUE may use * for any run of characters
 *   SRC=10.1.0.0/16              the connection's source address is in that network (or is that address)
 *   {OU: payments, CN: "api-*"}  all listed attributes must match
 *   "@group"                     the principals of a group (groups may use groups; cycles are refused)
 *
 * Outside ACLs (a config's `expect: [OU=database]`), `new PrincipalCompiler(src)`
 * without groups and `anyOf(compiler.list(node, what))` give the same rules.
 */
import type { Node } from "yaml";
import { isMap, isScalar } from "yaml";
import { GuardpostError } from "../errors.js";
import { ATTRIBUTES, attributeNamed, canonicalValue, unknownAttributeMessage, type Attribute, type PeerAttributes } from "../identity/attributes.js";
import { networkMatcher, parseNetwork, type Network } from "../identity/source-address.js";
import { describeNode, type YamlSource } from "../yaml/source.js";

export type PeerPredicate = (peer: PeerAttributes) => boolean;

/** One test a principal makes: an attribute value pattern, or the source network. All of a principal's conditions must hold. */
export type Condition = { readonly attribute: Attribute; readonly pattern: string } | { readonly attribute: "SRC"; readonly network: Network };

export interface Principal {
  /** How the principal reads in decisions: `OU=web`, `{OU: payments, CN: "api-*"}`, `OU=web via @frontends`. */
  readonly text: string;
  readonly matches: PeerPredicate;
  /** What `matches` tests, for tools that reason about principals (`acl diff`); empty for "*". */
  readonly conditions: readonly Condition[];
}

const EXPECTED_PRINCIPAL = `"*", ATTR=VALUE, an attribute map such as {OU: web, CN: "web-*"}, or "@group"`;
const GROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/**
 * How many principals group references may copy into lists, in all, in one
 * file. Each reference copies the group's expanded principals, so groups of
 * ten groups of ten ... grow tenfold per level (a "billion laughs" in ACL
 * form: six levels took 4 GB and minutes before this limit). Real ACLs stay
 * far below it: 10k paths each naming a group of five is 50k.
 */
export const MAX_GROUP_EXPANSION = 100_000;
/** Map values shown without quotes in messages; others are JSON-quoted so `{OU: "a, CN: b"}` cannot read as two attributes. */
const PLAIN_VALUE = /^[A-Za-z0-9_.@/-]+$/;

const ANY_PEER: Principal = Object.freeze({ text: '"*"', matches: () => true, conditions: Object.freeze([]) });

/** The pseudo-attribute of source networks: not a certificate attribute, so only principals accept it. */
const SOURCE = "SRC";

/** A matcher for one attribute value; `*` matches any run of characters, including none. */
export function valueMatcher(pattern: string): (value: string) => boolean {
  const star = pattern.indexOf("*");
  if (star === -1) return (value) => value === pattern;
  const parts = pattern.split("*");
  const prefix = parts[0]!;
  const suffix = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((p) => p !== "");
  const minLength = prefix.length + suffix.length + middle.reduce((n, p) => n + p.length, 0);
  return (value) => {
    if (value.length < minLength || !value.startsWith(prefix) || !value.endsWith(suffix)) return false;
    // Leftmost placement of each middle part is optimal for `*`-only globs.
    let from = prefix.length;
    const limit = value.length - suffix.length;
    for (let i = 0; i < middle.length; i++) {
      const at = value.indexOf(middle[i]!, from);
      if (at === -1 || at + middle[i]!.length > limit) return false;
      from = at + middle[i]!.length;
    }
    return true;
  };
}

function attributePredicate(attribute: Attribute, pattern: string): PeerPredicate {
  if (pattern.indexOf("*") === -1) {
    const wanted = canonicalValue(attribute, pattern);
    return (peer) => {
      const values = peer[attribute];
      return values?.includes(wanted) === true;
    };
  }
  const match = valueMatcher(pattern);
  return (peer) => {
    const values = peer[attribute];
    if (values === undefined) return false;
    for (let i = 0; i < values.length; i++) if (match(values[i]!)) return true;
    return false;
  };
}

/**
 * `SRC=network`. The proxy always gives a source (an unreadable one matches
 * nothing); a library caller or policy case that gave none gets an error
 * saying the decision needs one, never a silent deny.
 */
function sourcePredicate(network: Network): PeerPredicate {
  const inNetwork = networkMatcher(network);
  return (peer) => {
    const source = peer.source;
    if (source === undefined) {
      throw new GuardpostError("GP_ERR_ACL_SOURCE_REQUIRED", `the decision depends on the source address (principal SRC=${network.text}) but no source was given`);
    }
    return inNetwork(source);
  };
}

function allOf(predicates: readonly PeerPredicate[]): PeerPredicate {
  if (predicates.length === 1) return predicates[0]!;
  return (peer) => {
    for (let i = 0; i < predicates.length; i++) if (!predicates[i]!(peer)) return false;
    return true;
  };
}

/** One predicate for a list of principals: any of them. */
export function anyOf(principals: readonly Principal[]): PeerPredicate {
  if (principals.length === 1) return principals[0]!.matches;
  return (peer) => {
    for (let i = 0; i < principals.length; i++) if (principals[i]!.matches(peer)) return true;
    return false;
  };
}

interface GroupDefinition {
  readonly keyNode: Node;
  readonly value: Node | null;
  principals: readonly Principal[] | undefined;
}

/**
 * Compiles principal lists from one YAML file. Groups are defined up front
 * and all resolved immediately, so a bad principal in a group that no path
 * uses is still an error, and a cycle is reported at the reference that
 * closes it.
 */
export class PrincipalCompiler {
  private readonly src: YamlSource;
  private readonly groups = new Map<string, GroupDefinition>();
  /** The groups being resolved, outermost first: the path a cycle takes. */
  private readonly resolving: string[] = [];
  /**
   * Predicates by what they test (JSON of [attribute, value] pairs, never
   * the display text, which is ambiguous): every entry that grants `OU=web`
   * shares one predicate, so a large ACL has few, cache-resident predicates.
   */
  private readonly predicates = new Map<string, PeerPredicate>();
  /** Principals copied by group references so far, against MAX_GROUP_EXPANSION. */
  private expanded = 0;

  /** Whether `SRC=` is allowed: in ACLs yes; in a config's `expect` (a server certificate, no client address) no. */
  private readonly allowSource: boolean;

  constructor(src: YamlSource, groupsNode: Node | null = null, options: { allowSource?: boolean } = {}) {
    this.src = src;
    this.allowSource = options.allowSource ?? false;
    if (groupsNode === null || src.isNull(groupsNode)) return;
    for (const { key, keyNode, value } of src.entries(groupsNode, '"groups"')) {
      if (!GROUP_NAME.test(key)) {
        throw src.error("GP_ERR_ACL_BAD_GROUP", keyNode, `bad group name ${JSON.stringify(key)} (expected letters, digits, "_", "." or "-", used as "@name")`);
      }
      this.groups.set(key, { keyNode, value, principals: undefined });
    }
    for (const [name, group] of this.groups) this.resolveGroup(name, group.keyNode);
  }

  /** A list of principals (`[OU=web, "@frontends"]`); an empty list grants nobody. */
  list(node: Node | null, what: string): readonly Principal[] {
    const out: Principal[] = [];
    for (const item of this.src.seq(node, what).items) {
      const resolved = this.src.resolve(item);
      if (isMap(resolved)) {
        out.push(this.attributeMap(resolved));
        continue;
      }
      if (!isScalar(resolved) || typeof resolved.value !== "string") {
        throw this.src.error("GP_ERR_ACL_BAD_PRINCIPAL", resolved ?? node, `a principal must be ${EXPECTED_PRINCIPAL}, not ${describeNode(resolved)}`);
      }
      const text = resolved.value;
      if (text.startsWith("@")) {
        const name = text.slice(1);
        if (!this.groups.has(name)) throw this.src.error("GP_ERR_ACL_UNKNOWN_GROUP", resolved, `unknown group ${JSON.stringify(text)} (${this.knownGroups()})`);
        for (const p of this.group(name, resolved)) out.push(p);
        continue;
      }
      out.push(this.stringPrincipal(resolved, text));
    }
    return out;
  }

  /** The principals of a group, each shown as `... via @name`. */
  private group(name: string, reference: Node): readonly Principal[] {
    const principals = this.resolveGroup(name, reference);
    this.expanded += principals.length;
    if (this.expanded > MAX_GROUP_EXPANSION) {
      throw this.src.error(
        "GP_ERR_ACL_BAD_GROUP",
        reference,
        `group references expand to more than ${MAX_GROUP_EXPANSION} principals in all (@${name} alone has ${principals.length}); nest fewer groups or use a glob such as OU=web-*`,
      );
    }
    return principals.map((p) => Object.freeze({ text: `${p.text} via @${name}`, matches: p.matches, conditions: p.conditions }));
  }

  /** A group's own principals, compiled on first use. */
  private resolveGroup(name: string, reference: Node): readonly Principal[] {
    const group = this.groups.get(name)!;
    if (!group.principals) {
      const open = this.resolving.indexOf(name);
      if (open !== -1) {
        const cycle = [...this.resolving.slice(open), name].map((g) => `@${g}`).join(" -> ");
        throw this.src.error("GP_ERR_ACL_BAD_GROUP", reference, `groups refer to each other in a cycle: ${cycle}`);
      }
      this.resolving.push(name);
      group.principals = this.list(group.value, `group "${name}"`);
      this.resolving.pop();
    }
    return group.principals;
  }

  /** The predicate that all of `conditions` hold, shared with every principal that tests the same. */
  private predicate(conditions: readonly Condition[]): PeerPredicate {
    const key = JSON.stringify(conditions.map((c) => (c.attribute === SOURCE ? [SOURCE, c.network.text] : [c.attribute, c.pattern])));
    let predicate = this.predicates.get(key);
    if (!predicate) {
      if (conditions.length === 1) {
        const only = conditions[0]!;
        predicate = only.attribute === SOURCE ? sourcePredicate(only.network) : attributePredicate(only.attribute, only.pattern);
      } else {
        // Source conditions last: a certificate mismatch then decides without needing a source.
        const ordered = [...conditions.filter((c) => c.attribute !== SOURCE), ...conditions.filter((c) => c.attribute === SOURCE)];
        predicate = allOf(ordered.map((c) => this.predicate([c])));
      }
      this.predicates.set(key, predicate);
    }
    return predicate;
  }

  /** The condition `NAME=value` states, or throws at `node`. */
  private condition(node: Node, name: string, value: string): Condition {
    if (name.toUpperCase() === SOURCE) {
      if (!this.allowSource) throw this.src.error("GP_ERR_ACL_UNKNOWN_ATTRIBUTE", node, `SRC (the client's source address) is not available here: this list matches a server certificate (expected one of ${ATTRIBUTES.join(", ")})`);
      const network = parseNetwork(value);
      if (typeof network === "string") throw this.src.error("GP_ERR_ACL_BAD_NETWORK", node, `bad source network: ${network} (expected a CIDR such as 10.1.0.0/16 or 2001:db8::/32, or one address)`);
      return Object.freeze({ attribute: SOURCE, network });
    }
    const attribute = attributeNamed(name);
    if (!attribute) throw this.src.error("GP_ERR_ACL_UNKNOWN_ATTRIBUTE", node, this.unknownAttribute(name));
    return Object.freeze({ attribute, pattern: value });
  }

  private unknownAttribute(name: string): string {
    return unknownAttributeMessage(name);
  }

  private knownGroups(): string {
    return this.groups.size === 0 ? "no groups are defined" : `defined groups: ${[...this.groups.keys()].map((g) => `@${g}`).join(", ")}`;
  }

  private stringPrincipal(node: Node, text: string): Principal {
    if (text === "*") return ANY_PEER;
    const eq = text.indexOf("=");
    if (eq === -1) throw this.src.error("GP_ERR_ACL_BAD_PRINCIPAL", node, `bad principal ${JSON.stringify(text)} (expected ${EXPECTED_PRINCIPAL})`);
    const name = text.slice(0, eq);
    const value = text.slice(eq + 1);
    if (value === "" && (attributeNamed(name) || name.toUpperCase() === SOURCE)) {
      const hint = name.toUpperCase() === SOURCE ? "write a network such as SRC=10.0.0.0/8" : `write ${attributeNamed(name)}=* for any value`;
      throw this.src.error("GP_ERR_ACL_BAD_PRINCIPAL", node, `empty value in principal ${JSON.stringify(text)} (${hint})`);
    }
    const condition = this.condition(node, name, value);
    const shown = condition.attribute === SOURCE ? `SRC=${condition.network.text}` : `${condition.attribute}=${value}`;
    return Object.freeze({ text: shown, matches: this.predicate([condition]), conditions: Object.freeze([condition]) });
  }

  private attributeMap(node: Node): Principal {
    const entries = this.src.entries(node, "an attribute map");
    if (entries.length === 0) {
      throw this.src.error("GP_ERR_ACL_BAD_PRINCIPAL", node, `empty attribute map (list attributes such as {OU: web, CN: "web-*"}, or use "*" for any peer)`);
    }
    const parts: string[] = [];
    const conditions: Condition[] = [];
    for (const { key, keyNode, value } of entries) {
      const attribute = key.toUpperCase() === SOURCE ? SOURCE : attributeNamed(key);
      if (!attribute) throw this.src.error("GP_ERR_ACL_UNKNOWN_ATTRIBUTE", keyNode, this.unknownAttribute(key));
      if (attribute === SOURCE && !this.allowSource) this.condition(keyNode, key, "");
      const resolved = this.src.resolve(value);
      if (!isScalar(resolved) || resolved.value === null || typeof resolved.value === "object") {
        throw this.src.error(
          "GP_ERR_ACL_BAD_PRINCIPAL",
          resolved ?? keyNode,
          `the value of ${attribute} must be a string, not ${describeNode(resolved)} (one value per attribute; list several principals for alternatives)`,
        );
      }
      const text = this.src.scalarText(resolved, `the value of ${attribute}`);
      if (text === "") throw this.src.error("GP_ERR_ACL_BAD_PRINCIPAL", resolved, `empty value for ${attribute} (write "*" for any value)`);
      const condition = this.condition(resolved, attribute, text);
      const shown = condition.attribute === SOURCE ? condition.network.text : text;
      parts.push(`${attribute}: ${PLAIN_VALUE.test(shown) ? shown : JSON.stringify(shown)}`);
      conditions.push(condition);
    }
    return Object.freeze({ text: `{${parts.join(", ")}}`, matches: this.predicate(conditions), conditions: Object.freeze(conditions) });
  }
}
