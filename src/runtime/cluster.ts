/**
 * `workers: N|auto`: N processes share the listeners through node:cluster.
 * The primary validates the config, forks the workers, serves the admin
 * endpoints (metrics aggregated across workers with prom-client's
 * AggregatorRegistry, ready when every worker is), forwards SIGHUP, and on
 * SIGTERM/SIGINT asks every worker to drain before it exits. Each worker is a
 * full guardpost without an admin listener; each watches the files itself,
 * so every reload reaches every worker.
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { AggregatorRegistry } from "prom-client";
import { AdminServer } from "../admin/server.js";
import type { Config } from "../config/schema.js";
import { createLogger } from "../log/logger.js";
import { Guardpost } from "./guardpost.js";

type ClusterMessage = { readonly type: "guardpost:ready" } | { readonly type: "guardpost:reload" } | { readonly type: "guardpost:drain" };

function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === "object" && message !== null && typeof (message as { type?: unknown }).type === "string" && (message as { type: string }).type.startsWith("guardpost:");
}

/** `workers: auto` (0 in the config) is one worker per available CPU. */
export function workerCount(config: Config): number {
  return config.workers === 0 ? availableParallelism() : config.workers;
}

/** A worker that exits this soon after its start is not restarted: the cause would repeat. */
const MIN_WORKER_LIFETIME_MS = 5_000;

export async function runPrimary(config: Config): Promise<number> {
  const logger = createLogger({ level: config.log.level, sharedStdout: true });
  const count = workerCount(config);
  const aggregator = new AggregatorRegistry();
  const ready = new Set<number>();
  /** Live workers and when each started. */
  const startedAt = new Map<number, number>();
  let draining = false;
  let failed = false;

  const admin = new AdminServer(
    config.admin.listen,
    { render: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
    { notReadyReason: () => (draining ? "draining" : ready.size < count ? `${ready.size} of ${count} workers ready` : null) },
  );
  const adminAddress = await admin.listen();

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.on("message", (message: unknown) => {
      if (isClusterMessage(message) && message.type === "guardpost:ready") ready.add(worker.id);
    });
    return worker;
  };

  return new Promise<number>((resolve) => {
    const finish = async (code: number) => {
      process.off("SIGTERM", stop).off("SIGINT", stop).off("SIGHUP", reload);
      await admin.close();
      logger.info({ event: "stopped", workers: count }, "guardpost stopped");
      logger.flush();
      resolve(code);
    };
    const stop = (signal: NodeJS.Signals) => {
      if (draining) return;
      draining = true;
      logger.info({ event: "draining", signal, workers: count }, `${signal} received: draining ${count} workers`);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: "guardpost:drain" } satisfies ClusterMessage);
    };
    const reload = () => {
      logger.info({ event: "signal", signal: "SIGHUP" }, "SIGHUP received: reloading certificates and ACLs in every worker");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: "guardpost:reload" } satisfies ClusterMessage);
    };
    cluster.on("exit", (worker, code, signal) => {
      ready.delete(worker.id);
      const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
      startedAt.delete(worker.id);
      if (!draining && !failed) {
        if (lived < MIN_WORKER_LIFETIME_MS) {
          failed = true;
          logger.error({ event: "worker_failed", worker: worker.id, code, signal }, `worker ${worker.id} exited during start-up (code ${code}); stopping`);
          stop("SIGTERM");
        } else {
          logger.error({ event: "worker_exited", worker: worker.id, code, signal }, `worker ${worker.id} exited (code ${code ?? signal}); starting a new one`);
          fork();
        }
      }
      if (startedAt.size === 0 && (draining || failed)) void finish(failed ? 2 : 0);
    });
    process.on("SIGTERM", stop).on("SIGINT", stop).on("SIGHUP", reload);
    for (let i = 0; i < count; i++) fork();
    logger.info({ event: "cluster_started", workers: count, admin: `${adminAddress.address}:${adminAddress.port}` }, `guardpost primary started ${count} workers`);
  });
}

export async function runWorker(config: Config): Promise<number> {
  const guardpost = await Guardpost.start(config, { admin: false });
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
      if (message.type === "guardpost:reload") guardpost.reloadInBackground(true);
      if (message.type === "guardpost:drain") drain();
    });
    // Ctrl-C reaches every process of the group, not only the primary.
    process.on("SIGTERM", drain).on("SIGINT", drain);
  });
}
