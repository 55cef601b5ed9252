/**
 * Every metric guardpost exports, defined in this one file (the README's
 * "Admin endpoints and metrics" lists them).
 * Each instance has its own registry, so several proxies can run in one
 * process (tests, the demo). Label values are bounded: listener and route
 * names from the config, methods folded to a fixed set, ACL entry patterns,
 * never a raw request path.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { BatchedCounter, CellHistogram, type HistogramCell, type PendingCount } from "./request-metrics.js";

export type Decision = "allow" | "deny" | "error" | "would_deny";
export type ReloadKind = "tls" | "acl";
/** How a request reached guardpost: HTTP/1.1, an HTTP/2 stream, a gRPC call (over HTTP/2), a WebSocket upgrade. */
export type Protocol = "http1" | "h2" | "grpc" | "websocket";
const PROTOCOL_INDEX: Readonly<Record<Protocol, number>> = { http1: 0, h2: 1, grpc: 2, websocket: 3 };

const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]);

/** Methods are client-chosen tokens; unknown ones share one label value so clients cannot grow the series count. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

const METHOD_INDEX: ReadonlyMap<string, number> = new Map([...KNOWN_METHODS].map((method, i) => [method, i]));
const OTHER_METHOD_INDEX = KNOWN_METHODS.size;
const DECISIONS: readonly Decision[] = ["allow", "deny", "error", "would_deny"];
const DECISION_INDEX: Readonly<Record<Decision, number>> = { allow: 0, deny: 1, error: 2, would_deny: 3 };

/**
 * Per-request counting for one listener: every label set's cell is created on
 * first use and found again by a number (method, decision, status) or by the
 * route and entry strings the ACL itself holds.
 */
export class ListenerRequestMetrics {
  readonly duration: HistogramCell;
  private readonly requestCells = new Map<number, PendingCount>();
  private readonly entryCells = new Map<string, Map<string | null, PendingCount[]>>();
  private readonly shadowCells = new Map<string, PendingCount[]>();

  constructor(
    private readonly listener: string,
    private readonly requests: BatchedCounter<"listener" | "method" | "decision" | "code" | "protocol">,
    duration: CellHistogram,
    private readonly entries: BatchedCounter<"listener" | "route" | "entry" | "decision">,
    private readonly shadows: BatchedCounter<"listener" | "route" | "decision" | "agrees">,
  ) {
    this.duration = duration.cell({ listener });
  }

  /** Counts one request in guardpost_requests_total. */
  request(method: string, decision: Decision, code: number, protocol: Protocol): void {
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD_INDEX;
    const key = ((PROTOCOL_INDEX[protocol] * (OTHER_METHOD_INDEX + 1) + methodIndex) * DECISIONS.length + DECISION_INDEX[decision]) * 1000 + code;
    let cell = this.requestCells.get(key);
    if (cell === undefined) {
      cell = this.requests.cell({ listener: this.listener, method: methodLabel(method), decision, code: String(code), protocol });
      this.requestCells.set(key, cell);
    }
    cell.pending++;
  }

  /** Counts one decision of a route's shadow ACL in guardpost_shadow_decisions_total: what it decided, and whether that matches the ACL in force. */
  shadowDecision(route: string, allow: boolean, agrees: boolean): void {
    let cells = this.shadowCells.get(route);
    if (cells === undefined) {
      cells = new Array<PendingCount>(4);
      this.shadowCells.set(route, cells);
    }
    const index = (allow ? 2 : 0) + (agrees ? 1 : 0);
    cells[index] ??= this.shadows.cell({ listener: this.listener, route, decision: allow ? "allow" : "deny", agrees: String(agrees) });
    cells[index].pending++;
  }

  /** Counts one decision of an ACL entry (null: no entry decided) in guardpost_acl_decisions_total. */
  entryDecision(route: string, entry: string | null, decision: Decision): void {
    let byEntry = this.entryCells.get(route);
    if (byEntry === undefined) {
      byEntry = new Map();
      this.entryCells.set(route, byEntry);
    }
    let cells = byEntry.get(entry);
    if (cells === undefined) {
      cells = new Array<PendingCount>(DECISIONS.length);
      byEntry.set(entry, cells);
    }
    const index = DECISION_INDEX[decision];
    cells[index] ??= this.entries.cell({ listener: this.listener, route, entry: entry ?? "none", decision });
    cells[index].pending++;
  }
}

export class Metrics {
  readonly registry = new Registry();

  private readonly requests = new BatchedCounter({
    name: "guardpost_requests_total",
    help: "Requests handled, by listener, method, ACL decision, response status code and protocol (http1, h2, grpc, websocket).",
    labelNames: ["listener", "method", "decision", "code", "protocol"] as const,
    registry: this.registry,
  });

  private readonly duration = new CellHistogram(
    "guardpost_request_duration_seconds",
    "Time from request headers received to response finished, by listener.",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );

