/**
 * The inbound listener: terminates mTLS, authorizes every request against
 * its route's ACL, and forwards what is allowed.
 *
 * One request: handshake (the cert store supplies the context) -> peer
 * identity once per connection -> normalize the target -> route -> decide
 * -> forwarded headers -> undici -> metrics and the access line on finish.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Metrics } from "../admin/metrics.js";
import type { InboundConfig, Limits } from "../config/schema.js";
import { sendError, sendRawError } from "../http/error-response.js";
import { Exchange, ExchangeRecorder } from "../http/exchange.js";
import { connectionsCheckingInterval, drainServer, listenOn } from "../http/listen.js";
import { upstreamRequestHeaders } from "../http/forwarded-headers.js";
import { normalizeTarget } from "../http/path.js";
import { peerIdentity, type PeerIdentity } from "../identity/connection.js";
import type { Logger } from "../log/logger.js";
import type { CertStore } from "../tls/cert-store.js";
import { handshakeFailure } from "../tls/handshake-failure.js";
import { forward } from "../upstream/forward.js";
import type { RouteTable } from "./routes.js";

/** What guardpost keeps per TLS connection, on the socket under this symbol. */
const CONNECTION = Symbol("guardpost.connection");

interface ConnectionState {
  readonly identity: PeerIdentity;
  /** Access lines for this connection carry the peer's identity without re-serializing it per request. */
  readonly logger: Logger;
  readonly openedAt: number;
  readonly remoteAddress: string;
}

type GuardedSocket = TLSSocket & { [CONNECTION]?: ConnectionState | null };

/** A client's own request id is kept when it is a plausible id, else replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host header. With
 * two, the route and the upstream could each read a different one.
 */
function hostHeaderProblem(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (hosts > 1) return "more than one Host header";
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return "an HTTP/1.1 request without a Host header";
  return null;
}

export interface InboundOptions {
  readonly config: InboundConfig;
  readonly limits: Limits;
  readonly certStore: CertStore;
  readonly routes: RouteTable;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly accessLog: boolean;
}

export class InboundListener {
  readonly server: Server;
  readonly name: string;
  private draining = false;
  private readonly logger: Logger;
  private readonly recorder: ExchangeRecorder;

