/**
 * The inbound listener's front doors: one TLS listener that terminates mTLS
 * with the material in service, refuses and counts failed handshakes, and
 * by ALPN hands each connection to HTTP/1.1 (Node's https server, exactly as
 * it serves HTTP/1.1 alone) or to HTTP/2 (an http2 server that never listens
 * itself). Every request or stream goes to the shared front end and the
 * inbound pipeline (src/inbound/pipeline.ts); each connection's peer
 * identity is made once.
 *
 * When whom we trust changes (a new CA bundle or CRL), every open
 * connection's peer is judged again: a connection whose peer is no longer
 * trusted answers its next request with 403 and closes.
 *
 * A config reload that keeps the listen address reconfigures the listener
 * in place (`reconfigure`): new requests get the new routes, limits and log
 * settings; connections and requests already open keep theirs.
 */
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Metrics } from "../admin/metrics.js";
import type { InboundConfig, Limits } from "../config/schema.js";
import type { PeerAttributes } from "../identity/attributes.js";
import { peerIdentity } from "../identity/connection.js";
import { peerWithSource } from "../identity/source-address.js";
import { peerLogFields, type AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { listenOn } from "../net/listen.js";
import { distrust, newConnection, type Connection } from "../proxy/connection.js";
import { FrontEnd, http2ServerOptions, httpServerOptions, type FrontEndOptions } from "../proxy/front-end.js";
import { trustChanged, type CertStore } from "../tls/cert-store.js";
import { handshakeFailure } from "../tls/handshake-failure.js";
import type { TlsMaterial } from "../tls/material.js";
import { peerTrustProblem, presentedChain } from "../tls/peer-trust.js";
import { answerRefusal, clientCertificateRefusal } from "../tls/refusal.js";
import { SessionCache } from "../tls/session-cache.js";
import { InboundPipeline } from "./pipeline.js";
import type { RouteTable } from "./routes.js";

export interface InboundOptions {
  readonly config: InboundConfig;
  readonly limits: Limits;
  readonly certStore: CertStore;
  readonly routes: RouteTable;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Null when `log.access` is off. */
  readonly accessLog: AccessLog | null;
}

const NO_ATTRIBUTES: PeerAttributes = Object.freeze({});

type ConnectionListener = (this: Server, socket: TLSSocket) => void;

export class InboundListener {
  readonly server: Server;
  name: string;
  private logger: Logger;
  private readonly frontEnd: FrontEnd;
  /** HTTP/2 connections' server; it never listens: the TLS listener hands it the sockets that chose h2. */
  private readonly http2: Http2Server;
  /** The https server's own HTTP/1.1 connection handler, called for sockets that chose HTTP/1.1. */
  private readonly http1: ConnectionListener;
  private readonly offersHttp1: boolean;
  /** Open TLS connections, for judging their peers again when trust changes. */
  private readonly sockets = new Set<TLSSocket>();
  /** TLS 1.2 sessions by id, for clients without tickets. */
  private readonly sessions = new SessionCache();
  private unsubscribe: () => void;

  constructor(private options: InboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    this.logger = options.logger.child({ listener: config.name });
    this.offersHttp1 = config.protocols.includes("http/1.1");
    this.frontEnd = new FrontEnd(this.frontEndOptions(options));
    this.server = createServer({
      ...certStore.current.serverOptions,
      requestCert: true,
      // The certificate is verified as always, and judged in onSecureConnection, the one place a connection
      // passes before HTTP is attached: a refused client gets an answer naming why instead of a reset
      // (src/tls/refusal.ts). Nothing is attached to a connection that fails.
      rejectUnauthorized: false,
      handshakeTimeout: limits.headersTimeout,
      ALPNProtocols: [...config.protocols],
      ...httpServerOptions(limits),
    });
    this.server.maxConnections = limits.maxConnections;
    // https.Server attaches HTTP/1.1 to every TLS connection through its one "secureConnection" listener;
    // it is taken out here and called only for connections that chose HTTP/1.1.
    const listeners = this.server.listeners("secureConnection") as ConnectionListener[];
    if (listeners.length !== 1) throw new Error(`expected the https server's one connection listener, found ${listeners.length}`);
    this.http1 = listeners[0]!;
    this.server.removeAllListeners("secureConnection");
    this.server.on("secureConnection", this.onSecureConnection);
    this.http2 = createHttp2Server(http2ServerOptions(limits));
    this.frontEnd.serve(this.server);
    this.frontEnd.serveHttp2(this.http2);
    this.server.on("tlsClientError", this.onTlsClientError);
    this.sessions.attach(this.server);
    this.unsubscribe = this.follow(certStore);
  }

  /**
   * Takes a reloaded config for the same address: a new pipeline for new
   * requests, the new limits for new connections, and the TLS material of
   * `options.certStore` (a new CA there judges open connections again, as a
   * rotation does). The protocols offered stay as the listener was bound.
   */
  reconfigure(options: InboundOptions): void {
    const previous = this.options;
    this.options = options;
    this.name = options.config.name;
    this.logger = options.logger.child({ listener: options.config.name });
    this.frontEnd.reconfigure(this.frontEndOptions(options), { http1: this.server, http2: this.http2 });
    this.server.maxConnections = options.limits.maxConnections;
    if (options.certStore !== previous.certStore) {
      this.unsubscribe();
      this.unsubscribe = this.follow(options.certStore);
      const next = options.certStore.current;
      this.server.setSecureContext(next.serverOptions);
      if (trustChanged(next, previous.certStore.current)) this.judgePeersAgain(next.material);
    }
  }

  private frontEndOptions(options: InboundOptions): FrontEndOptions {
    const pipeline = new InboundPipeline(options.routes);
    return {
      name: options.config.name,
      limits: options.limits,
      metrics: options.metrics,
      logger: this.logger,
      accessLog: options.accessLog,
      openConnection: (socket) => this.openConnection(socket as TLSSocket),
      handle: (exchange, req) => pipeline.handle(exchange, req),
    };
  }

  /** Applies every reload of `certStore` to this listener's server and open connections. */
  private follow(certStore: CertStore): () => void {
    return certStore.subscribe((next, previous) => {
      this.server.setSecureContext(next.serverOptions);
      if (trustChanged(next, previous)) this.judgePeersAgain(next.material);
    });
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.options.config.listen, `inbound listener "${this.name}"`);
  }

  /** Stops accepting and lets in-flight requests finish; answers on busy connections carry `Connection: close`. */
  drain(timeoutMs: number): Promise<void> {
    this.unsubscribe();
    return this.frontEnd.drain(this.server, timeoutMs);
  }

  /** Closes everything now. */
  stop(): void {
    this.unsubscribe();
    this.server.close();
    this.server.closeAllConnections();
    this.frontEnd.destroySessions();
  }

  /**
   * A handshake completed. Its client certificate is judged here, before
   * anything else sees the connection: a missing or unverified one is
   * counted, logged and answered with the reason, and never reaches HTTP.
   * A verified one is counted, tracked and handed to the protocol it chose.
   */
  private readonly onSecureConnection = (socket: TLSSocket): void => {
    const refusal = clientCertificateRefusal(socket);
    if (refusal !== null) {
      this.options.metrics.handshakeFailure(this.name, refusal.reason);
      this.logger.warn(
        { event: "tls_handshake_failed", reason: refusal.reason, detail: refusal.detail, alert: refusal.alert, remote: socket.remoteAddress, ...(refusal.presented ? { certificate: refusal.presented } : {}) },
        `TLS client refused: ${refusal.reason} (${refusal.detail}): ${refusal.message}`,
      );
      answerRefusal(socket, refusal);
      return;
    }
    // The gauge a connection was counted under, even if a reload renames the listener meanwhile.
    const { name, options } = this;
    options.metrics.connectionOpened(name);
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      options.metrics.connectionClosed(name);
    });
    if (socket.alpnProtocol === "h2") this.http2.emit("connection", socket);
    // A client that named no protocol speaks HTTP/1.1, if the listener offers it.
    else if (this.offersHttp1) this.http1.call(this.server, socket);
    else socket.destroy();
  };

  private readonly onTlsClientError = (err: Error & { code?: string }, socket: TLSSocket): void => {
    const failure = handshakeFailure(err, socket.authorizationError);
    this.options.metrics.handshakeFailure(this.name, failure.reason);
    this.logger.warn({ event: "tls_handshake_failed", reason: failure.reason, detail: failure.detail, remote: socket.remoteAddress }, `TLS handshake refused: ${failure.reason} (${failure.detail})`);
  };

  /** A connection's state, made at its first request: the peer's identity, read once from the handshake. */
  private openConnection(socket: TLSSocket): Connection {
    const identity = peerIdentity(socket);
    const remote = socket.remoteAddress ?? "";
    const log = this.options.accessLog?.connection({ listener: this.name, remote, peer: identity && peerLogFields(identity.attributes, identity.serial) }) ?? null;
    // The ACL judges the certificate's attributes plus the source address (SRC=), parsed once per connection.
    return newConnection(remote, identity, peerWithSource(identity?.attributes ?? NO_ATTRIBUTES, socket.remoteAddress), log);
  }

  /**
   * After a CA or CRL change: no stored session resumes, and every open
   * connection whose client certificate the new material no longer trusts
   * serves no further request.
   */
  private judgePeersAgain(material: TlsMaterial): void {
    this.sessions.clear();
    for (const socket of this.sockets) {
      const leaf = socket.getPeerX509Certificate();
      const problem = leaf === undefined ? "untrusted" : peerTrustProblem(presentedChain(leaf), material);
      if (problem === null) continue;
      const conn = this.frontEnd.connectionOf(socket);
      const tunnel = conn.tunnel !== null;
      distrust(conn);
      this.logger.info(
        { event: "connection_untrusted", remote: socket.remoteAddress, serial: conn.peer?.serial, problem },
        `a connection's client certificate is no longer trusted (${problem}); ${tunnel ? "its WebSocket tunnel is closed" : "it serves no further request"}`,
      );
    }
  }
}
