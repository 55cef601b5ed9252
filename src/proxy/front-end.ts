/**
 * What every listener shares between a connection and its pipeline, for
 * both front doors, HTTP/1.1 and HTTP/2: the server options that carry the
 * limits, the connection's state (made once, at its first request), the
 * request id, the Exchange each request or stream becomes, parser errors
 * answered through an Exchange of their own (counted, timed and logged like
 * any other request), WebSocket handshakes (an Exchange whose answer may
 * be a 101 and a tunnel, src/proxy/tunnel.ts), HTTP/2 sessions' idle
 * timeout, and drain.
 *
 * A listener supplies two things: how a connection's state is made (inbound
 * reads the peer's certificate; outbound has no peer) and the pipeline that
 * decides each exchange.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server as HttpServer, ServerOptions, ServerResponse } from "node:http";
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream, ServerOptions as Http2ServerOptions } from "node:http2";
import type { Socket } from "node:net";
import type { Metrics } from "../admin/metrics.js";
import type { Limits } from "../config/schema.js";
import type { AnswerCode } from "../errors.js";
import { headerCountExceeded, http2HeaderCountExceeded, nodeMaxHeadersCount } from "../http/header-count.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { Accounting } from "./accounting.js";
import { whenIdle, type Connection, type DrainState } from "./connection.js";
import { Exchange, type Rejection } from "./exchange.js";
import { isLingering } from "./linger.js";
import { Http1Request, Http2Request, isGrpc, isWebSocketUpgrade, type ProxiedRequest, type TrailerLimit } from "./request.js";
import { GrpcResponse, Http2Response, HttpResponse, RawSocketResponse, UpgradeResponse, type TunnelHost } from "./response.js";
import type { Tunnel, TunnelEnd } from "./tunnel.js";

export interface FrontEndOptions {
  /** The listener's name, in metrics and logs. */
  readonly name: string;
  readonly limits: Limits;
  readonly metrics: Metrics;
  /** The listener's logger. */
  readonly logger: Logger;
  /** Null when `log.access` is off. */
  readonly accessLog: AccessLog | null;
  /** Makes a connection's state, once, when its first request (or parse error) arrives. */
  readonly openConnection: (socket: Socket) => Connection;
  /** The pipeline: rejects or forwards the exchange a request became. */
  readonly handle: (exchange: Exchange, request: ProxiedRequest) => void;
}

/** The state of a socket's connection, kept on the socket (and on its HTTP/2 session, to spare a proxy lookup per stream). */
const CONNECTION = Symbol("guardpost.connection");
type TrackedSocket = Socket & { [CONNECTION]?: Connection };
type TrackedSession = ServerHttp2Session & { [CONNECTION]?: Connection };

/** A client's own request id is kept when it is a plausible id, else replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdFrom(value: string | string[] | undefined): string {
  return typeof value === "string" && REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * How often Node sweeps connections for headersTimeout and requestTimeout
 * (its default, 30 s, would let a slowloris client linger that long): often
 * enough for the header limit, at most once a second, and once a second when
 * the header limit is 0 (off), where Math.min would sweep every millisecond.
 */
export function connectionsCheckingInterval(limits: Pick<Limits, "headersTimeout">): number {
  return limits.headersTimeout > 0 ? Math.min(1000, limits.headersTimeout) : 1000;
}

/** Node's HTTP/1.1 server options for `limits`, shared by every listener. */
export function httpServerOptions(limits: Limits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.idleTimeout,
    // Node enforces headersTimeout/requestTimeout only when it sweeps connections; the default sweep is 30 s.
    connectionsCheckingInterval: connectionsCheckingInterval(limits),
    noDelay: true,
    insecureHTTPParser: false,
    // A missing Host is answered by the pipeline, with guardpost's JSON body, log line and metric.
    requireHostHeader: false,
  };
}

/**
 * node:http2 server options for `limits`. Node advertises no stream or header
 * limits of its own: without these a client may hold any number of streams
 * and send header lists of any size (HPACK bombs). Rapid reset
 * (CVE-2023-44487), CONTINUATION floods and PING/SETTINGS floods end the
 * offending session in nghttp2 itself.
 */
