/**
 * An outbound listener's front doors: plain HTTP from the local service
 * (loopback by default), HTTP/1.1 and HTTP/2 with prior knowledge (h2c, as
 * a gRPC client speaks) on the same port, told apart by the connection's
 * first bytes. Requests are forwarded over mTLS through an upstream that
 * presents the service certificate and checks who answers
 * (src/upstream/pool.ts). The service never touches a certificate. The
 * config loader refuses a listen address beyond loopback unless
 * `unsafeListen` allows it (and then warns).
 *
 * A config reload that keeps the listen address reconfigures it in place:
 * a new upstream (URL, serverName, expect, limits, certificate) for new
 * requests; requests in flight finish on the old one, which then closes.
 */
import { createServer, type Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { Metrics } from "../admin/metrics.js";
import type { Limits, OutboundConfig } from "../config/schema.js";
import { forwardableTrailers, upstreamHost, upstreamRequestHeaders } from "../http/forwarded-headers.js";
import type { PeerAttributes } from "../identity/attributes.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { listenOn } from "../net/listen.js";
import { newConnection, type Connection } from "../proxy/connection.js";
import type { Exchange } from "../proxy/exchange.js";
import { FrontEnd, http2ServerOptions, httpServerOptions, type FrontEndOptions } from "../proxy/front-end.js";
import type { ProxiedRequest } from "../proxy/request.js";
import type { CertStore, ClientTlsOptions } from "../tls/cert-store.js";
import { createMtlsUpstream } from "../upstream/pool.js";
import type { Upstream } from "../upstream/upstream.js";

export interface OutboundOptions {
  readonly config: OutboundConfig;
  readonly limits: Limits;
  readonly certStore: CertStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Null when `log.access` is off. */
  readonly accessLog: AccessLog | null;
}

const NO_ATTRIBUTES: PeerAttributes = Object.freeze({});

/** RFC 9113 section 3.4: how a client with prior knowledge of HTTP/2 opens the connection. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

type ConnectionListener = (this: Server, socket: Socket) => void;

export class OutboundListener {
  readonly server: Server;
  name: string;
  private upstream: Upstream;
  private readonly frontEnd: FrontEnd;
  /** HTTP/2 connections' server; it never listens: the HTTP server hands it the sockets that open with the HTTP/2 preface. */
  private readonly http2: Http2Server;
  /** The HTTP server's own connection handler, called for sockets that speak HTTP/1.1. */
  private readonly http1: ConnectionListener;
  private unsubscribe: () => void;
  /** The Host sent upstream (its authority), computed once per config; null passes the client's (preserveHost). */
  private upstreamHost: string | null;

  constructor(private options: OutboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    this.upstreamHost = upstreamHost(config);
    this.frontEnd = new FrontEnd(this.frontEndOptions(options));
    this.upstream = createMtlsUpstream(config, limits, certStore.current.clientOptions);
    this.unsubscribe = this.follow(certStore);
    this.server = createServer(httpServerOptions(limits));
    this.server.maxConnections = limits.maxConnections;
    // http.Server attaches HTTP/1.1 to every connection through its one "connection" listener; it is
    // taken out here and called only for connections that do not open with the HTTP/2 preface.
    const listeners = this.server.listeners("connection") as ConnectionListener[];
    if (listeners.length !== 1) throw new Error(`expected the http server's one connection listener, found ${listeners.length}`);
    this.http1 = listeners[0]!;
    this.server.removeAllListeners("connection");
    this.server.on("connection", this.onConnection);
    this.http2 = createHttp2Server(http2ServerOptions(limits));
    this.frontEnd.serve(this.server);
    this.frontEnd.serveHttp2(this.http2);
  }

  /** Takes a reloaded config for the same address (see above). */
  reconfigure(options: OutboundOptions): void {
    const previous = this.options;
    this.options = options;
    this.name = options.config.name;
    this.upstreamHost = upstreamHost(options.config);
    this.frontEnd.reconfigure(this.frontEndOptions(options), { http1: this.server, http2: this.http2 });
    this.server.maxConnections = options.limits.maxConnections;
    if (options.certStore !== previous.certStore) {
      this.unsubscribe();
      this.unsubscribe = this.follow(options.certStore);
    }
    this.replaceUpstream(options.certStore.current.clientOptions);
  }

  private frontEndOptions(options: OutboundOptions): FrontEndOptions {
    return {
      name: options.config.name,
      limits: options.limits,
      metrics: options.metrics,
      logger: options.logger.child({ listener: options.config.name }),
      accessLog: options.accessLog,
      openConnection: (socket) => this.openConnection(socket),
      handle: (exchange, request) => this.handle(exchange, request),
    };
  }

  /** New material: new connections present the new certificate and trust the new CA. */
  private follow(certStore: CertStore): () => void {
    return certStore.subscribe((next) => this.replaceUpstream(next.clientOptions));
  }

  /** New requests go to a new upstream; the old one finishes its in-flight requests, then closes. */
  private replaceUpstream(tls: ClientTlsOptions): void {
    const previous = this.upstream;
    this.upstream = createMtlsUpstream(this.options.config, this.options.limits, tls);
    void previous.close();
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.options.config.listen, `outbound listener "${this.name}"`);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.unsubscribe();
    await this.frontEnd.drain(this.server, timeoutMs);
    await this.upstream.close();
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    this.server.close();
    this.server.closeAllConnections();
    this.frontEnd.destroySessions();
    await this.upstream.destroy();
  }

  /**
   * Reads a new connection's first bytes: the HTTP/2 preface goes to the
   * HTTP/2 server, anything else (decided at the first byte that differs)
   * to HTTP/1.1. The bytes read are put back first.
   */
  private readonly onConnection = (socket: Socket): void => {
    let seen: Buffer = Buffer.alloc(0);
    const quiet = setTimeout(() => socket.destroy(), this.options.limits.headersTimeout || 10_000);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const length = Math.min(seen.length, HTTP2_PREFACE.length);
      const http2 = seen.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length));
      if (http2 && seen.length < HTTP2_PREFACE.length) return;
      clearTimeout(quiet);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      socket.unshift(seen);
      if (http2) {
        this.http2.emit("connection", socket);
      } else {
        this.http1.call(this.server, socket);
        // http.Server only listens for "data"; a socket paused here would stay paused.
        socket.resume();
      }
    };
    const onClose = () => clearTimeout(quiet);
    socket.on("data", onData);
    socket.once("close", onClose);
  };

  private openConnection(socket: Socket): Connection {
    const remote = socket.remoteAddress ?? "";
    const log = this.options.accessLog?.connection({ listener: this.name, remote, peer: null }) ?? null;
    return newConnection(remote, null, NO_ATTRIBUTES, log);
  }

  private handle(exchange: Exchange, request: ProxiedRequest): void {
    if (exchange.path.charCodeAt(0) !== 0x2f) {
      return exchange.reject({ code: "GP_ERR_BAD_REQUEST", reason: "request-target is not origin-form (must start with /)" });
    }
    const grpc = exchange.protocol === "grpc";
    const headers = upstreamRequestHeaders(request.rawHeaders, request.connection, {
      authority: request.authority,
      remoteAddress: null,
      xfcc: null,
      requestId: exchange.requestId,
      host: this.upstreamHost,
    });
    if (grpc) headers.push("te", "trailers");
    const body = request.body;
    exchange.forward(this.upstream, {
      method: exchange.method,
      path: exchange.path,
      headers,
      body,
      trailers: body !== null && this.upstream.speaksH2 ? () => forwardableTrailers(request.trailers()) : undefined,
      needsH2: grpc,
      upgrade: exchange.protocol === "websocket" ? "websocket" : undefined,
    });
  }
}
