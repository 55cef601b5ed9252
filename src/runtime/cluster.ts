/**
 * `workers: N|auto`: N processes share the listeners through node:cluster.
 * The primary validates the config, forks the workers, serves the admin
 * endpoints (metrics aggregated across workers with prom-client's
 * AggregatorRegistry), forwards SIGHUP, and on SIGTERM/SIGINT asks every
 * worker to drain before it exits. Each worker is a full guardpost without
 * an admin listener; each watches the files itself, so every reload reaches
 * every worker. When a worker exits, RestartPolicy decides; this file only
 * applies its answers.
 *
 * /readyz is 200 once every worker has started and while at least one is
 * up: the listeners keep serving on the others while one restarts, so
 * readiness does not flap with a crashing worker.
 */
import cluster, { type Worker } from "node:cluster";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { AggregatorRegistry } from "prom-client";
import { AdminServer } from "../admin/server.js";
import type { Config } from "../config/schema.js";
import { pointHome } from "../config/file-errors.js";
import { parseConfigText } from "../config/load.js";
import { FileWatcher } from "../reload/file-watch.js";
import type { Logger } from "../log/logger.js";
import { Guardpost } from "./guardpost.js";
import { RestartPolicy, type RestartPolicyOptions } from "./restart-policy.js";

type ClusterMessage = { readonly type: "guardpost:ready" } | { readonly type: "guardpost:reload" } | { readonly type: "guardpost:drain" };

function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === "object" && message !== null && typeof (message as { type?: unknown }).type === "string" && (message as { type: string }).type.startsWith("guardpost:");
}

/** `workers: auto` (0 in the config) is one worker per available CPU. */
export function workerCount(config: Config): number {
  return config.workers === 0 ? availableParallelism() : config.workers;
}

export async function runPrimary(config: Config, logger: Logger, policyOptions?: RestartPolicyOptions): Promise<number> {
  const count = workerCount(config);
  const aggregator = new AggregatorRegistry();
  const policy = new RestartPolicy(policyOptions);
  const ready = new Set<number>();
  /** Live workers: when each started and whether it has reported ready. */
  const live = new Map<number, { startedAt: number; wasReady: boolean }>();
  const pendingRestarts = new Set<NodeJS.Timeout>();
  let clusterReady = false;
  let draining = false;
  let failed = false;

  const newAdmin = (listen: Config["admin"]["listen"]) =>
    new AdminServer(
      listen,
      { render: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
      {
        notReadyReason: () => {
          if (draining) return "draining";
          if (!clusterReady) return `${ready.size} of ${count} workers started`;
          return ready.size === 0 ? `no worker is up (0 of ${count})` : null;
        },
      },
    );
  let admin = newAdmin(config.admin.listen);
  const adminAddress = await admin.listen();
  // The workers reload the config themselves (and report its errors); the primary takes what is its own.
  const configWatch = watchPrimaryConfig(config, logger, async (next, previous) => {
    if (next.admin.listen.host === previous.admin.listen.host && next.admin.listen.port === previous.admin.listen.port) return;
    const replacement = newAdmin(next.admin.listen);
    try {
      const address = await replacement.listen();
      const old = admin;
      admin = replacement;
      await old.close();
      logger.info({ event: "admin_moved", admin: `${address.address}:${address.port}` }, `admin listener moved to ${address.address}:${address.port}`);
    } catch (err) {
      logger.error({ event: "reload_failed", kind: "config", error: String(err) }, `the admin listener stays on ${previous.admin.listen.text}: ${String(err)}`);
    }
  });

  const fork = (): Worker => {
    const worker = cluster.fork();
    const state = { startedAt: Date.now(), wasReady: false };
    live.set(worker.id, state);
    worker.on("message", (message: unknown) => {
      if (!isClusterMessage(message) || message.type !== "guardpost:ready") return;
      ready.add(worker.id);
      state.wasReady = true;
      if (!clusterReady && ready.size === count) {
        clusterReady = true;
        policy.markClusterReady();
      }
    });
    return worker;
  };

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = async (code: number) => {
      if (finished) return;
      finished = true;
      process.off("SIGTERM", stop).off("SIGINT", stop).off("SIGHUP", reload);
      configWatch.stop();
      await admin.close();
      logger.info({ event: "stopped", workers: count }, "guardpost stopped");
      logger.flush();
      resolve(code);
    };
    const stop = (signal: NodeJS.Signals) => {
      if (draining) return;
      draining = true;
      for (const timer of pendingRestarts) clearTimeout(timer);
      pendingRestarts.clear();
      logger.info({ event: "draining", signal, workers: count }, `${signal} received: draining ${live.size} workers`);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: "guardpost:drain" } satisfies ClusterMessage);
      if (live.size === 0) void finish(failed ? 2 : 0);
    };
    const reload = () => {
      logger.info({ event: "signal", signal: "SIGHUP" }, "SIGHUP received: reloading the config, certificates and ACLs in every worker");
      configWatch.check(true);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: "guardpost:reload" } satisfies ClusterMessage);
    };
    cluster.on("exit", (worker, code, signal) => {
      ready.delete(worker.id);
      const state = live.get(worker.id);
      live.delete(worker.id);
      if (!draining && !failed && state) {
        const decision = policy.onExit({ wasReady: state.wasReady }, Date.now() - state.startedAt);
        const exit = { event: "worker_exited", worker: worker.id, code, signal, decision: decision.action, reason: decision.reason };
        if (decision.action === "stop") {
          failed = true;
          logger.error(exit, `worker ${worker.id} exited (${code ?? signal}); stopping: ${decision.reason}`);
          stop("SIGTERM");
        } else {
          logger.error({ ...exit, restartInMs: decision.delayMs }, `worker ${worker.id} exited (${code ?? signal}); starting a new one in ${decision.delayMs} ms (${decision.reason})`);
          const timer = setTimeout(() => {
            pendingRestarts.delete(timer);
            if (!draining) fork();
          }, decision.delayMs);
          pendingRestarts.add(timer);
        }
      }
      if (live.size === 0 && (draining || failed)) void finish(failed ? 2 : 0);
    });
    process.on("SIGTERM", stop).on("SIGINT", stop).on("SIGHUP", reload);
    for (let i = 0; i < count; i++) fork();
    logger.info({ event: "cluster_started", workers: count, admin: `${adminAddress.address}:${adminAddress.port}` }, `guardpost primary started ${count} workers`);
  });
}

