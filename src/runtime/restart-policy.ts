/**
 * When a cluster worker exits, whether to start another and after how long.
 * A pure object (time comes in as an argument), so every rule is tested
 * without processes; runtime/cluster.ts applies its answers to node:cluster.
 *
 * - A worker that exits before the cluster ever became ready stops
 *   everything: the cause (a port in use, a bad file) would repeat.
 * - Later exits restart the worker after a delay that doubles with each exit
 *   in a row (1 s, 2 s, 4 s ... up to 30 s), like Kubernetes' CrashLoopBackOff,
 *   so a worker that crashes on every request cannot spin the CPU.
 * - A worker that stayed up for `stableAfterMs` resets the doubling.
 * - More than `maxExits` exits within `windowMs` stops everything with an
 *   error, so the supervisor above (systemd, Kubernetes) sees the failure
 *   rather than a process that is half up forever.
 */

export interface RestartPolicyOptions {
  /** Delay before the first restart after a stable run. */
  readonly baseDelayMs: number;
  /** The doubling stops here. */
  readonly maxDelayMs: number;
  /** A worker that lived this long resets the doubling. */
  readonly stableAfterMs: number;
  /** More exits than this within `windowMs` stop the cluster. */
  readonly maxExits: number;
  readonly windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = Object.freeze({
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
  maxExits: 10,
  windowMs: 10 * 60_000,
});

export interface ExitedWorker {
  /** Whether this worker ever reported ready. */
  readonly wasReady: boolean;
}

export type ExitDecision = { readonly action: "restart"; readonly delayMs: number; readonly reason: string } | { readonly action: "stop"; readonly reason: string };

export class RestartPolicy {
  private clusterReady = false;
  /** Exits in a row without a stable run in between. */
  private streak = 0;
  private exits: number[] = [];

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /** Every worker has reported ready once: from now on an exit is a crash, not a failed start. */
  markClusterReady(): void {
    this.clusterReady = true;
  }

  onExit(worker: ExitedWorker, livedMs: number, now: number = Date.now()): ExitDecision {
    const { baseDelayMs, maxDelayMs, stableAfterMs, maxExits, windowMs } = this.options;
    if (!this.clusterReady && !worker.wasReady) return { action: "stop", reason: "a worker exited before guardpost was ready; the cause would repeat" };
    this.exits = [...this.exits.filter((at) => now - at < windowMs), now];
    if (this.exits.length > maxExits) {
      const minutes = Math.max(1, Math.round(windowMs / 60_000));
      return { action: "stop", reason: `${this.exits.length} worker exits within ${minutes} minute${minutes === 1 ? "" : "s"}` };
    }
    if (livedMs >= stableAfterMs) this.streak = 0;
    const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(this.streak, 30));
    this.streak++;
    return { action: "restart", delayMs, reason: this.streak === 1 ? "first exit after a stable run" : `exit ${this.streak} in a row` };
  }
}
