/**
 * Loading is reloading: one function reads every file of a unit (TLS
 * material, an ACL) into memory, validates it into a new value, and only then
 * swaps one reference. On failure the old value stays in service, the file
 * and reason are logged, and guardpost_reloads_total{result="error"} counts
 * it. Start-up uses the same path and fails instead of keeping an old value.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { GuardpostError, isGuardpostError } from "../errors.js";
import type { Metrics, ReloadKind } from "../admin/metrics.js";
import type { Logger } from "../log/logger.js";

/** Reads a file of the snapshot being loaded; throws as readFileSync would. */
export type ReadFile = (file: string) => string;

export type CheckResult = "unchanged" | "swapped" | "failed";

export interface ReloadableOptions<T> {
  readonly kind: ReloadKind;
  /** Names the unit in logs: a file path or "tls". */
  readonly name: string;
  readonly files: readonly string[];
  readonly load: (read: ReadFile) => T | Promise<T>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export class Reloadable<T> {
  private value: T | undefined;
  private contentHash = "";
  private failedHash = "";
  private queue: Promise<unknown> = Promise.resolve();
  private readonly swapListeners: ((next: T, previous: T) => void)[] = [];

  constructor(private readonly options: ReloadableOptions<T>) {}

  get current(): T {
    if (this.value === undefined) throw new Error(`${this.options.name} used before it was loaded`);
    return this.value;
  }

  get files(): readonly string[] {
    return this.options.files;
  }

  onSwap(listener: (next: T, previous: T) => void): void {
    this.swapListeners.push(listener);
  }

  /** The first load: throws on invalid material, since there is nothing to fall back to. */
  async start(): Promise<T> {
    const snapshot = readSnapshot(this.options.files);
    this.value = await this.options.load(snapshot.read);
    this.contentHash = snapshot.hash;
    return this.value;
  }

  /**
   * Re-reads the files and swaps in the new value if they changed and are
   * valid. Checks run one at a time. `force` re-validates (and re-reports)
   * content that is unchanged or already known to be bad: SIGHUP uses it.
   */
  check(force = false): Promise<CheckResult> {
    const run = this.queue.then(() => this.checkNow(force));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async checkNow(force: boolean): Promise<CheckResult> {
    const snapshot = readSnapshot(this.options.files);
    if (!force && (snapshot.hash === this.contentHash || snapshot.hash === this.failedHash)) return "unchanged";
    const { kind, name, logger, metrics } = this.options;
    let next: T;
    try {
      next = await this.options.load(snapshot.read);
    } catch (err) {
      this.failedHash = snapshot.hash;
      metrics.reload(kind, "error");
      const error = isGuardpostError(err) ? err : new GuardpostError("GP_ERR_FILE_READ", String(err));
      logger.error({ event: "reload_failed", kind, unit: name, code: error.code, file: error.file, error: error.format() }, `${kind} reload refused, previous ${kind === "tls" ? "material" : "ACL"} stays in service: ${error.format()}`);
      return "failed";
    }
    const previous = this.current;
    this.value = next;
    this.contentHash = snapshot.hash;
    this.failedHash = "";
    metrics.reload(kind, "success");
    logger.info({ event: "reloaded", kind, unit: name }, `${kind} reloaded: ${name}`);
    for (const listener of this.swapListeners) listener(next, previous);
    return "swapped";
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
