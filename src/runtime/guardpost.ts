/**
 * One running guardpost: the cert store, ACL stores, upstream pools,
 * inbound/outbound listeners and the admin listener, with the file watcher
 * that reloads them. Start-up uses the same load path as reloads; anything
 * invalid at start-up stops it with the file and reason.
 *
 * The config file itself is reloaded the same way (SIGHUP, or a change to
 * the file): the new config is read and validated, and everything it needs
 * is made ready before anything in service changes (a generation: the TLS
 * store, ACL stores, pools, and listeners on new addresses, bound). Only
 * then is it committed at once: listeners whose address stays take the new
 * settings in place, listeners on addresses the new config drops stop
 * accepting and drain, and what nothing uses any more is closed. Any error
 * before the commit leaves the running config untouched.
 */
import type { AddressInfo } from "node:net";
import { compileAcl, type CompiledAcl } from "../acl/compile.js";
import { Metrics } from "../admin/metrics.js";
import { AdminServer } from "../admin/server.js";
import { pointHome } from "../config/file-errors.js";
import { parseConfigText } from "../config/load.js";
import type { Config, InboundConfig, ListenAddress, OutboundConfig, UpstreamTarget } from "../config/schema.js";
import { GuardpostError, isGuardpostError } from "../errors.js";
import { RouteTable, type Route } from "../inbound/routes.js";
import { InboundListener, type InboundOptions } from "../inbound/listener.js";
import { AccessLog } from "../log/access-log.js";
import { createLogger, type Logger } from "../log/logger.js";
import { OutboundListener, type OutboundOptions } from "../outbound/listener.js";
import { FileWatcher, type FileWatchOptions } from "../reload/file-watch.js";
import { Reloadable, type ReadFile } from "../reload/reloadable.js";
import { CertStore } from "../tls/cert-store.js";
import { readFailure } from "../text/read-failure.js";
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

/** The watcher's default debounce; a half-written rotation gets as long to settle. */
const DEFAULT_DEBOUNCE_MS = 200;

/** A unit a reload cycle checks: TLS material or an ACL. */
interface Unit {
  check(force: boolean): Promise<unknown>;
}

/** Everything that serves one config. */
interface Generation {
  readonly config: Config;
  readonly certStore: CertStore;
  readonly acls: ReadonlyMap<string, Reloadable<CompiledAcl>>;
  readonly pools: ReadonlyMap<string, Upstream>;
  readonly inbound: readonly InboundListener[];
  readonly outbound: readonly OutboundListener[];
  readonly admin: AdminServer | null;
  readonly addresses: ListeningAddresses;
  /** Stores this generation loaded itself, already current: the reload cycle that made them does not check them again. */
  readonly fresh: ReadonlySet<Unit>;
  /** Puts the generation in service over `previous` (undefined at start-up). Never throws. */
  readonly commit: (previous: Generation | undefined) => void;
}

export class Guardpost {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly configStore: Reloadable<Generation>;
  private watcher: FileWatcher | undefined;
  private state: "starting" | "ready" | "draining" | "stopped" = "starting";
  /** Listeners a reload took out of service, draining; stop() closes them too. */
  private readonly retiring = new Set<{ stop(): unknown }>();
  private reloads: Promise<void> = Promise.resolve();

