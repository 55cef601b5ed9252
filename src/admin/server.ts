/**
 * The admin listener: /healthz (the process runs), /readyz (material and
 * ACLs in service are valid, listeners up, not draining), /metrics
 * (Prometheus text). Plain HTTP, loopback by default.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ListenAddress } from "../config/schema.js";
import { listenOn } from "../net/listen.js";

/** What /metrics serves: one process's registry, or the aggregate of a cluster's workers. */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface Readiness {
  /** Null when ready, else why not (shown in the /readyz body). */
  notReadyReason(): string | null;
}

export class AdminServer {
  readonly server: Server;

  constructor(
    private readonly listenAddress: ListenAddress,
    private readonly metrics: MetricsSource,
    private readonly readiness: Readiness,
  ) {
    this.server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`internal error: ${(err as Error).message}\n`);
      });
    });
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.listenAddress, "admin listener");
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
      res.end("method not allowed\n");
      return;
    }
    switch (path) {
      case "/healthz":
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok\n");
        return;
      case "/readyz": {
        const reason = this.readiness.notReadyReason();
        res.writeHead(reason === null ? 200 : 503, { "content-type": "text/plain" });
        res.end(reason === null ? "ready\n" : `not ready: ${reason}\n`);
        return;
      }
      case "/metrics": {
        const body = await this.metrics.render();
        res.writeHead(200, { "content-type": this.metrics.contentType });
        res.end(body);
        return;
      }
      default:
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found: try /healthz, /readyz or /metrics\n");
    }
  }
}
