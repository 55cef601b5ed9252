/**
 * An outbound listener's front door: plain HTTP from the local service
 * (loopback by default), forwarded over mTLS to one upstream through a pool
 * that presents the service certificate and checks who answers
 * (src/upstream/pool.ts). The service never touches a certificate.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Pool } from "undici";
import type { Metrics } from "../admin/metrics.js";
import { isLoopback } from "../config/load.js";
import type { Limits, OutboundConfig } from "../config/schema.js";
import type { PeerAttributes } from "../identity/attributes.js";
import { upstreamRequestHeaders } from "../http/forwarded-headers.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import { listenOn } from "../net/listen.js";
import { newConnection, type Connection } from "../proxy/connection.js";
import type { Exchange } from "../proxy/exchange.js";
import { FrontEnd, http1Body, httpServerOptions } from "../proxy/front-end.js";
import type { CertStore } from "../tls/cert-store.js";
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
  readonly name: string;
  private pool: Pool;
  private readonly frontEnd: FrontEnd;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: OutboundOptions) {
    const { config, limits, certStore } = options;
    this.name = config.name;
    const logger = options.logger.child({ listener: config.name });
    this.frontEnd = new FrontEnd({
      name: config.name,
      limits,
      metrics: options.metrics,
      logger,
      accessLog: options.accessLog,
      openConnection: (socket) => this.openConnection(socket),
      handle: (exchange, req) => this.handle(exchange, req),
    });
    this.pool = createMtlsPool(config, limits, certStore.current.clientOptions);
    // New material: new connections present the new certificate and trust the new CA.
    // The old pool finishes its in-flight requests, then closes.
    this.unsubscribe = certStore.subscribe((next) => {
      const previous = this.pool;
      this.pool = createMtlsPool(config, limits, next.clientOptions);
      previous.close().catch(() => undefined);
    });
    this.server = createServer(httpServerOptions(limits));
    this.frontEnd.serve(this.server);
    if (!isLoopback(config.listen.host)) {
      logger.warn(
        { event: "outbound_not_loopback", listen: config.listen.text },
        `outbound listener "${config.name}" listens on ${config.listen.text}, beyond loopback: anything that can reach it can call ${config.upstream} with this service's identity`,
      );
    }
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
