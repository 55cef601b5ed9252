/** A pino destination that keeps every JSON line, so tests assert on parsed log records. */
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log/logger.js";

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export class LogSink extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") this.lines.push(line);
    callback();
  }

  get records(): LogRecord[] {
    return this.lines.map((line) => JSON.parse(line) as LogRecord);
  }

  /** Records whose fields include every key/value of `match`. */
  find(match: Record<string, unknown>): LogRecord[] {
    return this.records.filter((record) => Object.entries(match).every(([key, value]) => record[key] === value));
  }

  text(): string {
    return this.lines.join("\n");
  }

  logger(level = "info"): Logger {
    return createLogger({ level, destination: this });
  }
}
