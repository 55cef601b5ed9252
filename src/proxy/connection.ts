/**
 * What guardpost keeps per client connection (an HTTP/1.1 socket or an
 * HTTP/2 session), computed once when the connection's first request
 * arrives: the peer's identity and what the ACL judges, the access log's
 * connection fields, and the bookkeeping that lets a connection be closed at
 * the right moment (its peer's notAfter, a trust change, drain).
 */
import type { AnswerCode } from "../errors.js";
import type { PeerAttributes } from "../identity/attributes.js";
import type { PeerIdentity } from "../identity/connection.js";
import type { AccessLogConnection } from "../log/access-log.js";
import type { Exchange } from "./exchange.js";
import type { Tunnel } from "./tunnel.js";

export interface Connection {
  readonly remoteAddress: string;
  /** Date.now() when the connection's first request arrived. */
  readonly openedAt: number;
  /** The verified client certificate's identity; null on outbound listeners. */
  readonly peer: PeerIdentity | null;
  /** What the ACL judges for requests on this connection. */
  readonly caller: PeerAttributes;
  /** The access log's fields for this connection; null when the access log is off. */
  readonly log: AccessLogConnection | null;
  /**
   * Set when the connection must serve no further request (the peer is no
   * longer trusted after a CA or CRL change): the answer each request gets.
   */
  refusal: AnswerCode | null;
  /**
   * An answer on this connection ends it (guardpost refused a request with
   * `close`): requests after that one are not processed (RFC 9112 section
   * 9.6), since their answers could never be sent.
   */
  closing: boolean;
  /** Whether the listener is draining; set by the front end that serves the connection. */
  drain: DrainState | null;
  /** Exchanges begun and not yet finished. */
  inFlight: number;
  /** Runs once when `inFlight` next drops to 0 (a parse error waiting for the answers before it). */
  whenIdle: (() => void) | null;
  /** The exchange begun last on this connection, ended or not; null before the first. */
  latest: Exchange | null;
  /** The WebSocket tunnel this connection became, while it is open. */
  tunnel: Tunnel | null;
}

/** A listener's drain, as its connections see it. */
export interface DrainState {
  readonly draining: boolean;
}

export function newConnection(remoteAddress: string, peer: PeerIdentity | null, caller: PeerAttributes, log: AccessLogConnection | null): Connection {
  return { remoteAddress, openedAt: Date.now(), peer, caller, log, refusal: null, closing: false, drain: null, inFlight: 0, whenIdle: null, latest: null, tunnel: null };
}

/**
 * The peer of `conn` is no longer trusted (a CA or CRL change): its next
 * request is answered 403 and the connection closed; a tunnel, which has no
 * next request, is closed now.
 */
export function distrust(conn: Connection): void {
  conn.refusal = "GP_ERR_PEER_UNTRUSTED";
  conn.tunnel?.close("peer_untrusted");
}

/** Marks `exchange` begun on `conn`. */
export function exchangeBegun(conn: Connection, exchange: Exchange): void {
  conn.inFlight++;
  conn.latest = exchange;
}

/** Marks an exchange finished on `conn`; runs the idle callback when it was the last. */
export function exchangeEnded(conn: Connection): void {
  conn.inFlight--;
  if (conn.inFlight === 0 && conn.whenIdle !== null) {
    const run = conn.whenIdle;
    conn.whenIdle = null;
    run();
  }
}

/** Runs `fn` now if no exchange is in flight on `conn`, else when the last one finishes. */
export function whenIdle(conn: Connection, fn: () => void): void {
  if (conn.inFlight === 0) fn();
  else conn.whenIdle = fn;
}