  private readonly handshakeFailures = new Counter({
    name: "guardpost_tls_handshake_failures_total",
    help: "Inbound TLS handshakes refused, by listener and reason.",
    labelNames: ["listener", "reason"] as const,
    registers: [this.registry],
  });

  private readonly certificateExpiry = new Gauge({
    name: "guardpost_certificate_expiry_timestamp_seconds",
    help: "When a certificate in service expires (notAfter; for the CRL, its nextUpdate), in unix seconds.",
    labelNames: ["cert"] as const,
    // Across worker processes the earliest expiry is the one that matters.
    aggregator: "min",
    registers: [this.registry],
  });

  private readonly reloads = new Counter({
    name: "guardpost_reloads_total",
    help: "Reloads of changed TLS material or ACL files, by kind and result.",
    labelNames: ["kind", "result"] as const,
    registers: [this.registry],
  });

  private readonly upstreamErrors = new Counter({
    name: "guardpost_upstream_errors_total",
    help: "Upstream failures, by listener and kind (connect, reset, timeout, tls, identity, protocol).",
    labelNames: ["listener", "kind"] as const,
    registers: [this.registry],
  });

  private readonly entryDecisions = new BatchedCounter({
    name: "guardpost_acl_decisions_total",
    help: "ACL decisions by listener, route, deciding entry (a pattern such as \"GET /user/{id}\", or \"none\") and decision.",
    labelNames: ["listener", "route", "entry", "decision"] as const,
    registry: this.registry,
  });

  private readonly shadowDecisions = new BatchedCounter({
    name: "guardpost_shadow_decisions_total",
    help: "Decisions of routes' shadow ACLs (evaluated, never enforced), by listener, route, decision, and whether it agrees with the ACL in force.",
    labelNames: ["listener", "route", "decision", "agrees"] as const,
    registry: this.registry,
  });

  private readonly http2SessionErrors = new Counter({
    name: "guardpost_http2_session_errors_total",
    help: "HTTP/2 sessions ended for a protocol error or abuse (rapid reset, CONTINUATION or control-frame floods, oversized header blocks), by listener.",
    labelNames: ["listener"] as const,
    registers: [this.registry],
  });

  private readonly reloadApplyErrors = new Counter({
    name: "guardpost_reload_apply_errors_total",
    help: "Reloads that were committed but could not be applied in some place (a listener or pool), by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  private readonly connections = new Gauge({
    name: "guardpost_connections_active",
    help: "Open client connections, by listener.",
    labelNames: ["listener"] as const,
    registers: [this.registry],
  });

  private readonly ready = new Gauge({
    name: "guardpost_ready",
    help: "1 when certificates and ACLs in service are valid and listeners are up, else 0.",
    aggregator: "min",
    registers: [this.registry],
  });

  private readonly listeners = new Map<string, ListenerRequestMetrics>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    for (const kind of ["tls", "acl"] as const) {
      for (const result of ["success", "error"] as const) this.reloads.labels(kind, result).inc(0);
      this.reloadApplyErrors.labels(kind).inc(0);
    }
    this.ready.set(0);
  }

  /** The request counters of one listener; callers look it up once and keep it. */
  forListener(listener: string): ListenerRequestMetrics {
    let metrics = this.listeners.get(listener);
    if (!metrics) {
      metrics = new ListenerRequestMetrics(listener, this.requests, this.duration, this.entryDecisions, this.shadowDecisions);
      this.listeners.set(listener, metrics);
    }
    return metrics;
  }

  handshakeFailure(listener: string, reason: string): void {
    this.handshakeFailures.labels(listener, reason).inc();
  }

  reload(kind: ReloadKind, result: "success" | "error"): void {
    this.reloads.labels(kind, result).inc();
  }

  http2SessionError(listener: string): void {
    this.http2SessionErrors.labels(listener).inc();
  }

  reloadSubscriberError(kind: ReloadKind): void {
    this.reloadApplyErrors.labels(kind).inc();
  }

  upstreamError(listener: string, kind: string): void {
    this.upstreamErrors.labels(listener, kind).inc();
  }

  setCertificateExpiry(cert: string, notAfter: Date | null): void {
    if (notAfter === null) this.certificateExpiry.remove(cert);
    else this.certificateExpiry.labels(cert).set(Math.floor(notAfter.getTime() / 1000));
  }

  /** Replaces every expiry series, so a CA removed from the bundle stops being reported. */
  replaceCertificateExpiries(expiries: ReadonlyMap<string, Date>): void {
    this.certificateExpiry.reset();
    for (const [cert, notAfter] of expiries) this.setCertificateExpiry(cert, notAfter);
  }

  connectionOpened(listener: string): void {
    this.connections.labels(listener).inc();
  }

  connectionClosed(listener: string): void {
    this.connections.labels(listener).dec();
  }

  setReady(ready: boolean): void {
    this.ready.set(ready ? 1 : 0);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
