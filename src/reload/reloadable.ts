/**
 * Loading is reloading: one function reads every file of a unit (TLS
 * material, an ACL) and derives everything that follows from it (contexts,
 * options, compiled tables) into a new value without touching anything in
 * service; only then is the value committed, by swapping one reference. On
 * failure the old value stays in service, the file and reason are logged, and
 * guardpost_reloads_total{result="error"} counts it. Start-up uses the same
 * path and fails instead of keeping an old value.
 *
 * After a commit the subscribers (listeners applying new TLS options, pools
 * being replaced) are told one by one, each isolated from the others: one
 * that throws is logged and counted, and the rest still hear of the change.
 * No check ever rejects: a watcher may fire and forget.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Metrics, ReloadKind } from "../admin/metrics.js";
import { GuardpostError, isGuardpostError } from "../errors.js";
import type { Logger } from "../log/logger.js";

/** Reads a file of the snapshot being loaded; throws as readFileSync would. */
export type ReadFile = (file: string) => string;

export type CheckResult = "unchanged" | "swapped" | "failed";

export type Subscriber<T> = (next: T, previous: T) => void;

export interface ReloadableOptions<T> {
  readonly kind: ReloadKind;
  /** Names the unit in logs: a file path or "tls". */
  readonly name: string;
  readonly files: readonly string[];
  /**
   * Reads and validates the unit and derives everything from it. `previous`
   * is the value in service (undefined at start-up), for what carries over
   * from one value to the next. Must not change anything in service.
   */
  readonly load: (read: ReadFile, previous: T | undefined) => T | Promise<T>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export class Reloadable<T> {
  private value: T | undefined;
  private contentHash = "";
  private failedHash = "";
  private queue: Promise<unknown> = Promise.resolve();
  private readonly subscribers = new Set<Subscriber<T>>();

  constructor(private readonly options: ReloadableOptions<T>) {}

  get current(): T {
    if (this.value === undefined) throw new Error(`${this.options.name} used before it was loaded`);
    return this.value;
  }

  get files(): readonly string[] {
    return this.options.files;
  }

  get kind(): ReloadKind {
    return this.options.kind;
  }

  /** Calls `subscriber` after every commit; returns the function that stops it. */
  subscribe(subscriber: Subscriber<T>): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /** The first load: throws on invalid material, since there is nothing to fall back to. */
  async start(): Promise<T> {
    const snapshot = readSnapshot(this.options.files);
    this.value = await this.options.load(snapshot.read, undefined);
    this.contentHash = snapshot.hash;
    return this.value;
  }

  /**
   * Re-reads the files and commits a new value if they changed and are
   * valid. Checks run one at a time. `force` re-validates (and re-reports)
   * content that is unchanged or already known to be bad: SIGHUP uses it.
   */
  check(force = false): Promise<CheckResult> {
    const run = this.queue.then(() => this.checkNow(force));
    this.queue = run;
    return run;
  }

  private async checkNow(force: boolean): Promise<CheckResult> {
    const { kind, name, logger, metrics } = this.options;
    let snapshot: Snapshot | undefined;
    let next: T;
    try {
      snapshot = readSnapshot(this.options.files);
      if (!force && (snapshot.hash === this.contentHash || snapshot.hash === this.failedHash)) return "unchanged";
      next = await this.options.load(snapshot.read, this.value);
    } catch (err) {
      if (snapshot) this.failedHash = snapshot.hash;
      metrics.reload(kind, "error");
      const error = isGuardpostError(err) ? err : new GuardpostError("GP_ERR_FILE_READ", String(err));
      logger.error(
        { event: "reload_failed", kind, unit: name, code: error.code, file: error.file, error: error.format() },
        `${kind} reload refused, previous ${kind === "tls" ? "material" : "ACL"} stays in service: ${error.format()}`,
      );
      return "failed";
    }
    this.commit(next, snapshot.hash);
    metrics.reload(kind, "success");
    logger.info({ event: "reloaded", kind, unit: name }, `${kind} reloaded: ${name}`);
    return "swapped";
  }

  private commit(next: T, hash: string): void {
    const previous = this.current;
    this.value = next;
    this.contentHash = hash;
    this.failedHash = "";
    for (const subscriber of this.subscribers) {
      try {
        subscriber(next, previous);
      } catch (err) {
        const { kind, name, logger, metrics } = this.options;
        metrics.reloadSubscriberError(kind);
        logger.error({ event: "reload_apply_failed", kind, unit: name, error: String(err) }, `${kind} reloaded, but applying it failed in one place: ${String(err)}`);
      }
    }
  }
}

interface Snapshot {
  readonly hash: string;
  readonly read: ReadFile;
}

/** Reads every file once; the loader sees exactly these bytes, and the hash says whether anything changed. */
function readSnapshot(files: readonly string[]): Snapshot {
  const contents = new Map<string, string | NodeJS.ErrnoException>();
  const hash = createHash("sha256");
  for (const file of files) {
    let content: string | NodeJS.ErrnoException;
    try {
      content = readFileSync(file, "utf8");
    } catch (err) {
      content = err as NodeJS.ErrnoException;
    }
    contents.set(file, content);
    hash.update(file).update("\0").update(typeof content === "string" ? content : `\0error:${content.code}`).update("\0");
  }
  return {
    hash: hash.digest("hex"),
    read: (file) => {
      const content = contents.get(file);
      if (content === undefined) return readFileSync(file, "utf8");
      if (typeof content !== "string") throw content;
      return content;
    },
  };
}
