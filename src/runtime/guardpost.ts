/**
 * One running guardpost: the cert store, ACL stores, upstream pools,
 * inbound/outbound listeners and the admin listener, with the file watcher
 * that reloads them. Start-up uses the same load path as reloads; anything
 * invalid at start-up stops it with the file and reason.
 */
import type { AddressInfo } from "node:net";
import { compileAcl, type CompiledAcl } from "../acl/compile.js";
import { Metrics } from "../admin/metrics.js";
import { AdminServer } from "../admin/server.js";
import type { Config } from "../config/schema.js";
import { RouteTable, type Route } from "../inbound/routes.js";
import { InboundListener } from "../inbound/listener.js";
import { AccessLog } from "../log/access-log.js";
import { createLogger, type Logger } from "../log/logger.js";
import { OutboundListener } from "../outbound/listener.js";
import { FileWatcher, type FileWatchOptions } from "../reload/file-watch.js";
import { Reloadable } from "../reload/reloadable.js";
import { CertStore } from "../tls/cert-store.js";
import { createServiceUpstream } from "../upstream/pool.js";
import type { Upstream } from "../upstream/upstream.js";

export interface GuardpostOptions {
  /** Defaults to a pino logger on stdout at the config's level. */
  readonly logger?: Logger;
  /** Test hook: faster watch timings. */
  readonly watch?: FileWatchOptions;
  /** Default true; tests that run many instances turn process metrics off. */
  readonly processMetrics?: boolean;
  /** Default true; cluster workers leave the admin listener to the primary. */
  readonly admin?: boolean;
}

export interface ListeningAddresses {
  readonly inbound: ReadonlyMap<string, AddressInfo>;
  readonly outbound: ReadonlyMap<string, AddressInfo>;
  /** Null in a cluster worker, where the primary serves the admin endpoints. */
  readonly admin: AddressInfo | null;
}

export class Guardpost {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly certStore: CertStore;
  private readonly aclStores = new Map<string, Reloadable<CompiledAcl>>();
  private readonly upstreams = new Map<string, Upstream>();
  private readonly inbound: InboundListener[] = [];
  private readonly outbound: OutboundListener[] = [];
  private admin: AdminServer | undefined;
  private watcher: FileWatcher | undefined;
  private state: "starting" | "ready" | "draining" | "stopped" = "starting";
  private listening: ListeningAddresses | undefined;

  private constructor(
    readonly config: Config,
    private readonly options: GuardpostOptions,
  ) {
    this.logger = options.logger ?? createLogger({ level: config.log.level });
    this.metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
    this.certStore = new CertStore(config.tls, this.logger, this.metrics);
  }

  static async start(config: Config, options: GuardpostOptions = {}): Promise<Guardpost> {
    const guardpost = new Guardpost(config, options);
    try {
      await guardpost.startUp();
    } catch (err) {
      await guardpost.stop();
      throw err;
    }
    return guardpost;
  }

  get addresses(): ListeningAddresses {
    if (!this.listening) throw new Error("guardpost is not listening");
    return this.listening;
  }

