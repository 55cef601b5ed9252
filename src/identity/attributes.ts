/**
 * The identity attributes an ACL can name, and the canonical shape of a
 * peer's attributes: one frozen array of values per attribute, because a
 * certificate may carry several OUs or several SAN URIs.
 *
 * Values are always taken from structured certificate fields, never parsed
 * out of a DN string: a CN of `x,OU=web` is one CN value and grants nothing
 * that `OU=web` grants.
 */
import { isIP } from "node:net";
import { GuardpostError } from "../errors.js";
import type { SourceAddress } from "./source-address.js";

/** Subject attributes first, then subject alternative names. */
export const ATTRIBUTES = ["CN", "OU", "O", "L", "ST", "C", "DNS", "URI", "IP", "EMAIL"] as const;

export type Attribute = (typeof ATTRIBUTES)[number];

export const SUBJECT_ATTRIBUTES = ["CN", "OU", "O", "L", "ST", "C"] as const satisfies readonly Attribute[];

/**
 * A peer as the ACL sees it: its certificate attributes and, for `SRC=`
 * principals, the connection's source address, parsed once per connection
 * (`peerWithSource`). A peer without `source` (a library caller or policy
 * case that gave none) makes a decision that depends on it throw
 * GP_ERR_ACL_SOURCE_REQUIRED instead of silently denying.
 */
export type PeerAttributes = CertificateAttributes & { readonly source?: SourceAddress };

/** The attributes a certificate (or a `--peer` spec) gives: one frozen array of values per attribute. */
export type CertificateAttributes = { readonly [A in Attribute]?: readonly string[] };

/**
 * What library callers may pass as a peer: attribute names in any case, a
 * value or a list of values per attribute. `canonicalPeer` turns it into
 * `PeerAttributes`.
 */
export type PeerInput = { readonly [name: string]: string | readonly string[] | undefined };

// Attribute names come from users and files; look them up in a Map, never by indexing an object.
const BY_UPPER_NAME = new Map<string, Attribute>(ATTRIBUTES.map((a) => [a, a]));

/** The attribute `name` denotes, ignoring case, or undefined. */
export function attributeNamed(name: string): Attribute | undefined {
  return BY_UPPER_NAME.get(name.toUpperCase());
}

export function unknownAttributeMessage(name: string): string {
  return `unknown attribute ${JSON.stringify(name)} (expected one of ${ATTRIBUTES.join(", ")})`;
}

/**
 * The canonical form of one attribute value. Only IP addresses have more than
 * one spelling: Node prints an IPv6 SAN as `0:0:0:0:0:0:0:1`, people write
 * `::1`; both become the RFC 5952 form so they compare equal.
 */
export function canonicalValue(attribute: Attribute, value: string): string {
  if (attribute !== "IP" || isIP(value) !== 6) return value;
  // The WHATWG URL serializer compresses the first longest run of zero groups
  // and lower-cases hex, as RFC 5952 section 4 asks.
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

/** Builds frozen PeerAttributes from attribute -> values, dropping attributes without values. */
export function freezePeer(values: ReadonlyMap<Attribute, readonly string[]>): CertificateAttributes {
  const peer: { [A in Attribute]?: readonly string[] } = {};
  for (const attribute of ATTRIBUTES) {
    const list = values.get(attribute);
    if (list && list.length > 0) peer[attribute] = Object.freeze(list.map((v) => canonicalValue(attribute, v)));
  }
  return Object.freeze(peer);
}

/**
 * Canonical attributes from a library caller's peer description. Unknown
 * attribute names throw GP_ERR_PEER_SPEC: in a policy test a typo such as
 * `OUU` must fail loudly, not silently deny.
 */
export function canonicalPeer(input: PeerInput): CertificateAttributes {
  const values = new Map<Attribute, string[]>();
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const attribute = attributeNamed(name);
    if (!attribute) throw new GuardpostError("GP_ERR_PEER_SPEC", unknownAttributeMessage(name));
    const list = values.get(attribute) ?? [];
    for (const v of typeof value === "string" ? [value] : value) {
      if (typeof v !== "string") throw new GuardpostError("GP_ERR_PEER_SPEC", `values of attribute ${attribute} must be strings`);
      list.push(v);
    }
    values.set(attribute, list);
  }
  return freezePeer(values);
}

/** `OU=web,CN=web-01`: how a peer is shown in messages and default case names; `,` and `\` in values are escaped. */
export function formatPeer(peer: PeerAttributes): string {
  const parts: string[] = [];
  for (const attribute of ATTRIBUTES) {
    for (const value of peer[attribute] ?? []) parts.push(`${attribute}=${value.replace(/[\\,]/g, "\\$&")}`);
  }
  return parts.length > 0 ? parts.join(",") : "(no attributes)";
}
