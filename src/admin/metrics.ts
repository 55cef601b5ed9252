/**
 * Every metric guardpost exports, defined in this one file (SPEC section 7).
 * Each instance has its own registry, so several proxies can run in one
 * process (tests, the demo). Label values are bounded: listener and route
 * names from the config, methods folded to a fixed set, ACL entry patterns,
 * never a raw request path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export type Decision = "allow" | "deny" | "error" | "would_deny";
export type ReloadKind = "tls" | "acl";

const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]);

/** Methods are client-chosen tokens; unknown ones share one label value so clients cannot grow the series count. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

export class Metrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: "guardpost_requests_total",
    help: "Requests handled, by listener, method, ACL decision and response status code.",
    labelNames: ["listener", "method", "decision", "code"] as const,
    registers: [this.registry],
  });

  private readonly duration = new Histogram({
    name: "guardpost_request_duration_seconds",
    help: "Time from request headers received to response finished, by listener.",
    labelNames: ["listener"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

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

  private readonly entryDecisions = new Counter({
    name: "guardpost_acl_decisions_total",
    help: "ACL decisions by listener, route, deciding entry (a pattern such as \"GET /user/{id}\", or \"none\") and decision.",
    labelNames: ["listener", "route", "entry", "decision"] as const,
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

  // Label children are looked up once and kept: prom-client hashes the label set on every labels() call.
  private readonly requestChildren = new Map<string, Inc>();
  private readonly durationChildren = new Map<string, Observe>();
  private readonly entryChildren = new Map<string, Inc>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    for (const kind of ["tls", "acl"] as const) {
      for (const result of ["success", "error"] as const) this.reloads.labels(kind, result).inc(0);
    }
    this.ready.set(0);
  }

  request(listener: string, method: string, decision: Decision, code: number): Inc {
    const key = `${listener}\0${method}\0${decision}\0${code}`;
    let child = this.requestChildren.get(key);
    if (!child) {
      child = this.requests.labels(listener, methodLabel(method), decision, String(code));
      this.requestChildren.set(key, child);
    }
    return child;
  }

  requestDuration(listener: string): Observe {
    let child = this.durationChildren.get(listener);
    if (!child) {
      child = this.duration.labels(listener);
      this.durationChildren.set(listener, child);
    }
    return child;
  }

  entryDecision(listener: string, route: string, entry: string | null, decision: Decision): Inc {
    const key = `${listener}\0${route}\0${entry ?? ""}\0${decision}`;
    let child = this.entryChildren.get(key);
    if (!child) {
      child = this.entryDecisions.labels(listener, route, entry ?? "none", decision);
      this.entryChildren.set(key, child);
    }
    return child;
  }

  handshakeFailure(listener: string, reason: string): void {
    this.handshakeFailures.labels(listener, reason).inc();
  }

  reload(kind: ReloadKind, result: "success" | "error"): void {
    this.reloads.labels(kind, result).inc();
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
