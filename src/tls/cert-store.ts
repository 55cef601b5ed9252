/**
 * The TLS material in service and everything derived from it: the
 * secure-context options every inbound listener applies, the options an
 * outbound connector presents, session ticket keys, expiry gauges and the
 * expiry warning. Owns the reload of cert, key, CA and CRL: a reload derives
 * the whole state before it is committed, so a listener never sees material
 * without its options.
 */
import { constants, randomBytes } from "node:crypto";
import type { SecureContextOptions } from "node:tls";
import type { Metrics } from "../admin/metrics.js";
import type { TlsConfig } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import { Reloadable, type Subscriber } from "../reload/reloadable.js";
import { contextOptions, loadTlsMaterial, type TlsMaterial } from "./material.js";

/** Warn when this fraction of the service certificate's lifetime is left. */
const EXPIRY_WARNING_FRACTION = 0.2;
/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ServerContextOptions extends SecureContextOptions {
  readonly ticketKeys: Buffer;
  readonly sessionIdContext: string;
}

/** What an outbound connection presents and whom it trusts. */
export interface ClientTlsOptions {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly minVersion: TlsConfig["minVersion"];
}

/** One committed generation of TLS material and what follows from it. */
export interface TlsState {
  readonly material: TlsMaterial;
  /** The complete option set for a server's secure context (setSecureContext resets whatever is left out). */
  readonly serverOptions: ServerContextOptions;
  readonly clientOptions: ClientTlsOptions;
}

/** Derives the state for `material`; `previous` is the state in service, if any. */
function deriveState(material: TlsMaterial, previous: TlsState | undefined): TlsState {
  // A session ticket carries the peer's verified identity. When whom we trust changes (CA or CRL),
  // old tickets must stop working, or a client no longer trusted could resume its way back in.
  // A plain rotation of our own certificate keeps the keys, so clients keep resuming.
  const ticketKeys = previous && previous.material.trustHash === material.trustHash ? previous.serverOptions.ticketKeys : randomBytes(48);
  const minVersion = material.paths.minVersion;
  return Object.freeze({
    material,
    serverOptions: Object.freeze({
      ...contextOptions({ ...material, minVersion }),
      // Renegotiation lets a client change its certificate mid-connection; we judge the one from the handshake.
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
      ticketKeys,
      sessionIdContext: material.trustHash.slice(0, 32),
    }),
    clientOptions: Object.freeze({ ca: material.caPem, cert: material.certPem, key: material.keyPem, minVersion }),
  });
}

/** Whether `next` trusts other peers than `previous` (its CA bundle or CRL changed). */
export function trustChanged(next: TlsState, previous: TlsState): boolean {
  return next.material.trustHash !== previous.material.trustHash;
}

export class CertStore {
  readonly reloadable: Reloadable<TlsState>;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    config: TlsConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    const files = [config.cert, config.key, config.ca, ...(config.crl === null ? [] : [config.crl])];
    this.reloadable = new Reloadable({
      kind: "tls",
      name: "tls",
      files,
      load: async (read, previous) => deriveState(await loadTlsMaterial(config, read), previous),
      logger,
      metrics,
    });
    this.reloadable.subscribe((next) => this.updateExpiry(next.material));
  }

  async start(): Promise<TlsState> {
    const state = await this.reloadable.start();
    this.updateExpiry(state.material);
    return state;
  }

  get current(): TlsState {
    return this.reloadable.current;
  }

  get material(): TlsMaterial {
    return this.reloadable.current.material;
  }

  /** Calls `subscriber` after every committed reload; returns the function that stops it. */
  subscribe(subscriber: Subscriber<TlsState>): () => void {
    return this.reloadable.subscribe(subscriber);
  }

  stop(): void {
    clearTimeout(this.expiryTimer);
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
      if (this.material !== material) return;
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
