/**
 * pino, configured once. Logs are JSON lines on stdout; the destination is
 * asynchronous so the access log does not block the request path (pino's
 * SonicBoom buffers and flushes in the background; `flush()` on shutdown).
 */
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** Where lines go; default: stdout through an asynchronous SonicBoom. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Key material never reaches a log line, whatever an error object carries.
      redact: { paths: ["key", "*.key", "keyPem", "*.keyPem", "passphrase", "*.passphrase"], censor: "[redacted]" },
    },
    destination,
  );
}
