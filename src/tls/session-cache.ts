/**
 * TLS 1.2 resumption by session id, for clients that send no ticket
 * extension. Node leaves OpenSSL's internal server cache off, so without
 * this such a client pays a full handshake every time (measured: 0%
 * resumed). TLS 1.3 and TLS 1.2 clients with tickets resume by ticket and
 * never need it.
 *
 * Bounded in entries and in time, like OpenSSL's own cache: the oldest
 * stored session goes first. A session carries the peer's verified chain,
 * so the cache is emptied when whom we trust changes; OpenSSL would refuse
 * an old one anyway, since the session id context follows the trust
 * (cert-store.ts). A resumed connection meets the same peer checks as a new
 * one (expiry, revocation) before it is served.
 */
import type { Server } from "node:tls";

/** Entries kept: a session is about 0.5 KiB with an ECDSA P-256 client chain, so about 5 MiB at most. */
const MAX_ENTRIES = 10_000;
/** OpenSSL's and Node's default session lifetime. */
const LIFETIME_MS = 300_000;
/** `ssl_version` in the DER of an SSL_SESSION (RFC-less but stable: OpenSSL's ssl_asn1.c). */
const TLS13 = 0x0304;

interface Entry {
  readonly data: Buffer;
  readonly expiresAt: number;
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = MAX_ENTRIES,
    private readonly lifetimeMs = LIFETIME_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Serves `server`'s session-id lookups from this cache. */
  attach(server: Server): void {
    server.on("newSession", this.onNewSession);
    server.on("resumeSession", this.onResumeSession);
  }

  /** Forgets every session (trust changed). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private readonly onNewSession = (id: Buffer, data: Buffer, done: () => void): void => {
    // A TLS 1.3 session comes back as a ticket, never by id: storing it would only push out TLS 1.2 ones.
    if (sessionVersion(data) !== TLS13) {
      const key = id.toString("hex");
      this.entries.delete(key);
      this.entries.set(key, { data, expiresAt: this.now() + this.lifetimeMs });
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    done();
  };

  private readonly onResumeSession = (id: Buffer, done: (err: Error | null, data: Buffer | null) => void): void => {
    const key = id.toString("hex");
    const entry = this.entries.get(key);
    if (entry === undefined) return done(null, null);
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return done(null, null);
    }
    done(null, entry.data);
  };
}

/**
 * The protocol version recorded in a DER-encoded SSL_SESSION, or null when
 * the bytes are not laid out as expected: SEQUENCE { version INTEGER 1,
 * ssl_version INTEGER, ... }.
 */
export function sessionVersion(der: Buffer): number | null {
  if (der.length < 4 || der[0] !== 0x30) return null;
  let at = 1;
  const lengthByte = der[at++]!;
  if (lengthByte & 0x80) at += lengthByte & 0x7f; // long form: that many length bytes follow
  if (der[at] !== 0x02 || der[at + 1] !== 0x01 || der[at + 3] !== 0x02 || der[at + 4] !== 0x02) return null;
  return der.length >= at + 7 ? der.readUInt16BE(at + 5) : null;
}
