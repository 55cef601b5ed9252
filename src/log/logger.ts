/**
 * pino, configured once. Logs are JSON lines on stdout through a LineWriter
 * (./line-writer.ts): batched, written synchronously, a line held back at
 * most 100 ms, everything pending written at exit.
 *
 * Key material never reaches a logger: nothing that holds it is passed to
 * one (tests assert no line carries a PEM block). pino's `redact` was tried
 * as a second guard and cost 60% more per line.
 */
import cluster from "node:cluster";
import pino, { type DestinationStream, type Logger } from "pino";
import { LineWriter } from "./line-writer.js";

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** Where lines go; default: stdout through a LineWriter. */
  readonly destination?: DestinationStream;
  /** Cluster workers will share this process's stdout (the primary says so; workers know). */
  readonly sharedStdout?: boolean;
}

let stdoutWriter: LineWriter | undefined;

/** One writer for stdout per process, whoever logs: lines from two writers could interleave mid-batch. */
export function stdoutLines(shared = false): LineWriter {
  stdoutWriter ??= new LineWriter(1, { shared: shared || cluster.isWorker });
  return stdoutWriter;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? stdoutLines(options.sharedStdout);
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
