/**
 * What one listener records for each exchange when it ends, whichever way it
 * ended: guardpost_requests_total, the duration histogram, the per-entry and
 * shadow decision counters, upstream failures (a metric and a warning line),
 * and the access line when `log.access` is on. A WebSocket tunnel is
 * recorded when it closes: its line has the tunnel's whole life and the
 * bytes it carried; the duration histogram gets the handshake (up to the
 * 101), so that long-lived tunnels do not swamp request latencies.
 */
import type { ListenerRequestMetrics, Metrics } from "../admin/metrics.js";
import type { AccessLog } from "../log/access-log.js";
import type { Logger } from "../log/logger.js";
import type { Exchange } from "./exchange.js";

export class Accounting {
  private readonly counts: ListenerRequestMetrics;

  constructor(
    readonly listener: string,
    private readonly metrics: Metrics,
    /** Null when the access log is off: then nothing per request is prepared for it. */
    readonly accessLog: AccessLog | null,
    private readonly logger: Logger,
  ) {
    this.counts = metrics.forListener(listener);
  }

  record(exchange: Exchange): void {
    const { counts } = this;
    const seconds = (performance.now() - exchange.startedAt) / 1000;
    const tunnel = exchange.tunnel;
    counts.request(exchange.method, exchange.decision, exchange.status, exchange.protocol);
    counts.duration.observe(tunnel === null ? seconds : (tunnel.openedAt - exchange.startedAt) / 1000);
    const { route, shadow, outcome } = exchange;
    if (route !== "") {
      counts.entryDecision(route, exchange.entry, exchange.decision);
      if (shadow !== null) counts.shadowDecision(route, shadow.allow, shadow.allow === (exchange.decision === "allow"));
    }
    if (outcome?.kind === "upstream_failed") {
      const { failure } = outcome;
      this.metrics.upstreamError(this.listener, failure.kind);
      this.logger.warn({ event: "upstream_failed", requestId: exchange.requestId, route: route || undefined, kind: failure.kind }, failure.reason);
    }
    const log = exchange.connection.log;
    if (this.accessLog === null || log === null) return;
    this.accessLog.request(log, {
      requestId: exchange.requestId,
      protocol: exchange.protocol,
      method: exchange.method,
      path: exchange.path,
      route,
      entry: exchange.entry,
      decision: exchange.decision,
      status: exchange.status,
      durationMs: Math.round(seconds * 1_000_000) / 1000,
      shadow: shadow === null ? undefined : { decision: shadow.allow ? "allow" : "deny", entry: shadow.entry },
      bytesFromClient: tunnel?.bytesFromClient,
      bytesToClient: tunnel?.bytesToClient,
      closedBy: tunnel?.closedBy,
    });
  }
}