export function http2ServerOptions(limits: Limits): Http2ServerOptions {
  return {
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderSize, enablePush: false },
    // A session that sends this many malformed frames, or whose streams are refused this often, is closed.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };
}

/**
 * Applies `limits` to an HTTP/1.1 server that is already listening (a
 * config reload): what Node reads per connection or per request changes for
 * new connections; the TLS handshake timeout and the sweep interval keep
 * the values the listener was bound with.
 */
export function applyServerLimits(server: HttpServer, limits: Limits): void {
  server.headersTimeout = limits.headersTimeout;
  server.requestTimeout = limits.requestTimeout;
  server.keepAliveTimeout = limits.idleTimeout;
  // Node reads the server's maxHeaderSize when it sets up each connection's parser.
  (server as HttpServer & { maxHeaderSize: number }).maxHeaderSize = limits.maxHeaderSize;
}

/** How often a draining server looks for connections that finished their last response. */
const DRAIN_SWEEP_MS = 50;

function ignoreStreamError(): void {
  // A stream's error (the client reset it) ends its exchange through the stream's "close"; unhandled, it would end the process.
}

/**
 * RFC 9112 section 6.1: chunked framing is HTTP/1.1's; a Transfer-Encoding in
 * an HTTP/1.0 request is faulty framing (an HTTP/1.0 hop would read the body
 * differently), answered 400 with the connection closed, as nginx does. An
 * HTTP/0.9 request line (no version) has no headers to judge and cannot
 * carry guardpost's answer; it is refused too rather than forwarded as 1.1.
 */
function http1VersionRefusal(req: IncomingMessage): Rejection | null {
  if (req.httpVersionMajor !== 1) return HTTP_09;
  if (req.httpVersionMinor === 0 && req.headers["transfer-encoding"] !== undefined) return HTTP_10_CHUNKED;
  return null;
}

const HTTP_09: Rejection = Object.freeze({ code: "GP_ERR_BAD_REQUEST", reason: "an HTTP/0.9 request line (no HTTP version); only HTTP/1.0 and 1.1 are served", close: true });
const HTTP_10_CHUNKED: Rejection = Object.freeze({ code: "GP_ERR_BAD_REQUEST", reason: "Transfer-Encoding in an HTTP/1.0 request (chunked framing is HTTP/1.1's)", close: true });

export class FrontEnd implements DrainState {
  accounting!: Accounting;
  private drainBegun = false;
  private maxConnectionAge!: number;
  private tooManyHeaders!: Rejection;
  private tooManyTrailers!: Rejection;
  /** Open HTTP/2 sessions, told to go away on drain. */
  private readonly sessions = new Set<ServerHttp2Session>();
  /** Sockets Node handed over with an upgrade request, until they close: out of HTTP, so the server's own closing misses them. */
  private readonly upgraded = new Set<Socket>();
  /** Open WebSocket tunnels, closed at the drain deadline and on stop. */
  private readonly tunnels = new Set<Tunnel>();
  /** Set once every tunnel must close (the drain deadline passed, or stop): one that opens after is closed at once. */
  private tunnelsClosedFor: TunnelEnd | null = null;

  constructor(private options: FrontEndOptions) {
    this.derive(options);
  }

  /**
   * A config reload: new requests and streams are handled, counted and
   * logged with `options`; those under way finish with what they began with.
   * `servers` take the new limits for what Node reads per connection or
   * session (see applyServerLimits).
   */
  reconfigure(options: FrontEndOptions, servers: { http1?: HttpServer; http2?: Http2Server }): void {
    this.options = options;
    this.derive(options);
    if (servers.http1) {
      applyServerLimits(servers.http1, options.limits);
      servers.http1.maxHeadersCount = nodeMaxHeadersCount(options.limits.maxHeaderCount);
    }
    if (servers.http2) {
      servers.http2.updateSettings(http2ServerOptions(options.limits).settings!);
      servers.http2.setTimeout(options.limits.idleTimeout);
    }
  }

