/**
 * Noticing that files may have changed. Measured on Node 20: fs.watch on a
 * file goes deaf after the first atomic rename, and in a Kubernetes secret
 * volume (the `..data` symlink swapped) directory events never name the file.
 * So we watch the folders, treat any event as "maybe", debounce, and leave the
 * real decision to the reader, which compares content hashes. A periodic
 * re-check is the backstop for events that never come.
 */
import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";

export interface FileWatchOptions {
  /** Events closer together than this cause one check (a rotation writes cert and key within milliseconds). */
  readonly debounceMs?: number;
  /** Backstop: check this often even without events. */
  readonly pollMs?: number;
}

export class FileWatcher {
  private readonly watchers: FSWatcher[] = [];
  private debounceTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly debounceMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly files: readonly string[],
    private readonly onMaybeChanged: (cause: "event" | "poll") => void,
    options: FileWatchOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 200;
    this.pollMs = options.pollMs ?? 1000;
  }

  start(): void {
    for (const dir of new Set(this.files.map((file) => dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.schedule());
        // A folder that disappears (unmounted, replaced) only loses us events; the poll still runs.
        watcher.on("error", () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Folder missing or not watchable: the poll covers it.
      }
    }
    this.pollTimer = setInterval(() => this.onMaybeChanged("poll"), this.pollMs);
    this.pollTimer.unref();
  }

  stop(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    clearTimeout(this.debounceTimer);
    clearInterval(this.pollTimer);
  }

  private schedule(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.onMaybeChanged("event"), this.debounceMs);
    this.debounceTimer.unref();
  }
}
