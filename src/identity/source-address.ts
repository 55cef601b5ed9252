/**
 * Source addresses and networks for `SRC=` principals: parsed once (a
 * network when the ACL is compiled, a client's address once per
 * connection) into four 32-bit words, so that matching is a few integer
 * comparisons and allocates nothing.
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack socket
 * reports for an IPv4 client) is its IPv4 address: it matches `10.0.0.0/8`.
 * A network written in that form (`::ffff:10.0.0.0/104`) is the IPv4
 * network. Other IPv6 networks never match IPv4 clients, and the other way
 * round.
 *
 * Strict on purpose, since a typo in a network silently changes who gets in:
 * no zone ids (`fe80::1%eth0`), no leading zeros in IPv4 octets (some
 * parsers read them as octal), no prefix past the address size, no host bits
 * set below the prefix (`10.1.2.3/16` is refused with the network it
 * probably meant).
 */
import type { PeerAttributes } from "./attributes.js";

export interface SourceAddress {
  /** 4 or 6; 0 for a connection whose address could not be read (it matches no network). */
  readonly family: 0 | 4 | 6;
  /** The address as four big-endian 32-bit words, as unsigned numbers; an IPv4 address is in `w3` (the others are 0). */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
}

export interface Network {
  readonly family: 4 | 6;
  /** The first address of the network. */
  readonly first: SourceAddress;
  readonly prefix: number;
  /** Canonical text: `10.1.0.0/16`, `2001:db8::/32`; one address is written without a prefix. */
  readonly text: string;
}

/** What a connection's source is when its address cannot be read: no network contains it. */
export const UNKNOWN_SOURCE: SourceAddress = Object.freeze({ family: 0, w0: 0, w1: 0, w2: 0, w3: 0 });