  private derive(options: FrontEndOptions): void {
    this.accounting = new Accounting(options.name, options.metrics, options.accessLog, options.logger);
    this.maxConnectionAge = options.limits.maxConnectionAge === 0 ? Infinity : options.limits.maxConnectionAge;
    this.tooManyHeaders = Object.freeze({ code: "GP_ERR_HEADERS_TOO_LARGE", reason: `more than ${options.limits.maxHeaderCount} header fields` });
    this.tooManyTrailers = Object.freeze({ code: "GP_ERR_HEADERS_TOO_LARGE", reason: `more than ${options.limits.maxHeaderCount} trailer fields`, close: true });
  }

  /** Whether drain has begun: the last answer owed on each connection then says `Connection: close`. */
  get draining(): boolean {
    return this.drainBegun;
  }

  /** Takes `server`'s requests and parser errors. */
  serve(server: HttpServer): void {
    // One above limits.maxHeaderCount, so a request over it reaches onRequest detectably (see http/header-count.ts).
    server.maxHeadersCount = nodeMaxHeadersCount(this.options.limits.maxHeaderCount);
    server.on("request", this.onRequest);
    server.on("upgrade", this.onUpgrade);
    server.on("clientError", this.onClientError);
  }

  /** Takes the streams of `server`'s sessions (the core API: no compat objects, about 40% cheaper per request). */
  serveHttp2(server: Http2Server): void {
    server.on("session", this.onSession);
    server.on("stream", this.onStream);
    server.on("sessionError", this.onSessionError);
    // The idle timeout is per session (node:http2 passes the session that went quiet; the types say nothing).
    server.setTimeout(this.options.limits.idleTimeout);
    server.on("timeout", this.onSessionIdle as () => void);
  }

  /** The state of `socket`'s connection, made on first use. */
  connectionOf(socket: Socket): Connection {
    const tracked = socket as TrackedSocket;
    let conn = tracked[CONNECTION];
    if (conn === undefined) {
      conn = this.options.openConnection(socket);
      conn.drain = this;
      tracked[CONNECTION] = conn;
    }
    return conn;
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const conn = this.connectionOf(req.socket);
    // After an answer that ends the connection, nothing more is processed (RFC 9112 section 9.6):
    // this request's answer could never be sent.
    if (conn.closing) return;
    const exchange = new Exchange(this.accounting, conn, new HttpResponse(res), "http1", req.method!, req.url!, requestIdFrom(req.headers["x-request-id"]), startedAt);
    if (this.drainBegun || Date.now() - conn.openedAt >= this.maxConnectionAge) res.shouldKeepAlive = false;
    const refused = http1VersionRefusal(req) ?? (headerCountExceeded(req.rawHeaders, this.options.limits.maxHeaderCount) ? this.tooManyHeaders : null);
    if (refused !== null) return exchange.reject(refused);
    // Only a chunked body can carry trailers.
    this.options.handle(exchange, new Http1Request(req, req.headers["transfer-encoding"] === undefined ? null : this.trailerLimit(exchange)));
  };

