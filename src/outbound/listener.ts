/**
 * An outbound listener: plain HTTP from the local service (loopback by
 * default), forwarded over mTLS to one upstream. guardpost presents the
 * service certificate, verifies the server against tls.ca and serverName,
 * and checks the server certificate against `expect` before any request byte
 * is sent. The service never touches a certificate.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { buildConnector, Pool } from "undici";
import { anyOf, type Principal } from "../acl/principal.js";
import type { Metrics } from "../admin/metrics.js";
import { isLoopback } from "../config/load.js";
import type { Limits, OutboundConfig } from "../config/schema.js";
import { sendError } from "../http/error-response.js";
import { Exchange, ExchangeRecorder } from "../http/exchange.js";
import { upstreamHost, upstreamRequestHeaders } from "../http/forwarded-headers.js";
import { headerCountExceeded, nodeMaxHeadersCount } from "../http/header-count.js";
import { connectionsCheckingInterval, drainServer, listenOn } from "../http/listen.js";
import { peerAttributesFromCertificate } from "../identity/peer.js";
import type { Logger } from "../log/logger.js";
import type { CertStore } from "../tls/cert-store.js";
import type { TlsMaterial } from "../tls/material.js";
import { forward } from "../upstream/forward.js";

/** Raised by the connector when the server's certificate does not match `expect`; nothing has been sent. */
export class UpstreamIdentityError extends Error {
  readonly code = "GP_UPSTREAM_IDENTITY";
  constructor(message: string) {
    super(message);
    this.name = "UpstreamIdentityError";
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const MAX_UPSTREAM_CONNECTIONS = 256;

export interface OutboundOptions {
  readonly config: OutboundConfig;
  readonly limits: Limits;
  readonly certStore: CertStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly accessLog: boolean;
}

export class OutboundListener {
  readonly server: Server;
  readonly name: string;
  private pool: Pool;
  private draining = false;
  private readonly logger: Logger;
  private readonly recorder: ExchangeRecorder;
  private readonly expectText: string;
  /** hostile (issue 17): the Host sent upstream, computed once; null passes the client's. */
  private readonly upstreamHost: string | null;

  constructor(private readonly options: OutboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    this.logger = options.logger.child({ listener: config.name });
    this.recorder = new ExchangeRecorder(config.name, options.metrics, options.accessLog);
    this.expectText = config.expect.map((p) => p.text).join(", ");
    this.upstreamHost = upstreamHost(config);
    this.pool = this.createPool(certStore.material);
    // New material: new connections present the new certificate and trust the new CA.
    // The old pool finishes its in-flight requests, then closes.
    certStore.onChange((material) => {
      const previous = this.pool;
      this.pool = this.createPool(material);
      previous.close().catch(() => undefined);
    });
    this.server = createServer(
      {
        maxHeaderSize: limits.maxHeaderSize,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        keepAliveTimeout: limits.idleTimeout,
        connectionsCheckingInterval: connectionsCheckingInterval(limits),
        noDelay: true,
      },
      this.onRequest,
    );
    // hostile (issue 17): one above limits.maxHeaderCount, so an overflow reaches onRequest detectably (see http/header-count.ts).
    this.server.maxHeadersCount = nodeMaxHeadersCount(limits.maxHeaderCount);
    if (!isLoopback(config.listen.host)) {
      this.logger.warn(
        { event: "outbound_not_loopback", listen: config.listen.text },
        `outbound listener "${config.name}" listens on ${config.listen.text}, beyond loopback: anything that can reach it can call ${config.upstream} with this service's identity`,
      );
    }
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.options.config.listen, `outbound listener "${this.name}"`);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    await drainServer(this.server, timeoutMs);
    await this.pool.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    await this.pool.destroy().catch(() => undefined);
  }

  private createPool(material: TlsMaterial): Pool {
    const { config, limits } = this.options;
    const connectTls = buildConnector({
      ca: material.caPem,
      cert: material.certPem,
      key: material.keyPem,
      servername: config.serverName,
      rejectUnauthorized: true,
      minVersion: material.paths.minVersion,
      timeout: limits.upstreamConnectTimeout,
    });
    const expected = config.expect.length === 0 ? null : anyOf(config.expect);
    const expectText = this.expectText;
    const connect: buildConnector.connector = (opts, callback) => {
      // hostile (issue 17): undici takes the SNI and the name it verifies from the request's Host
      // when one is sent; the configured serverName must decide both, whatever Host is forwarded.
      connectTls({ ...opts, servername: config.serverName }, (err, socket) => {
        if (err || socket === null) return callback(err ?? new Error("connect failed"), null);
        if (expected !== null) {
          const peer = peerAttributesFromCertificate((socket as TLSSocket).getPeerCertificate());
          if (!expected(peer)) {
            socket.destroy();
            const subject = [...(peer.OU ?? []).map((v) => `OU=${v}`), ...(peer.CN ?? []).map((v) => `CN=${v}`)].join(",") || "(no OU or CN)";
            return callback(new UpstreamIdentityError(`the upstream's certificate (${subject}) matches none of expect: [${expectText}]`), null);
          }
        }
        callback(null, socket);
      });
    };
    return new Pool(config.upstream, {
      connect,
      connections: MAX_UPSTREAM_CONNECTIONS,
      pipelining: 1,
      headersTimeout: limits.upstreamResponseTimeout,
      bodyTimeout: limits.upstreamBodyTimeout,
    });
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const method = req.method!;
    const target = req.url!;
    const clientRequestId = req.headers["x-request-id"];
    const requestId = typeof clientRequestId === "string" && REQUEST_ID.test(clientRequestId) ? clientRequestId : randomUUID();
    const exchange = new Exchange(this.recorder, startedAt, method, target, requestId, this.logger);
    if (target.charCodeAt(0) !== 0x2f) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_BAD_REQUEST", method, target, requestId, "request-target is not origin-form (must start with /)"));
      return;
    }
    // hostile (issue 17): too many header fields; lead, port this check into the front end.
    if (headerCountExceeded(req.rawHeaders, this.options.limits.maxHeaderCount)) {
      exchange.decision = "error";
      exchange.complete(sendError(res, "GP_ERR_HEADERS_TOO_LARGE", method, target, requestId, `more than ${this.options.limits.maxHeaderCount} header fields`));
      return;
    }
    if (this.draining) res.shouldKeepAlive = false;
    // hostile (issue 17): the upstream's authority as Host, unless preserveHost; lead, port to the new front door.
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, { remoteAddress: null, xfcc: null, requestId, host: this.upstreamHost });
    forward(this.pool, req, res, exchange, target, headers);
  };
}

export type { Principal };