const DECIMAL = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function ipv4Words(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** Eight 16-bit groups, or null. Accepts `::` once and a trailing dotted IPv4 part. */
function ipv6Groups(text: string): number[] | null {
  if (text.includes("%")) return null; // zone ids name an interface of this host; they mean nothing in a policy
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (half: string): number[] | null => {
    if (half === "") return [];
    const groups: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = ipv4Words(part);
        if (v4 === null) return null;
        groups.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (HEX_GROUP.test(part)) {
        groups.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || tail === null) return null;
  // A dotted IPv4 part may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function v4(value: number): SourceAddress {
  return Object.freeze({ family: 4, w0: 0, w1: 0, w2: 0, w3: value >>> 0 });
}

function isMapped(g: readonly number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/** Parses an IPv4 or IPv6 address; an IPv4-mapped IPv6 address becomes IPv4. Null when it is not one. */
export function parseAddress(text: string): SourceAddress | null {
  if (text.includes(":")) {
    const g = ipv6Groups(text);
    if (g === null) return null;
    if (isMapped(g)) return v4(g[6]! * 65536 + g[7]!);
    return Object.freeze({ family: 6, w0: (g[0]! * 65536 + g[1]!) >>> 0, w1: (g[2]! * 65536 + g[3]!) >>> 0, w2: (g[4]! * 65536 + g[5]!) >>> 0, w3: (g[6]! * 65536 + g[7]!) >>> 0 });
  }
  const value = ipv4Words(text);
  return value === null ? null : v4(value);
}

/** The canonical text of an address: dotted IPv4, or RFC 5952 IPv6. */
export function formatAddress(address: SourceAddress): string {
  if (address.family === 4) return [24, 16, 8, 0].map((shift) => (address.w3 >>> shift) & 255).join(".");
  if (address.family === 0) return "unknown";
  const groups = [address.w0, address.w1, address.w2, address.w3].flatMap((w) => [w >>> 16, w & 0xffff]).map((g) => g.toString(16)).join(":");
  // The WHATWG URL serializer compresses the longest run of zero groups, as RFC 5952 section 4 asks.
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
}

/** A word's mask for a prefix that starts `offset` bits into the address. */
function wordMask(prefix: number, offset: number): number {
  const bits = Math.max(0, Math.min(32, prefix - offset));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses `10.1.0.0/16`, `2001:db8::/32` or one address (a /32 or /128).
 * Returns the network, or why it is not one (for a message that says what
 * would be right).
 */
export function parseNetwork(text: string): Network | string {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes("%")) return `${JSON.stringify(text)} has a zone id (%...); a source network cannot name an interface`;
  const address = parseAddress(addressText);
  if (address === null) return `${JSON.stringify(addressText)} is not an IPv4 or IPv6 address`;
  const mapped = address.family === 4 && addressText.includes(":");
  const bits = address.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    const written = /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
    const limit = mapped ? 128 : bits;
    if (!(written <= limit)) return `prefix ${JSON.stringify(prefixText)} in ${JSON.stringify(text)} is not a number from 0 to ${limit}`;
    if (mapped) {
      if (written < 96) return `${JSON.stringify(text)} is an IPv4-mapped address with a prefix shorter than /96, which would reach outside the IPv4 range`;
      prefix = written - 96;
    } else {
      prefix = written;
    }
  }
  const masks = address.family === 4 ? [0, 0, 0, wordMask(prefix, 0)] : [0, 32, 64, 96].map((offset) => wordMask(prefix, offset));
  const words = [address.w0, address.w1, address.w2, address.w3];
  const first = words.map((w, i) => (w & masks[i]!) >>> 0);
  const base: SourceAddress = Object.freeze({ family: address.family as 4 | 6, w0: first[0]!, w1: first[1]!, w2: first[2]!, w3: first[3]! });
  const canonical = prefix === bits ? formatAddress(base) : `${formatAddress(base)}/${prefix}`;
  if (first.some((w, i) => w !== words[i])) return `${JSON.stringify(text)} has host bits set below the /${slash === -1 ? bits : text.slice(slash + 1)} prefix (did you mean ${canonical}?)`;
  return Object.freeze({ family: address.family as 4 | 6, first: base, prefix, text: canonical });
}

/** A compiled test for one network: integer compares on the address's words. */
export function networkMatcher(network: Network): (address: SourceAddress) => boolean {
  const { family, prefix, first } = network;
  if (family === 4) {
    const mask = wordMask(prefix, 0);
    const net = first.w3;
    return (a) => a.family === 4 && ((a.w3 & mask) >>> 0) === net;
  }
  const [m0, m1, m2, m3] = [0, 32, 64, 96].map((offset) => wordMask(prefix, offset)) as [number, number, number, number];
  return (a) =>
    a.family === 6 && ((a.w0 & m0) >>> 0) === first.w0 && ((a.w1 & m1) >>> 0) === first.w1 && ((a.w2 & m2) >>> 0) === first.w2 && ((a.w3 & m3) >>> 0) === first.w3;
}

/** The last address of a network. */
export function lastAddress(network: Network): SourceAddress {
  const { first, prefix } = network;
  if (network.family === 4) return Object.freeze({ ...first, w3: (first.w3 | ~wordMask(prefix, 0)) >>> 0 });
  const [w0, w1, w2, w3] = [first.w0, first.w1, first.w2, first.w3].map((w, i) => (w | ~wordMask(prefix, i * 32)) >>> 0) as [number, number, number, number];
  return Object.freeze({ family: 6, w0, w1, w2, w3 });
}

/** The address `delta` (+1 or -1) away, or null past either end of the family's range. */
export function stepAddress(address: SourceAddress, delta: 1 | -1): SourceAddress | null {
  if (address.family === 0) return null;
  const words = [address.w0, address.w1, address.w2, address.w3];
  for (let i = 3; i >= (address.family === 4 ? 3 : 0); i--) {
    const next = words[i]! + delta;
    if (next >= 0 && next <= 0xffffffff) {
      words[i] = next;
      return Object.freeze({ family: address.family, w0: words[0]!, w1: words[1]!, w2: words[2]!, w3: words[3]! });
    }
    words[i] = delta === 1 ? 0 : 0xffffffff;
  }
  return null;
}

/**
 * The peer object `CompiledAcl.evaluate` receives for one connection: the
 * certificate's attributes plus the connection's source address, parsed
 * here, once per connection. An address that cannot be read matches no
 * network.
 */
export function peerWithSource(attributes: PeerAttributes, remoteAddress: string | undefined): PeerAttributes {
  const source = remoteAddress === undefined ? null : parseAddress(remoteAddress);
  return Object.freeze({ ...attributes, source: source ?? UNKNOWN_SOURCE });
}