  /**
   * A request with `Upgrade` and `Connection: upgrade`, which Node hands
   * over with its socket instead of answering it. A WebSocket handshake
   * goes through the pipeline as a GET of its path and, allowed and
   * accepted by the upstream with a 101, becomes a tunnel; any other
   * Upgrade (h2c above all) is refused there with 400 and never forwarded.
   * Either way the connection is no longer HTTP keep-alive: each answer
   * but a 101 ends it.
   */
  private readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const startedAt = performance.now();
    // Node removed its own listeners: an error on this socket is ours to handle, or it would end the process.
    socket.on("error", ignoreStreamError);
    const conn = this.connectionOf(socket);
    if (conn.closing) {
      socket.destroy();
      return;
    }
    this.upgraded.add(socket);
    socket.once("close", () => this.upgraded.delete(socket));
    // Bytes the client sent behind its handshake: WebSocket frames for the upstream, once it has answered 101.
    if (head.length > 0) socket.unshift(head);
    const websocket = isWebSocketUpgrade(req.headers.upgrade ?? "");
    const response = new UpgradeResponse(socket, this.tunnelHost(conn));
    const exchange = new Exchange(this.accounting, conn, response, websocket ? "websocket" : "http1", req.method!, req.url!, requestIdFrom(req.headers["x-request-id"]), startedAt);
    const refused = http1VersionRefusal(req) ?? (headerCountExceeded(req.rawHeaders, this.options.limits.maxHeaderCount) ? this.tooManyHeaders : null);
    if (refused !== null) return exchange.reject(refused);
    const request = new Http1Request(req, null, true);
    // On every listener, inbound and outbound alike: an upgrade to anything but WebSocket, or a malformed handshake, goes no further.
    if (request.framingProblem !== null) return exchange.reject({ code: "GP_ERR_BAD_REQUEST", reason: request.framingProblem });
    this.options.handle(exchange, request);
  };

  /** Where a tunnel on `conn` is tracked: what closes it (idle timeout, the peer's notAfter, drain, a trust change). */
  private tunnelHost(conn: Connection): TunnelHost {
    return {
      options: { idleMs: this.options.limits.idleTimeout, closeAtMs: conn.peer?.notAfterMs ?? Infinity },
      opened: (tunnel) => {
        this.tunnels.add(tunnel);
        conn.tunnel = tunnel;
        if (conn.refusal !== null) tunnel.close("peer_untrusted");
        else if (this.tunnelsClosedFor !== null) tunnel.close(this.tunnelsClosedFor);
      },
      closed: (tunnel) => {
        this.tunnels.delete(tunnel);
        if (conn.tunnel === tunnel) conn.tunnel = null;
      },
    };
  }

  /** Closes every tunnel for `reason`, and every handed-over socket still waiting for its answer. */
  private closeTunnels(reason: TunnelEnd): void {
    this.tunnelsClosedFor = reason;
    for (const tunnel of this.tunnels) tunnel.close(reason);
    for (const socket of this.upgraded) socket.destroy();
  }

  /** The limit on `exchange`'s trailers: over it, the exchange answers 431 and its upstream request is cancelled. */
  private trailerLimit(exchange: Exchange): TrailerLimit {
    return { max: this.options.limits.maxHeaderCount, overflow: () => exchange.reject(this.tooManyTrailers) };
  }

  private readonly onSession = (session: ServerHttp2Session): void => {
    this.sessions.add(session);
    session.once("close", () => this.sessions.delete(session));
    if (this.drainBegun) session.close();
  };

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    const startedAt = performance.now();
    stream.on("error", ignoreStreamError);
    const session = stream.session as TrackedSession;
    // The session's socket is a proxy onto the TLS socket: the state lands on the socket, where a trust check finds it.
    session[CONNECTION] ??= this.connectionOf(session.socket as Socket);
    const conn = session[CONNECTION];
    const grpc = isGrpc(headers["content-type"]);
    const response = grpc ? new GrpcResponse(stream) : new Http2Response(stream);
    const requestId = requestIdFrom(headers["x-request-id"]);
    const exchange = new Exchange(this.accounting, conn, response, grpc ? "grpc" : "h2", headers[":method"] ?? "", headers[":path"] ?? "", requestId, startedAt);
    if (this.drainBegun || Date.now() - conn.openedAt >= this.maxConnectionAge) response.closeAfter();
    if (http2HeaderCountExceeded(rawHeaders, this.options.limits.maxHeaderCount)) return exchange.reject(this.tooManyHeaders);
    const request = new Http2Request(stream, headers, rawHeaders, stream.endAfterHeaders ? null : this.trailerLimit(exchange));
    if (request.body !== null) this.limitBodyTime(exchange, stream);
    this.options.handle(exchange, request);
  };

  /**
   * requestTimeout for an HTTP/2 request body, as Node applies it to
   * HTTP/1.1: a stream whose body has not ended in time gets 408 (or, once
   * its answer has begun, is reset), and its upstream request is cancelled.
   */
  private limitBodyTime(exchange: Exchange, stream: ServerHttp2Stream): void {
    const limit = this.options.limits.requestTimeout;
    if (limit === 0) return;
    const timer = setTimeout(() => {
      if (exchange.ended) return;
      if (exchange.response.headersSent) stream.close();
      else exchange.reject({ code: "GP_ERR_REQUEST_TIMEOUT", reason: "request not received in time" });
    }, limit);
    stream.once("end", () => clearTimeout(timer));
    stream.once("close", () => clearTimeout(timer));
  }

  /**
   * A session that went quiet closes, unless it has a stream open (a gRPC
   * stream waiting for its next message). One that has already gone away
   * (nghttp2 sent GOAWAY after abuse) is destroyed: Node 20 would otherwise
   * leave its socket open.
   */
  private readonly onSessionIdle = (session: ServerHttp2Session): void => {
    const conn = (session as TrackedSession)[CONNECTION];
    if (session.closed || conn === undefined || conn.inFlight === 0) session.destroy();
  };

  private readonly onSessionError = (err: Error & { code?: string }): void => {
    this.options.metrics.http2SessionError(this.options.name);
    this.options.logger.warn({ event: "http2_session_error", detail: err.code, error: err.message }, `an HTTP/2 session was ended: ${err.message}`);
  };

  /**
   * Errors Node's HTTP parser raises outside a request's handler: malformed
   * requests, headers too large, timeouts. Each becomes an Exchange of its
   * own, answered only after every answer before it on the connection has
   * been sent (RFC 9112 section 9.3.2: responses go in request order), so a
   * parse error never replaces the answer to a request the upstream has
   * already carried out.
   */
  private readonly onClientError = (err: Error & { code?: string }, socket: Socket): void => {
    // A connection in its staged close has been answered; what it still sends is discarded, not parsed.
    if (isLingering(socket)) return;
    // Only HTTP parse errors and request timeouts get an answer. Anything else here is a TLS-level
    // failure (a handshake timeout among them), which the TLS listener has already counted and logged.
    const code = err.code ?? "";
    const timeout = code === "ERR_HTTP_REQUEST_TIMEOUT";
    if (!(timeout || code.startsWith("HPE_")) || !socket.writable) {
      socket.destroy();
      return;
    }
    const conn = this.connectionOf(socket);
    // An answer already ends this connection; it closes after that answer.
    if (conn.closing) return;
    if (code === "HPE_CLOSED_CONNECTION") {
      // Bytes after a request that asked to close the connection: RFC 9112 section 9.6 says to answer
      // that request and process nothing more. Node closes the connection after its answer.
      return;
    }
    const answer = parseErrorAnswer(code);
    const latest = conn.latest;
    if (latest !== null && !latest.ended && latest.receiving) {
      // The error is in a request whose body was still arriving (malformed, or too slow): that
      // exchange gets the answer and its upstream request is cancelled, unless its answer has
      // begun, where a second status line would corrupt it.
      if (latest.response.headersSent) socket.destroy();
      else latest.reject({ ...answer, close: true });
      return;
    }
    whenIdle(conn, () => {
      const exchange = new Exchange(this.accounting, conn, new RawSocketResponse(socket), "http1", "", "", randomUUID(), performance.now());
      this.options.logger.info({ event: "bad_request", requestId: exchange.requestId, detail: code, remote: socket.remoteAddress }, answer.reason);
      exchange.reject({ ...answer, close: true });
    });
  };

  /**
   * Stops accepting and lets in-flight requests finish: answers on busy
   * HTTP/1.1 connections carry `Connection: close`, HTTP/2 sessions get a
   * GOAWAY and finish their streams, WebSocket tunnels go on. What is left
   * after `timeoutMs` is closed, tunnels included.
   */
  drain(server: HttpServer, timeoutMs: number): Promise<void> {
    this.drainBegun = true;
    for (const session of this.sessions) session.close();
    return new Promise((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        for (const session of this.sessions) session.destroy();
        this.closeTunnels("drain");
      }, timeoutMs);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  /** Closes every HTTP/2 session and WebSocket tunnel now (HTTP/1.1 connections are the server's to close). */
  destroySessions(): void {
    for (const session of this.sessions) session.destroy();
    this.closeTunnels("shutdown");
  }
}

function parseErrorAnswer(code: string): { code: AnswerCode; reason: string } {
  if (code === "HPE_HEADER_OVERFLOW") return { code: "GP_ERR_HEADERS_TOO_LARGE", reason: "request headers too large" };
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return { code: "GP_ERR_REQUEST_TIMEOUT", reason: "request not received in time" };
  return { code: "GP_ERR_BAD_REQUEST", reason: `malformed HTTP request (${code})` };
}
