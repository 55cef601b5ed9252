/**
 * The upstreams guardpost forwards to, with the same limits: keep-alive,
 * bounded, the configured connect, header and body timeouts.
 *
 * - Inbound routes forward to a local service: HTTP/1.1 over TCP or a unix
 *   socket (an undici Pool), or HTTP/2 with prior knowledge (h2c://).
 * - Outbound listeners forward over mTLS: guardpost presents the service
 *   certificate, verifies the server against tls.ca and serverName, and
 *   checks the server certificate against `expect` before any request byte
 *   is sent. The server chooses h2 or http/1.1 by ALPN (`NegotiatedUpstream`).
 */
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { Dispatcher } from "undici";
import type { buildConnector as BuildConnector, Pool as UndiciPool } from "undici";
import { anyOf } from "../acl/principal.js";
import type { Limits, OutboundConfig, UpstreamTarget } from "../config/schema.js";
import { peerAttributesFromCertificate } from "../identity/peer.js";
import type { ClientTlsOptions } from "../tls/cert-store.js";
import { classifyUpstreamError, tlsAlertOf, UpstreamIdentityError, UpstreamProtocolError, UpstreamTlsAlertError } from "./errors.js";
import { Http2Upstream } from "./h2.js";
import { failDispatch, PoolUpstream, type Upstream, type UpstreamRequest } from "./upstream.js";
import { createRequire } from "node:module";

// The two classes from their own modules rather than undici's index, which also loads fetch, WebSocket,
// caches, mocks and Node's bundled undici (through a global getter): measured, the index takes about
// 140 ms at start-up on the bench VM against 50 ms for these two (bench/startup.js).
const load = createRequire(import.meta.url);
const Pool = load("undici/lib/dispatcher/pool.js") as typeof UndiciPool;
type Pool = UndiciPool;
const buildConnector = load("undici/lib/core/connect.js") as typeof BuildConnector;

/** Connections per upstream at most; beyond it requests queue in the pool. */
const MAX_UPSTREAM_CONNECTIONS = 1024;
/** How long an idle upstream connection is kept; under the 5 s that Node's own servers keep one. */
const UPSTREAM_KEEP_ALIVE_MS = 4_000;

function poolOptions(limits: Limits) {
  return {
    connections: MAX_UPSTREAM_CONNECTIONS,
    pipelining: 1,
    connectTimeout: limits.upstreamConnectTimeout,
    headersTimeout: limits.upstreamResponseTimeout,
    bodyTimeout: limits.upstreamBodyTimeout,
    keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS,
  };
}

/** The upstream of an inbound route: the local service. */
export function createServiceUpstream(target: UpstreamTarget, limits: Limits): Upstream {
  if (target.kind === "h2c") return new Http2Upstream({ origin: target.origin, limits, idleMs: UPSTREAM_KEEP_ALIVE_MS });
  if (target.kind === "unix") return new PoolUpstream(new Pool("http://localhost", { ...poolOptions(limits), socketPath: target.socketPath }));
  return new PoolUpstream(new Pool(target.origin, poolOptions(limits)));
}

/** The upstream of an outbound listener, presenting `tls`. */
export function createMtlsUpstream(config: OutboundConfig, limits: Limits, tls: ClientTlsOptions): Upstream {
  return new NegotiatedUpstream(config, limits, tls);
}

/** Checks the server certificate on a connected socket against `expect`; null when it matches (or nothing is expected). */
function identityProblem(config: OutboundConfig, socket: TLSSocket): UpstreamIdentityError | null {
  if (config.expect.length === 0) return null;
  const peer = peerAttributesFromCertificate(socket.getPeerCertificate());
  if (anyOf(config.expect)(peer)) return null;
  const subject = [...(peer.OU ?? []).map((v) => `OU=${v}`), ...(peer.CN ?? []).map((v) => `CN=${v}`)].join(",") || "(no OU or CN)";
  return new UpstreamIdentityError(`the upstream's certificate (${subject}) matches none of expect: [${config.expect.map((p) => p.text).join(", ")}]`);
}

/**
 * An mTLS connection to an outbound upstream offering `protocols` by ALPN.
 * The identity check runs when the handshake completes, before anyone else
 * hears of the connection, so no request byte reaches a server that fails it.
 */
function connectMtls(config: OutboundConfig, tls: ClientTlsOptions, protocols: readonly string[], alerts: AlertRecorder): TLSSocket {
  const url = new URL(config.upstream);
  const socket = tlsConnect({
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 443),
    servername: config.serverName,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: tls.minVersion,
    rejectUnauthorized: true,
    ALPNProtocols: [...protocols],
  });
  alerts.watch(socket);
  socket.once("secureConnect", () => {
    const problem = identityProblem(config, socket);
    if (problem !== null) socket.destroy(problem);
  });
  return socket;
}

/** How long after a TLS alert on one connection a closed connection of the same upstream is put down to it. */
const ALERT_WINDOW_MS = 5_000;

/**
 * The TLS alerts an upstream's connections received. Under TLS 1.3 a server
 * refuses a client certificate after the client's handshake is complete: the
 * alert arrives as an error on the socket, and the request that was sent
 * meanwhile fails only with "the other side closed" (undici reports the close,
 * not the error before it). The alert is kept here so that failure can say
 * which alert it was.
 */
class AlertRecorder {
  private last: { readonly alert: string; readonly at: number } | null = null;