  private async startUp(): Promise<void> {
    const { config, logger, metrics } = this;
    await this.certStore.start();
    // Off means off: with no access log, nothing is prepared for one per connection or request.
    const accessLog = config.log.access ? new AccessLog(logger) : null;
    for (const inboundConfig of config.inbound) {
      const routes: Route[] = [];
      for (const routeConfig of inboundConfig.routes) {
        routes.push({
          config: routeConfig,
          name: routeConfig.name,
          acl: await this.aclStore(routeConfig.acl),
          shadow: routeConfig.shadowAcl === null ? null : await this.aclStore(routeConfig.shadowAcl),
          upstream: this.upstream(routeConfig.upstream),
        });
      }
      this.inbound.push(new InboundListener({ config: inboundConfig, limits: config.limits, certStore: this.certStore, routes: new RouteTable(routes), metrics, logger, accessLog }));
    }
    for (const outboundConfig of config.outbound) {
      this.outbound.push(new OutboundListener({ config: outboundConfig, limits: config.limits, certStore: this.certStore, metrics, logger, accessLog }));
    }
    const inboundAddresses = new Map<string, AddressInfo>();
    for (const listener of this.inbound) inboundAddresses.set(listener.name, await listener.listen());
    const outboundAddresses = new Map<string, AddressInfo>();
    for (const listener of this.outbound) outboundAddresses.set(listener.name, await listener.listen());
    let adminAddress: AddressInfo | null = null;
    if (this.options.admin !== false) {
      this.admin = new AdminServer(config.admin.listen, metrics, { notReadyReason: () => this.notReadyReason() });
      adminAddress = await this.admin.listen();
    }
    this.listening = { inbound: inboundAddresses, outbound: outboundAddresses, admin: adminAddress };

    const files = [...this.certStore.reloadable.files, ...this.aclStores.keys()];
    this.watcher = new FileWatcher(files, () => this.reloadInBackground(), this.options.watch);
    this.watcher.start();
    this.state = "ready";
    metrics.setReady(true);
    logger.info(
      {
        event: "started",
        inbound: Object.fromEntries([...inboundAddresses].map(([name, a]) => [name, `${a.address}:${a.port}`])),
        outbound: Object.fromEntries([...outboundAddresses].map(([name, a]) => [name, `${a.address}:${a.port}`])),
        admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null,
      },
      "guardpost is ready",
    );
  }

  private async aclStore(file: string): Promise<Reloadable<CompiledAcl>> {
    let store = this.aclStores.get(file);
    if (!store) {
      store = new Reloadable({ kind: "acl", name: file, files: [file], load: (read) => compileAcl(file, read(file)), logger: this.logger, metrics: this.metrics });
      this.aclStores.set(file, store);
      await store.start();
    }
    return store;
  }

  private upstream(target: Config["inbound"][number]["routes"][number]["upstream"]): Upstream {
    let upstream = this.upstreams.get(target.text);
    if (!upstream) {
      upstream = createServiceUpstream(target, this.config.limits);
      this.upstreams.set(target.text, upstream);
    }
    return upstream;
  }

  /**
   * Checks every watched unit and swaps in what changed and is valid.
   * `force` (SIGHUP) re-validates everything, changed or not.
   */
  async reload(force: boolean): Promise<void> {
    if (this.state !== "ready") return;
    await Promise.all([this.certStore.reloadable.check(force), ...[...this.aclStores.values()].map((store) => store.check(force))]);
  }

  /** A reload nobody waits for (a file event, a signal): checks never reject, and anything unexpected is logged, never dropped. */
  reloadInBackground(force = false): void {
    this.reload(force).catch((err: unknown) => this.logger.error({ event: "reload_failed", error: String(err) }, `reload failed unexpectedly: ${String(err)}`));
  }

  /** Null when ready, else why not; what /readyz reports. */
  notReadyReason(): string | null {
    if (this.state !== "ready") return this.state;
    const now = Date.now();
    const material = this.certStore.material;
    if (material.notAfter.getTime() <= now) return "the service certificate in service has expired";
    if (material.crlNextUpdate && material.crlNextUpdate.getTime() <= now) return "the CRL in service has expired";
    return null;
  }

  /** SIGTERM: not ready, stop accepting, let in-flight requests finish (up to drainTimeout), then stop. */
  async drain(): Promise<void> {
    if (this.state === "draining" || this.state === "stopped") return;
    this.state = "draining";
    this.metrics.setReady(false);
    this.logger.info({ event: "draining", timeoutMs: this.config.drainTimeout }, "draining: no new connections, finishing in-flight requests");
    await Promise.all([...this.inbound, ...this.outbound].map((listener) => listener.drain(this.config.drainTimeout)));
    await this.stop();
  }

  /** Closes everything now. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.metrics.setReady(false);
    this.watcher?.stop();
    this.certStore.stop();
    for (const listener of this.inbound) listener.stop();
    await Promise.all(this.outbound.map((listener) => listener.stop()));
    await this.admin?.close();
    await Promise.all([...this.upstreams.values()].map((upstream) => upstream.close()));
    this.logger.info({ event: "stopped" }, "guardpost stopped");
  }
}