  constructor(private readonly options: InboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    this.logger = options.logger.child({ listener: config.name });
    this.recorder = new ExchangeRecorder(config.name, options.metrics, options.accessLog);
    this.server = createServer(
      {
        ...certStore.serverOptions,
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: limits.headersTimeout,
        maxHeaderSize: limits.maxHeaderSize,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        keepAliveTimeout: limits.idleTimeout,
        // Node enforces headersTimeout/requestTimeout only when it sweeps connections; the default sweep is 30 s.
        connectionsCheckingInterval: connectionsCheckingInterval(limits),
        noDelay: true,
        insecureHTTPParser: false,
        // A missing Host is answered by onRequest, with guardpost's JSON body, log line and metric.
        requireHostHeader: false,
      },
      this.onRequest,
    );
    this.server.maxConnections = limits.maxConnections;
    this.server.on("tlsClientError", this.onTlsClientError);
    this.server.on("clientError", this.onClientError);
    this.server.on("secureConnection", this.onSecureConnection);
    certStore.onChange(() => this.server.setSecureContext(certStore.serverOptions));
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.options.config.listen, `inbound listener "${this.name}"`);
  }

  /** Stops accepting and lets in-flight requests finish; answers on busy connections carry `Connection: close`. */
  drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    return drainServer(this.server, timeoutMs);
  }

  private readonly onSecureConnection = (socket: TLSSocket): void => {
    this.options.metrics.connectionOpened(this.name);
    socket.once("close", () => this.options.metrics.connectionClosed(this.name));
  };

  private readonly onTlsClientError = (err: Error & { code?: string }, socket: TLSSocket): void => {
    const failure = handshakeFailure(err, socket.authorizationError);
    this.options.metrics.handshakeFailure(this.name, failure.reason);
    this.logger.warn({ event: "tls_handshake_failed", reason: failure.reason, detail: failure.detail, remote: socket.remoteAddress }, `TLS handshake refused: ${failure.reason} (${failure.detail})`);
  };

  /** Errors Node's HTTP parser raises before a request exists: malformed requests, headers too large, timeouts. */
  private readonly onClientError = (err: Error & { code?: string }, socket: Socket): void => {
    // Only HTTP parse errors and request timeouts get an answer. Anything else here is a TLS-level
    // failure (a handshake timeout among them), which onTlsClientError has already counted and logged.
    const httpError = err.code !== undefined && (err.code.startsWith("HPE_") || err.code === "ERR_HTTP_REQUEST_TIMEOUT");
    if (!httpError || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = err.code === "HPE_HEADER_OVERFLOW" ? "GP_ERR_HEADERS_TOO_LARGE" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "GP_ERR_REQUEST_TIMEOUT" : "GP_ERR_BAD_REQUEST";
    const requestId = randomUUID();
    const reason = code === "GP_ERR_BAD_REQUEST" ? `malformed HTTP request (${err.code ?? "parse error"})` : code === "GP_ERR_REQUEST_TIMEOUT" ? "request not received in time" : "request headers too large";
    const status = sendRawError(socket, code, requestId, reason);
    this.options.metrics.forListener(this.name).request("OTHER", "error", status);
    this.logger.info({ event: "bad_request", requestId, status, detail: err.code, remote: socket.remoteAddress }, reason);
  };

  private connectionState(socket: GuardedSocket): ConnectionState | null {
    const identity = peerIdentity(socket);
    if (!identity) {
      socket[CONNECTION] = null;
      return null;
    }
    const { attributes } = identity;
    const state: ConnectionState = {
      identity,
      logger: this.logger.child({ peer: { cn: attributes.CN?.[0], ou: attributes.OU, serial: identity.serial }, remote: socket.remoteAddress }),
      openedAt: Date.now(),
      remoteAddress: socket.remoteAddress ?? "",
    };
    socket[CONNECTION] = state;
    return state;
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const socket = req.socket as GuardedSocket;
    const conn = socket[CONNECTION] === undefined ? this.connectionState(socket) : socket[CONNECTION];
    const method = req.method!;
    const target = req.url!;
    const clientRequestId = req.headers["x-request-id"];
    const requestId = typeof clientRequestId === "string" && REQUEST_ID.test(clientRequestId) ? clientRequestId : randomUUID();
    const exchange = new Exchange(this.recorder, startedAt, method, target, requestId, conn?.logger ?? this.logger);

    const now = Date.now();
    if (conn === null || now >= conn.identity.notAfterMs) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_PEER_EXPIRED", method, target, requestId, "the client certificate of this connection has expired; reconnect with a valid one", true));
      return;
    }
    const hostProblem = hostHeaderProblem(req);
    if (hostProblem !== null) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_BAD_REQUEST", method, target, requestId, hostProblem));
      return;
    }
    const normalized = normalizeTarget(target);
    if (!normalized.ok) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_BAD_REQUEST", method, target, requestId, normalized.reason));
      return;
    }
    const path = normalized.path;
    exchange.path = path;
    const route = this.options.routes.select(req.headers.host, path);
    if (route === null) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_NOT_FOUND", method, path, requestId, "no route matches this host and path"));
      return;
    }
    exchange.route = route.name;
    // The ACL in service now decides; a reload during this request does not change its outcome.
    const acl = route.acl.current;
    const decision = acl.evaluate(method, path, conn.identity.attributes);
    exchange.entry = decision.entry;
    if (!decision.allow) {
      if ((route.config.mode ?? acl.mode) === "enforce") {
        exchange.decision = "deny";
        exchange.complete(sendError(res, "GP_ERR_FORBIDDEN", method, path, requestId));
        return;
      }
      exchange.decision = "would_deny";
    }
    if (this.draining || now - conn.openedAt >= this.maxConnectionAge) res.shouldKeepAlive = false;
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, {
      remoteAddress: conn.remoteAddress,
      xfcc: conn.identity.xfcc,
      requestId,
    });
    forward(route.upstream, req, res, exchange, normalized.query === "" ? path : path + normalized.query, headers);
  };

  private get maxConnectionAge(): number {
    return this.options.limits.maxConnectionAge === 0 ? Infinity : this.options.limits.maxConnectionAge;
  }
}