  watch(socket: TLSSocket): void {
    socket.prependListener("error", (err) => {
      const alert = tlsAlertOf(err);
      if (alert !== undefined) this.last = { alert, at: Date.now() };
    });
  }

  /** `err`, or the alert that explains it when it is a closed connection shortly after one. */
  explain(err: Error): Error {
    if (this.last === null || Date.now() - this.last.at > ALERT_WINDOW_MS || tlsAlertOf(err) !== undefined) return err;
    return classifyUpstreamError(err).kind === "reset" ? new UpstreamTlsAlertError(this.last.alert) : err;
  }
}

/** `handler` with its errors passed through `explain` first. */
function explainingHandler(handler: Dispatcher.DispatchHandler, explain: (err: Error) => Error): Dispatcher.DispatchHandler {
  return {
    onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
    onRequestUpgrade: (controller, statusCode, headers, socket) => handler.onRequestUpgrade?.(controller, statusCode, headers, socket),
    onResponseStart: (controller, statusCode, headers, statusMessage) => handler.onResponseStart?.(controller, statusCode, headers, statusMessage),
    onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
    onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
    onResponseError: (controller, error) => handler.onResponseError?.(controller, explain(error)),
  };
}

/**
 * An outbound upstream whose protocol its server picks by ALPN: the first
 * request opens a connection offering h2 and http/1.1 and learns the answer;
 * from then on requests go to an HTTP/2 session or an HTTP/1.1 pool. A pool
 * lives as long as the TLS material it presents, so a server that changes
 * what it speaks is asked again at the next rotation.
 */
export class NegotiatedUpstream implements Upstream {
  private protocol: "h2" | "http/1.1" | null = null;
  private asking: Promise<void> | null = null;
  private readonly h2: Http2Upstream;
  private readonly h1: PoolUpstream;
  private readonly alerts = new AlertRecorder();

  constructor(
    private readonly config: OutboundConfig,
    private readonly limits: Limits,
    private readonly tls: ClientTlsOptions,
  ) {
    this.h2 = new Http2Upstream({ origin: config.upstream, limits, idleMs: UPSTREAM_KEEP_ALIVE_MS, createConnection: () => connectMtls(config, tls, ["h2"], this.alerts) });
    this.h1 = new PoolUpstream(this.http1Pool());
  }

  /** Until the server has answered, a gRPC call is let through; a server that then picks HTTP/1.1 gets none. */
  get speaksH2(): boolean {
    return this.protocol !== "http/1.1";
  }

  /** Upgrades always go over HTTP/1.1 (see `send`). */
  readonly carriesUpgrade = true;

  dispatch(request: UpstreamRequest, outer: Dispatcher.DispatchHandler): void {
    const handler = explainingHandler(outer, (err) => this.alerts.explain(err));
    this.send(request, handler);
  }

  private send(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    // A WebSocket handshake needs HTTP/1.1 whatever the server prefers: the pool's connections offer only
    // http/1.1 by ALPN (a server that does not serve it refuses the handshake: a 502).
    if (request.upgrade !== undefined) return this.h1.dispatch(request, handler);
    if (this.protocol === "h2") return this.h2.dispatch(request, handler);
    if (this.protocol === "http/1.1") {
      if (request.needsH2) return failDispatch(handler, new UpstreamProtocolError("the upstream speaks HTTP/1.1, which cannot carry a gRPC call"));
      return this.h1.dispatch(request, handler);
    }
    this.asking ??= this.ask().finally(() => {
      this.asking = null;
    });
    this.asking.then(
      () => this.send(request, handler),
      (err: Error) => failDispatch(handler, err),
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.h2.close(), this.h1.close()]);
  }

  async destroy(): Promise<void> {
    await Promise.all([this.h2.destroy(), this.h1.destroy()]);
  }

  /** Connects once offering both protocols and keeps the server's choice; the connection is closed again. */
  private ask(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connectMtls(this.config, this.tls, ["h2", "http/1.1"], this.alerts);
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error("connecting to the upstream timed out"), { code: "UND_ERR_CONNECT_TIMEOUT" })), this.limits.upstreamConnectTimeout);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      // Registered after the identity check's listener, so a server that fails it is never answered.
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        if (socket.destroyed) return;
        this.protocol = socket.alpnProtocol === "h2" ? "h2" : "http/1.1";
        socket.end();
        resolve();
      });
    });
  }

  private http1Pool(): Pool {
    const { config, limits, tls } = this;
    const connectTls = buildConnector({
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: config.serverName,
      rejectUnauthorized: true,
      minVersion: tls.minVersion,
      timeout: limits.upstreamConnectTimeout,
    });
    const connect: BuildConnector.connector = (opts, callback) => {
      // undici takes the SNI, and the name it verifies, from a request's Host header when one is sent:
      // the configured serverName must decide both, whatever Host is forwarded.
      connectTls({ ...opts, servername: config.serverName }, (err, socket) => {
        if (err || socket === null) return callback(err ?? new Error("connect failed"), null);
        this.alerts.watch(socket as TLSSocket);
        const problem = identityProblem(config, socket as TLSSocket);
        if (problem !== null) {
          socket.destroy();
          return callback(problem, null);
        }
        callback(null, socket);
      });
    };
    return new Pool(config.upstream, { ...poolOptions(limits), connect });
  }
}
