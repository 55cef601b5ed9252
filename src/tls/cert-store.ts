/**
 * The TLS material in service and what follows from it: the secure-context
 * options every listener applies, session ticket keys, expiry gauges and the
 * expiry warning. Owns the reload of cert, key, CA and CRL.
 */
import { constants, randomBytes } from "node:crypto";
import type { SecureContextOptions } from "node:tls";
import type { Metrics } from "../admin/metrics.js";
import type { TlsConfig } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import { Reloadable } from "../runtime/reloadable.js";
import { contextOptions, loadTlsMaterial, type TlsMaterial } from "./material.js";

/** Warn when this fraction of the service certificate's lifetime is left. */
const EXPIRY_WARNING_FRACTION = 0.2;
/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ServerContextOptions extends SecureContextOptions {
  readonly ticketKeys: Buffer;
  readonly sessionIdContext: string;
}

export class CertStore {
  readonly reloadable: Reloadable<TlsMaterial>;
  private ticketKeys = randomBytes(48);
  private options: ServerContextOptions | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly changeListeners: ((material: TlsMaterial) => void)[] = [];

  constructor(
    config: TlsConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    const files = [config.cert, config.key, config.ca, ...(config.crl === null ? [] : [config.crl])];
    this.reloadable = new Reloadable({ kind: "tls", name: "tls", files, load: (read) => loadTlsMaterial(config, read), logger, metrics });
    this.reloadable.onSwap((next, previous) => this.applied(next, previous));
  }

  async start(): Promise<TlsMaterial> {
    const material = await this.reloadable.start();
    this.applied(material, undefined);
    return material;
  }

  get material(): TlsMaterial {
    return this.reloadable.current;
  }

  /** The complete option set for a server's secure context (setSecureContext resets whatever is left out). */
  get serverOptions(): ServerContextOptions {
    return this.options!;
  }

  /** Called after every swap, with the new material; listeners apply it to their servers and pools. */
  onChange(listener: (material: TlsMaterial) => void): void {
    this.changeListeners.push(listener);
  }

  stop(): void {
    clearTimeout(this.expiryTimer);
  }

  private applied(material: TlsMaterial, previous: TlsMaterial | undefined): void {
    // A session ticket carries the peer's verified identity. When whom we trust changes (CA or CRL),
    // old tickets must stop working, or a client no longer trusted could resume its way back in.
    // A plain rotation of our own certificate keeps the keys, so clients keep resuming.
    if (previous && previous.trustHash !== material.trustHash) this.ticketKeys = randomBytes(48);
    this.options = Object.freeze({
      ...contextOptions({ ...material, minVersion: material.paths.minVersion }),
      // Renegotiation lets a client change its certificate mid-connection; we judge the one from the handshake.
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
      ticketKeys: this.ticketKeys,
      sessionIdContext: material.trustHash.slice(0, 32),
    });
    this.updateExpiry(material);
    for (const listener of this.changeListeners) listener(material);
  }

  private updateExpiry(material: TlsMaterial): void {
    const expiries = new Map<string, Date>([["service", material.notAfter]]);
    for (const ca of material.caCertificates) {
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(ca.subject)?.[1] ?? ca.fingerprint256.slice(0, 11);
      let label = `ca:${cn}`;
      for (let n = 2; expiries.has(label); n++) label = `ca:${cn}#${n}`;
      expiries.set(label, new Date(ca.validTo));
    }
    if (material.crlNextUpdate) expiries.set("crl", material.crlNextUpdate);
    this.metrics.replaceCertificateExpiries(expiries);

    clearTimeout(this.expiryTimer);
    const lifetime = material.notAfter.getTime() - material.notBefore.getTime();
    const warnAt = material.notAfter.getTime() - lifetime * EXPIRY_WARNING_FRACTION;
    const warn = () => {
      if (this.reloadable.current !== material) return;
      this.logger.warn(
        { event: "certificate_expiring", file: material.paths.cert, notAfter: material.notAfter.toISOString(), subject: material.leaf.subject.replace(/\n/g, ", ") },
        `service certificate expires at ${material.notAfter.toISOString()}; less than ${EXPIRY_WARNING_FRACTION * 100}% of its lifetime is left and no rotation has replaced it`,
      );
    };
    const schedule = () => {
      const delay = warnAt - Date.now();
      if (delay <= 0) return warn();
      this.expiryTimer = setTimeout(schedule, Math.min(delay, MAX_TIMER_MS));
      this.expiryTimer.unref();
    };
    schedule();
  }
}