  private constructor(
    initial: Config,
    private readonly options: GuardpostOptions,
  ) {
    this.logger = options.logger ?? createLogger({ level: initial.log.level });
    this.metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
    const file = initial.file;
    this.configStore = new Reloadable<Generation>({
      kind: "config",
      name: file ?? "(in memory)",
      files: file === null ? [] : [file],
      // Start-up takes the config it was given; a reload reads the file again.
      load: (read, previous) => (previous === undefined || file === null ? this.prepare(initial, undefined) : this.prepare(parseConfigText(file, read(file)), previous)),
      logger: this.logger,
      metrics: this.metrics,
      settleMs: this.settleMs,
    });
    this.configStore.subscribe((next, previous) => this.commit(next, previous));
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

  /** The config in service. */
  get config(): Config {
    return this.generation.config;
  }

  get certStore(): CertStore {
    return this.generation.certStore;
  }

  get addresses(): ListeningAddresses {
    if (this.state === "starting") throw new Error("guardpost is not listening");
    return this.generation.addresses;
  }

  private get generation(): Generation {
    return this.configStore.current;
  }

  private get settleMs(): number {
    return this.options.watch?.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  private async startUp(): Promise<void> {
    const generation = await this.configStore.start();
    this.commit(generation, undefined);
    this.state = "ready";
    this.metrics.setReady(true);
    const { inbound, outbound, admin } = generation.addresses;
    this.logger.info(
      {
        event: "started",
        inbound: Object.fromEntries([...inbound].map(([name, a]) => [name, `${a.address}:${a.port}`])),
        outbound: Object.fromEntries([...outbound].map(([name, a]) => [name, `${a.address}:${a.port}`])),
        admin: admin ? `${admin.address}:${admin.port}` : null,
      },
      "guardpost is ready",
    );
  }

  /**
   * Makes everything `config` needs without touching what is in service:
   * stores, pools and listeners that `previous` has are reused (listeners
   * by address), the rest are made, loaded and bound. On any error what it
   * made is closed again and the error names the config key that caused it.
   */
  private async prepare(config: Config, previous: Generation | undefined): Promise<Generation> {
    if (previous !== undefined && config.workers !== previous.config.workers) {
      throw new GuardpostError(
        "GP_ERR_CONFIG_VALUE",
        `workers changed from ${workerText(previous.config.workers)} to ${workerText(config.workers)}, which takes a restart; the new config was not applied (restart guardpost to change workers)`,
        { file: config.file ?? "config" },
      );
    }
    const { logger, metrics } = this;
    const undo: (() => unknown)[] = [];
    const fresh = new Set<Unit>();
    try {
      const requirements = { clientAuth: config.outbound.length > 0 };
      let certStore = previous?.certStore;
      if (certStore === undefined || !sameJson(certStore.config, config.tls) || certStore.requirements.clientAuth !== requirements.clientAuth) {
        certStore = new CertStore(config.tls, logger, metrics, { requirements, settleMs: this.settleMs, explain: this.explainer() });
        await certStore.start();
        fresh.add(certStore.reloadable);
      }

      const acls = new Map<string, Reloadable<CompiledAcl>>();
      for (const file of aclFiles(config)) {
        let store = previous?.acls.get(file);
        if (store === undefined) {
          store = new Reloadable({ kind: "acl", name: file, files: [file], load: (read) => compileAcl(file, readFile(read, file)), logger, metrics, settleMs: this.settleMs, explain: this.explainer() });
          await store.start();
          fresh.add(store);
        }
        acls.set(file, store);
      }

      const pools = new Map<string, Upstream>();
      for (const target of upstreams(config)) {
        let pool = previous?.pools.get(target.text);
        if (pool === undefined) {
          pool = createServiceUpstream(target, config.limits);
          const made = pool;
          undo.push(() => made.destroy());
        }
        pools.set(target.text, pool);
      }

      // Off means off: with no access log, nothing is prepared for one per connection or request.
      const accessLog = config.log.access ? new AccessLog(logger) : null;
      const inboundOptions = (inbound: InboundConfig): InboundOptions => ({
        config: inbound,
        limits: config.limits,
        certStore,
        metrics,
        logger,
        accessLog,
        routes: new RouteTable(
          inbound.routes.map(
            (route): Route => ({
              config: route,
              name: route.name,
              acl: acls.get(route.acl)!,
              shadow: route.shadowAcl === null ? null : acls.get(route.shadowAcl)!,
              upstream: pools.get(route.upstream.text)!,
            }),
          ),
        ),
      });
      const outboundOptions = (outbound: OutboundConfig): OutboundOptions => ({ config: outbound, limits: config.limits, certStore, metrics, logger, accessLog });

      // A listener whose address stays is kept and reconfigured at the commit; the others are new and bound now.
      const keep: (() => void)[] = [];
      const kept = new Set<unknown>();
      const plan = { kept, keep, undo };
      const placedInbound = await placeListeners(
        config.inbound,
        previous && { configs: previous.config.inbound, listeners: previous.inbound, addresses: previous.addresses.inbound },
        plan,
        inboundOptions,
        (options) => new InboundListener(options),
        (before, after) => {
          // ALPN is fixed when the listener is made; on the same address it cannot be rebound first.
          if (sameJson(before.protocols, after.protocols)) return;
          throw new GuardpostError(
            "GP_ERR_CONFIG_VALUE",
            `inbound "${after.name}" on ${after.listen.text} changes its protocols (${before.protocols.join(", ")} to ${after.protocols.join(", ")}), which takes a restart or a new listen address; the new config was not applied`,
            { file: config.file ?? "config" },
          );
        },
      );
      const placedOutbound = await placeListeners(
        config.outbound,
        previous && { configs: previous.config.outbound, listeners: previous.outbound, addresses: previous.addresses.outbound },
        plan,
        outboundOptions,
        (options) => new OutboundListener(options),
      );
      const inbound = placedInbound.listeners;
      const inboundAddresses = placedInbound.addresses;
      const outbound = placedOutbound.listeners;
      const outboundAddresses = placedOutbound.addresses;

      let admin: AdminServer | null = null;
      let adminAddress: AddressInfo | null = null;
      if (this.options.admin !== false) {
        if (previous?.admin && sameAddress(previous.config.admin.listen, config.admin.listen)) {
          admin = previous.admin;
          adminAddress = previous.addresses.admin;
        } else {
          const made = new AdminServer(config.admin.listen, metrics, { notReadyReason: () => this.notReadyReason() });
          undo.push(() => made.close());
          adminAddress = await made.listen();
          admin = made;
        }
      }

      const generation: Generation = {
        config,
        certStore,
        acls,
        pools,
        inbound,
        outbound,
        admin,
        addresses: { inbound: inboundAddresses, outbound: outboundAddresses, admin: adminAddress },
        fresh,
        commit: (before) => {
          for (const apply of keep) apply();
          if (before !== undefined) this.retire(before, generation, kept);
        },
      };
      return generation;
    } catch (err) {
      for (const step of undo.reverse()) await step();
      throw pointHome(err, config);
    }
  }

  /** Puts `next` in service; the subscriber of the config store, and start-up. */
  private commit(next: Generation, previous: Generation | undefined): void {
    next.commit(previous);
    if (previous === undefined || next.certStore !== previous.certStore) next.certStore.activate();
    // A changed log.level applies; at start-up the logger is the caller's, at the level it was made with.
    if (previous !== undefined && previous.config.log.level !== next.config.log.level) this.logger.level = next.config.log.level;
    this.watch(next);
    if (previous !== undefined) {
      this.logger.info({ event: "config_applied", file: next.config.file, changes: describeChanges(previous, next) }, `config reloaded: ${describeChanges(previous, next).join("; ") || "no change in effect"}`);
    }
  }

  /** What `previous` had and `next` does not: draining listeners, a closed admin listener and pools, a stopped TLS store. */
  private retire(previous: Generation, next: Generation, kept: ReadonlySet<unknown>): void {
    const drainMs = next.config.drainTimeout;
    const retireListener = (listener: InboundListener | OutboundListener, address: ListenAddress) => {
      this.retiring.add(listener);
      this.logger.info({ event: "listener_retired", listener: listener.name, listen: address.text }, `listener "${listener.name}" on ${address.text} stops accepting; its open connections finish (up to ${drainMs} ms)`);
      void listener.drain(drainMs).finally(() => this.retiring.delete(listener));
    };
    previous.inbound.forEach((listener, i) => {
      if (!kept.has(listener)) retireListener(listener, previous.config.inbound[i]!.listen);
    });
    previous.outbound.forEach((listener, i) => {
      if (!kept.has(listener)) retireListener(listener, previous.config.outbound[i]!.listen);
    });
    if (previous.admin && previous.admin !== next.admin) void previous.admin.close();
    if (previous.certStore !== next.certStore) previous.certStore.stop();
    for (const [file, store] of previous.acls) if (next.acls.get(file) !== store) store.dispose();
    // A pool nothing routes to any more closes once its requests in flight are answered.
    for (const [text, pool] of previous.pools) if (next.pools.get(text) !== pool) void pool.close();
  }

  /** Watches the config file and every file the generation in service reads. */
  private watch(generation: Generation): void {
    this.watcher?.stop();
    const files = [...this.configStore.files, ...generation.certStore.reloadable.files, ...generation.acls.keys()];
    this.watcher = new FileWatcher(files, () => this.reloadInBackground(), this.options.watch);
    this.watcher.start();
  }

  /** Errors about a file the config names also name the key and line that named it. */
  private explainer(): (err: GuardpostError) => GuardpostError {
    return (err) => {
      const explained = pointHome(err, this.config);
      return isGuardpostError(explained) ? explained : err;
    };
  }

  /**
   * Checks the config file and every watched unit, and swaps in what changed
   * and is valid; one reload at a time. `force` (SIGHUP) re-validates
   * everything, changed or not.
   */
  reload(force: boolean): Promise<void> {
    const run = this.reloads.then(() => this.reloadNow(force));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(force: boolean): Promise<void> {
    if (this.state !== "ready") return;
    const before = this.generation;
    await this.configStore.check(force);
    const generation = this.generation;
    // Stores a new config just loaded are current; checking them again in the same cycle would count them twice.
    const skip: ReadonlySet<Unit> = generation === before ? new Set() : generation.fresh;
    const units: Unit[] = [generation.certStore.reloadable, ...generation.acls.values()];
    await Promise.all(units.filter((unit) => !skip.has(unit)).map((unit) => unit.check(force)));
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
    const { config, inbound, outbound } = this.generation;
    this.logger.info({ event: "draining", timeoutMs: config.drainTimeout }, "draining: no new connections, finishing in-flight requests");
    await Promise.all([...inbound, ...outbound].map((listener) => listener.drain(config.drainTimeout)));
    await this.stop();
  }

  /** Closes everything now. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const started = this.state !== "starting";
    this.state = "stopped";
    this.metrics.setReady(false);
    this.watcher?.stop();
    this.configStore.dispose();
    for (const listener of this.retiring) await listener.stop();
    if (started) {
      const generation = this.generation;
      generation.certStore.stop();
      for (const store of generation.acls.values()) store.dispose();
      for (const listener of generation.inbound) listener.stop();
      await Promise.all(generation.outbound.map((listener) => listener.stop()));
      await generation.admin?.close();
      await Promise.all([...generation.pools.values()].map((pool) => pool.close()));
    }
    this.logger.info({ event: "stopped" }, "guardpost stopped");
  }
}

/** A file of a reload's snapshot; one that cannot be read is a GP_ERR_FILE_READ naming it, which the config can point home. */
function readFile(read: ReadFile, file: string): string {
  try {
    return read(file);
  } catch (err) {
    throw new GuardpostError("GP_ERR_FILE_READ", readFailure(err), { file }, { cause: err });
  }
}

/** What placeListeners needs of a listener. */
interface PlacedListener<O> {
  readonly name: string;
  listen(): Promise<AddressInfo>;
  stop(): unknown;
  reconfigure(options: O): void;
}

/**
 * The listeners for `configs`: one whose address the previous generation
 * listens on already is kept (reconfigured at the commit, through
 * `plan.keep`), the others are made and bound now (stopped again through
 * `plan.undo` if the reload fails). `check` refuses a change a kept
 * listener cannot take in place.
 */
async function placeListeners<C extends { readonly name: string; readonly listen: ListenAddress }, O, L extends PlacedListener<O>>(
  configs: readonly C[],
  before: { readonly configs: readonly C[]; readonly listeners: readonly L[]; readonly addresses: ReadonlyMap<string, AddressInfo> } | undefined,
  plan: { readonly kept: Set<unknown>; readonly keep: (() => void)[]; readonly undo: (() => unknown)[] },
  optionsFor: (config: C) => O,
  make: (options: O) => L,
  check: (before: C, after: C) => void = () => undefined,
): Promise<{ listeners: L[]; addresses: Map<string, AddressInfo> }> {
  const listeners: L[] = [];
  const addresses = new Map<string, AddressInfo>();
  for (const config of configs) {
    const options = optionsFor(config);
    const index = before?.listeners.findIndex((l, i) => !plan.kept.has(l) && sameAddress(before.configs[i]!.listen, config.listen)) ?? -1;
    let listener: L;
    let address: AddressInfo;
    if (before !== undefined && index !== -1) {
      const same = before.listeners[index]!;
      check(before.configs[index]!, config);
      plan.kept.add(same);
      plan.keep.push(() => same.reconfigure(options));
      listener = same;
      address = before.addresses.get(same.name)!;
    } else {
      const made = make(options);
      plan.undo.push(() => made.stop());
      address = await made.listen();
      listener = made;
    }
    listeners.push(listener);
    addresses.set(config.name, address);
  }
  return { listeners, addresses };
}

function aclFiles(config: Config): Set<string> {
  const files = new Set<string>();
  for (const route of config.inbound.flatMap((inbound) => inbound.routes)) {
    files.add(route.acl);
    if (route.shadowAcl !== null) files.add(route.shadowAcl);
  }
  return files;
}

function upstreams(config: Config): UpstreamTarget[] {
  const byText = new Map<string, UpstreamTarget>();
  for (const route of config.inbound.flatMap((inbound) => inbound.routes)) byText.set(route.upstream.text, route.upstream);
  return [...byText.values()];
}

/** The same socket address: a listener on it can stay (an ephemeral port stays ephemeral). */
function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function workerText(workers: number): string {
  return workers === 0 ? "auto" : String(workers);
}

/** What a reload changed that a person would want to see in the log, in a few words each. */
function describeChanges(previous: Generation, next: Generation): string[] {
  const changes: string[] = [];
  const before = previous.config;
  const after = next.config;
  const listeners = (config: Config) => [...config.inbound.map((l) => `inbound "${l.name}" ${l.listen.text}`), ...config.outbound.map((l) => `outbound "${l.name}" ${l.listen.text}`)];
  const was = new Set(listeners(before));
  const now = new Set(listeners(after));
  for (const l of now) if (!was.has(l)) changes.push(`listening: ${l}`);
  for (const l of was) if (!now.has(l)) changes.push(`no longer listening: ${l}`);
  if (!sameJson(before.inbound.map((l) => l.routes), after.inbound.map((l) => l.routes))) changes.push("routes, ACLs, modes or upstreams");
  if (!sameJson(before.outbound.map((l) => [l.upstream, l.serverName, l.expect.map((p) => p.text)]), after.outbound.map((l) => [l.upstream, l.serverName, l.expect.map((p) => p.text)]))) {
    changes.push("outbound upstreams or expect");
  }
  if (next.certStore !== previous.certStore) changes.push("tls");
  if (!sameJson(before.limits, after.limits)) changes.push("limits");
  if (before.log.level !== after.log.level) changes.push(`log level ${after.log.level}`);
  if (before.log.access !== after.log.access) changes.push(`access log ${after.log.access ? "on" : "off"}`);
  if (!sameAddress(before.admin.listen, after.admin.listen)) changes.push(`admin ${after.admin.listen.text}`);
  if (before.drainTimeout !== after.drainTimeout) changes.push("drainTimeout");
  return changes;
}
