/**
 * Log lines to a file descriptor (stdout), batched: lines are kept in memory
 * and written together, synchronously, once `batchBytes` have gathered or
 * `flushMs` after the first line of a batch, whichever comes first; and on
 * flush(), and when the process exits, so no line is lost at exit.
 *
 * Why not pino's SonicBoom: measured in the bench (keep-alive GET, proxy
 * pinned to one CPU, stdout a pipe), SonicBoom's asynchronous writes were a
 * quarter of the proxy's busy time in the profile: each write hands the data
 * to libuv's thread pool, whose thread then runs on the proxy's own CPU.
 * Larger SonicBoom batches were dearer still (it measures the pending string
 * on every line). A synchronous write of a batch is one write(2) on the main
 * thread, which is also what Node does for process.stdout on a pipe.
 *
 * Lines are encoded into one reused buffer as they come (no array of
 * strings joined and encoded again per batch). A write that would block
 * (EAGAIN: stdout is a non-blocking pipe whose reader is behind) keeps the
 * data and retries later without blocking the event loop; only the exit
 * flush waits for the reader, boundedly.
 */
import { writeSync } from "node:fs";

export interface LineWriterOptions {
  /** Write once this many bytes (UTF-16 code units, close enough) are pending. */
  readonly batchBytes?: number;
  /** A pending line waits at most this long. */
  readonly flushMs?: number;
  /**
   * Other processes write lines to the same pipe (cluster workers): every
   * write(2) is then at most PIPE_BUF bytes and ends at a line's end, since
   * only writes that small are atomic on a pipe (pipe(7)); larger ones could
   * be interleaved mid-line with another writer's.
   */
  readonly shared?: boolean;
}

/** pipe(7): writes of at most this many bytes are atomic. */
const PIPE_BUF = 4096;

const DEFAULT_BATCH_BYTES = 16 * 1024;
const DEFAULT_FLUSH_MS = 100;
/** At exit, how long to wait for a reader that is behind before giving up on the rest. */
const EXIT_WAIT_MS = 5_000;
const RETRY_MS = 10;

export class LineWriter {
  /** Lines are encoded straight into this buffer, reused from batch to batch. */
  private readonly buf: Buffer;
  private used = 0;
  /** Bytes a previous write could not place (EAGAIN or a short write), in order before `buf`'s. */
  private backlog: Buffer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly batchBytes: number;
  private readonly flushMs: number;
  private readonly shared: boolean;

  constructor(
    private readonly fd: number,
    options: LineWriterOptions = {},
  ) {
    this.batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;
    this.shared = options.shared ?? false;
    this.buf = Buffer.allocUnsafe(Math.max(4 * this.batchBytes, 64 * 1024));
    process.on("exit", this.flushAtExit);
  }

  /** Takes one or more complete lines (each ending in "\n"). Never blocks. */
  write(lines: string): boolean {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (lines.length * 3 > this.buf.length - this.used) {
      this.flush();
      if (lines.length * 3 > this.buf.length) {
        this.backlog = this.backlog === null ? Buffer.from(lines) : Buffer.concat([this.backlog, Buffer.from(lines)]);
        this.flush();
        return true;
      }
    }
    this.used += this.buf.write(lines, this.used);
    if (this.used >= this.batchBytes) this.flush();
    else this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    return true;
  }

  /** Writes what is pending now, as far as the descriptor takes it without blocking. (`done`: pino's flush callback.) */
  flush(done?: () => void): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.used > 0) {
      const batch = this.buf.subarray(0, this.used);
      this.used = 0;
      if (this.backlog === null) {
        const rest = this.writeOut(batch);
        // a copy: the buffer is reused for the next batch
        if (rest !== null) this.backlog = Buffer.from(rest);
      } else {
        this.backlog = Buffer.concat([this.backlog, batch]);
      }
    }
    if (this.backlog !== null) this.backlog = this.writeOut(this.backlog);
    if (this.backlog !== null) this.timer = setTimeout(this.onTimer, RETRY_MS).unref();
    done?.();
  }

  /** Stops the exit hook (tests that make many writers). Pending lines are flushed first. */
  close(): void {
    this.flush();
    process.off("exit", this.flushAtExit);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  /** Writes `data`; returns what is left when the descriptor would block (EAGAIN), else null. */
  private writeOut(data: Buffer): Buffer | null {
    while (data.length > 0) {
      let written: number;
      try {
        written = writeSync(this.fd, data, 0, this.shared ? atomicLength(data) : data.length);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return data;
        // stdout closed or broken (EPIPE, EBADF): nobody reads these lines; drop them rather than crash the proxy.
        return null;
      }
      data = data.subarray(written);
    }
    return null;
  }

  private readonly flushAtExit = (): void => {
    const deadline = Date.now() + EXIT_WAIT_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      this.flush();
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      if (this.backlog === null || Date.now() >= deadline) return;
      // The reader is behind: wait a little for it, synchronously (nothing else runs at exit).
      Atomics.wait(pause, 0, 0, RETRY_MS);
    }
  };
}

/** The longest prefix of `data` that is at most PIPE_BUF bytes and ends at a line's end (a longer line goes alone). */
function atomicLength(data: Buffer): number {
  if (data.length <= PIPE_BUF) return data.length;
  const end = data.lastIndexOf(0x0a, PIPE_BUF - 1);
  if (end !== -1) return end + 1;
  const next = data.indexOf(0x0a, PIPE_BUF);
  return next === -1 ? data.length : next + 1;
}
