/**
 * An outbound listener's front door: plain HTTP from the local service
 * (on loopback: the config loader refuses another address unless
 * `unsafeListen` allows it), forwarded over mTLS to one upstream through a
 * pool that presents the service certificate and checks who answers
 * (src/upstream/pool.ts). The service never touches a certificate.
 *
 * A config reload that keeps the listen address reconfigures it in place:
 * a new pool (upstream, serverName, expect, limits, certificate) for new
 * requests; requests in flight finish on the old one, which then closes.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Pool } from "undici";
import type { Metrics } from "../admin/metrics.js";
import type { Limits, OutboundConfig } from "../config/schema.js";
import type { PeerAttributes } from "../identity/attributes.js";
import { upstreamRequestHeaders } from "../http/forwarded-headers.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { listenOn } from "../net/listen.js";
import { newConnection, type Connection } from "../proxy/connection.js";
import type { Exchange } from "../proxy/exchange.js";
import { applyServerLimits, FrontEnd, http1Body, httpServerOptions } from "../proxy/front-end.js";
import type { CertStore, ClientTlsOptions } from "../tls/cert-store.js";
import { createMtlsPool } from "../upstream/pool.js";

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

export class OutboundListener {
  readonly server: Server;
  name: string;
  private pool: Pool;
  private frontEnd: FrontEnd;
  private unsubscribe: () => void;

  constructor(private options: OutboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    this.frontEnd = this.newFrontEnd(options);
    this.pool = createMtlsPool(config, limits, certStore.current.clientOptions);
    this.unsubscribe = this.follow(certStore);
    this.server = createServer(httpServerOptions(limits));
    this.frontEnd.serve(this.server);
  }

  /** Takes a reloaded config for the same address (see above). */
  reconfigure(options: OutboundOptions): void {
    const previous = this.options;
    this.options = options;
    this.name = options.config.name;
    const frontEnd = this.newFrontEnd(options);
    this.frontEnd.detach(this.server);
    frontEnd.serve(this.server);
    this.frontEnd = frontEnd;
    applyServerLimits(this.server, options.limits);
    if (options.certStore !== previous.certStore) {
      this.unsubscribe();
      this.unsubscribe = this.follow(options.certStore);
    }
    this.replacePool(options.certStore.current.clientOptions);
  }

  private newFrontEnd(options: OutboundOptions): FrontEnd {
    return new FrontEnd({
      name: options.config.name,
      limits: options.limits,
      metrics: options.metrics,
      logger: options.logger.child({ listener: options.config.name }),
      accessLog: options.accessLog,
      openConnection: (socket) => this.openConnection(socket),
      handle: (exchange, req) => this.handle(exchange, req),
    });
  }

  /** New material: new connections present the new certificate and trust the new CA. */
  private follow(certStore: CertStore): () => void {
    return certStore.subscribe((next) => this.replacePool(next.clientOptions));
  }

  /** New requests go to a new pool; the old one finishes its in-flight requests, then closes. */
  private replacePool(tls: ClientTlsOptions): void {
    const previous = this.pool;
    this.pool = createMtlsPool(this.options.config, this.options.limits, tls);
    previous.close().catch(() => undefined);
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.options.config.listen, `outbound listener "${this.name}"`);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.unsubscribe();
    await this.frontEnd.drain(this.server, timeoutMs);
    await this.pool.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    this.server.close();
    this.server.closeAllConnections();
    await this.pool.destroy().catch(() => undefined);
  }

  private openConnection(socket: Socket): Connection {
    const remote = socket.remoteAddress ?? "";
    const log = this.options.accessLog?.connection({ listener: this.name, remote, peer: null }) ?? null;
    return newConnection(remote, null, NO_ATTRIBUTES, log);
  }

  private handle(exchange: Exchange, req: IncomingMessage): void {
    if (exchange.path.charCodeAt(0) !== 0x2f) {
      return exchange.reject({ code: "GP_ERR_BAD_REQUEST", reason: "request-target is not origin-form (must start with /)" });
    }
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, { remoteAddress: null, xfcc: null, requestId: exchange.requestId });
    exchange.forward(this.pool, exchange.path, headers, http1Body(req));
  }
}
