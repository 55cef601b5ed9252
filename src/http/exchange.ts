/**
 * One request and its outcome, from headers received to response finished,
 * and the recorder that accounts for it once (metrics and the access line)
 * when it completes, whichever path completed it.
 */
import type { Decision, ListenerRequestMetrics, Metrics } from "../admin/metrics.js";
import type { Logger } from "../log/logger.js";
import type { UpstreamFailure } from "../upstream/errors.js";

export class Exchange {
  /** Response status; 0 until known. 499 when the client went away first. */
  status = 0;
  decision: Decision = "allow";
  /** The ACL entry that decided, e.g. "GET /user/{id}". */
  entry: string | null = null;
  route = "";
  failure: UpstreamFailure | null = null;
  private completed = false;

  constructor(
    readonly recorder: ExchangeRecorder,
    readonly startedAt: number,
    readonly method: string,
    /** The normalized path once known; the raw target before that. */
    public path: string,
    readonly requestId: string,
    /** Carries the connection's bindings (peer identity, remote address). */
    readonly logger: Logger,
  ) {}

  complete(status: number): void {
    if (this.completed) return;
    this.completed = true;
    this.status = status;
    this.recorder.record(this);
  }
}

/** Accounts for a listener's exchanges: request counters, duration histogram, per-entry counters, access line. */
export class ExchangeRecorder {
  private readonly counts: ListenerRequestMetrics;

  constructor(
    readonly listener: string,
    private readonly metrics: Metrics,
    private readonly accessLog: boolean,
  ) {
    this.counts = metrics.forListener(listener);
  }

  record(exchange: Exchange): void {
    const { counts } = this;
    const seconds = (performance.now() - exchange.startedAt) / 1000;
    counts.request(exchange.method, exchange.decision, exchange.status);
    counts.duration.observe(seconds);
    if (exchange.route !== "") counts.entryDecision(exchange.route, exchange.entry, exchange.decision);
    if (!this.accessLog) return;
    exchange.logger.info(
      {
        requestId: exchange.requestId,
        method: exchange.method,
        path: exchange.path,
        ...(exchange.route === "" ? {} : { route: exchange.route, entry: exchange.entry }),
        decision: exchange.decision,
        status: exchange.status,
        durationMs: Math.round(seconds * 1_000_000) / 1000,
      },
      "request",
    );
  }

  upstreamFailure(exchange: Exchange, failure: UpstreamFailure): void {
    this.metrics.upstreamError(this.listener, failure.kind);
    exchange.logger.warn({ event: "upstream_failed", requestId: exchange.requestId, route: exchange.route || undefined, kind: failure.kind }, failure.reason);
  }
}
