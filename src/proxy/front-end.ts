/**
 * What every listener shares between a connection and its pipeline: the
 * server options that carry the limits, the connection's state (made once,
 * at its first request), the request id, the Exchange each request becomes,
 * parser errors answered through an Exchange of their own (counted, timed
 * and logged like any other request), and drain.
 *
 * A listener supplies two things: how a connection's state is made (inbound
 * reads the peer's certificate; outbound has no peer) and the pipeline that
 * decides each exchange.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server as HttpServer, ServerOptions, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Metrics } from "../admin/metrics.js";
import type { Limits } from "../config/schema.js";
import type { AnswerCode } from "../errors.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { Accounting } from "./accounting.js";
import { whenIdle, type Connection } from "./connection.js";
import { Exchange, type RequestBody } from "./exchange.js";
import { HttpResponse, RawSocketResponse } from "./response.js";

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
  /** The pipeline: rejects or forwards the exchange `req` became. */
  readonly handle: (exchange: Exchange, req: IncomingMessage) => void;
}

/** The state of a socket's connection, kept on the socket. */
const CONNECTION = Symbol("guardpost.connection");
type TrackedSocket = Socket & { [CONNECTION]?: Connection };

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

/** An HTTP/1.1 request's body, or null when it has none (no body is sent upstream then). */
export function http1Body(req: IncomingMessage): RequestBody | null {
  const length = req.headers["content-length"];
  if (length !== undefined) return length === "0" ? null : req;
  return req.headers["transfer-encoding"] !== undefined ? req : null;
}

/** How often a draining server looks for connections that finished their last response. */
const DRAIN_SWEEP_MS = 50;

export class FrontEnd {
  readonly accounting: Accounting;
  private draining = false;
  private readonly maxConnectionAge: number;

  constructor(private readonly options: FrontEndOptions) {
    this.accounting = new Accounting(options.name, options.metrics, options.accessLog, options.logger);
    this.maxConnectionAge = options.limits.maxConnectionAge === 0 ? Infinity : options.limits.maxConnectionAge;
  }

  /** Takes `server`'s requests and parser errors. */
  serve(server: HttpServer): void {
    server.on("request", this.onRequest);
    server.on("clientError", this.onClientError);
  }

  /** The state of `socket`'s connection, made on first use. */
  connectionOf(socket: Socket): Connection {
    const tracked = socket as TrackedSocket;
    let conn = tracked[CONNECTION];
    if (conn === undefined) {
      conn = this.options.openConnection(socket);
      tracked[CONNECTION] = conn;
    }
    return conn;
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const conn = this.connectionOf(req.socket);
    const exchange = new Exchange(this.accounting, conn, new HttpResponse(res), "http1", req.method!, req.url!, requestIdFrom(req.headers["x-request-id"]), startedAt);
    if (this.draining || Date.now() - conn.openedAt >= this.maxConnectionAge) res.shouldKeepAlive = false;
    this.options.handle(exchange, req);
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
    // Only HTTP parse errors and request timeouts get an answer. Anything else here is a TLS-level
    // failure (a handshake timeout among them), which the TLS listener has already counted and logged.
    const code = err.code ?? "";
    const timeout = code === "ERR_HTTP_REQUEST_TIMEOUT";
    if (!(timeout || code.startsWith("HPE_")) || !socket.writable) {
      socket.destroy();
      return;
    }
    const conn = this.connectionOf(socket);
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

  /** Stops accepting and lets in-flight requests finish; answers on busy connections carry `Connection: close`. */
  drain(server: HttpServer, timeoutMs: number): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
      const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}

function parseErrorAnswer(code: string): { code: AnswerCode; reason: string } {
  if (code === "HPE_HEADER_OVERFLOW") return { code: "GP_ERR_HEADERS_TOO_LARGE", reason: "request headers too large" };
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return { code: "GP_ERR_REQUEST_TIMEOUT", reason: "request not received in time" };
  return { code: "GP_ERR_BAD_REQUEST", reason: `malformed HTTP request (${code})` };
}