export async function runWorker(config: Config, logger: Logger): Promise<number> {
  let guardpost: Guardpost;
  try {
    guardpost = await Guardpost.start(config, { admin: false, logger });
  } catch (err) {
    throw pointHome(err, config);
  }
  // Answer the primary's metrics requests from this process's registry.
  AggregatorRegistry.setRegistries([guardpost.metrics.registry]);
  void new AggregatorRegistry();
  process.send?.({ type: "guardpost:ready" } satisfies ClusterMessage);
  return new Promise<number>((resolve) => {
    const drain = () => {
      process.off("SIGTERM", drain).off("SIGINT", drain);
      guardpost.drain().then(
        () => {
          guardpost.logger.flush();
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.on("message", (message: unknown) => {
      if (!isClusterMessage(message)) return;
      if (message.type === "guardpost:reload") {
        guardpost.logger.info({ event: "reload_requested", via: "SIGHUP" }, "the primary forwarded SIGHUP: reloading certificates and ACLs");
        guardpost.reloadInBackground(true);
      }
      if (message.type === "guardpost:drain") drain();
    });
    // Ctrl-C reaches every process of the group, not only the primary.
    process.on("SIGTERM", drain).on("SIGINT", drain);
  });
}

/**
 * The primary's part of a config reload: the admin listener (it serves the
 * cluster's metrics) and the log level. A config that does not load, or
 * that changes `workers`, is left to the workers to refuse and report.
 */
function watchPrimaryConfig(initial: Config, logger: Logger, apply: (next: Config, previous: Config) => Promise<void>): { check(force: boolean): void; stop(): void } {
  let current = initial;
  let text = initial.file === null ? "" : readText(initial.file);
  let queue = Promise.resolve();
  const check = (force: boolean) => {
    const file = current.file;
    if (file === null) return;
    queue = queue.then(async () => {
      const now = readText(file);
      if (!force && now === text) return;
      text = now;
      let next: Config;
      try {
        next = parseConfigText(file, now);
      } catch {
        return;
      }
      if (next.workers !== current.workers) return;
      const previous = current;
      current = next;
      logger.level = next.log.level;
      await apply(next, previous);
    });
  };
  const watcher = new FileWatcher(initial.file === null ? [] : [initial.file], () => check(false));
  watcher.start();
  return { check, stop: () => watcher.stop() };
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
