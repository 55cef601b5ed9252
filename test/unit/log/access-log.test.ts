/**
 * The hand-built access line is the JSON pino would write for the same
 * fields, whatever the values hold (quotes, backslashes, control characters,
 * U+2028, lone surrogates from a certificate or an ACL entry), and its time
 * is what Date#toISOString gives.
 */
import { Writable } from "node:stream";
import fc from "fast-check";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { AccessLog, type ConnectionLogFields, IsoClock, type RequestLogFields } from "../../../src/log/access-log.js";
import { createLogger } from "../../../src/log/logger.js";

class Lines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString("utf8"));
    done();
  }
}

/**
 * pino writes a lone surrogate in a request field as is, and UTF-8 turns it
 * into U+FFFD on the way out; the hand-built line escapes it (\\ud800),
 * keeping what the value held. Both are compared after that replacement.
 */
function wellFormed(value: unknown): unknown {
  if (typeof value === "string") return Buffer.from(value, "utf8").toString("utf8");
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wellFormed(v)]));
  return value;
}

/** pino as src/log/logger.ts configures it, with the time fixed to `now`. */
function pinoLine(conn: ConnectionLogFields, fields: RequestLogFields, now: number): string {
  const out = new Lines();
  const logger = pino(
    { level: "info", base: { pid: process.pid }, timestamp: () => `,"time":"${new Date(now).toISOString()}"`, formatters: { level: (label) => ({ level: label }) } },
    out,
  );
  const bindings = conn.peer === null ? { listener: conn.listener, remote: conn.remote } : { listener: conn.listener, remote: conn.remote, peer: conn.peer };
  logger.child(bindings).info(fields.route === "" ? { ...fields, route: undefined, entry: undefined } : fields, "request");
  return out.lines.join("");
}

const text = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom('"', "\\", "\u0000\u001f", "\u2028\u2029", "\ud800", "\udfff x", "é😀", "</script>"));
const connection = fc.record({
  listener: text,
  remote: text,
  peer: fc.option(fc.record({ cn: fc.option(text, { nil: undefined }), ou: fc.array(text, { maxLength: 3 }), o: fc.array(text, { maxLength: 2 }), serial: text }, { requiredKeys: ["serial", "ou", "o"] }), { nil: null }),
});
const request = fc.record(
  {
    requestId: text,
    protocol: fc.constantFrom("http1", "h2", "grpc", "websocket"),
    method: text,
    path: text,
    route: fc.oneof(fc.constant(""), text),
    entry: fc.option(text, { nil: null }),
    decision: fc.constantFrom("allow", "deny", "would_deny", "error"),
    status: fc.integer({ min: 100, max: 599 }),
    durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    shadow: fc.option(fc.record({ decision: fc.constantFrom("allow", "deny"), entry: fc.option(text, { nil: null }) }), { nil: undefined }),
    bytesFromClient: fc.option(fc.nat(), { nil: undefined }),
    bytesToClient: fc.option(fc.nat(), { nil: undefined }),
    closedBy: fc.option(fc.option(text, { nil: null }), { nil: undefined }),
  },
  { requiredKeys: ["requestId", "protocol", "method", "path", "route", "entry", "decision", "status", "durationMs"] },
);

describe("access line", () => {
  it("is one line of the same JSON as pino's for the same fields", () => {
    const log = new AccessLog(createLogger({ level: "info", destination: new Lines() }));
    fc.assert(
      fc.property(connection, request, fc.integer({ min: 0, max: 4_102_444_800_000 }), (conn, fields, now) => {
        const mine = log.line(log.connection(conn as ConnectionLogFields), fields as RequestLogFields, now);
        const reference = pinoLine(conn as ConnectionLogFields, fields as RequestLogFields, now);
        expect(mine.endsWith("\n")).toBe(true);
        expect(mine.slice(0, -1)).not.toMatch(/[\n\r]/);
        expect(wellFormed(JSON.parse(mine))).toEqual(wellFormed(JSON.parse(reference)));
        // and in pino's order of keys
        expect(Object.keys(JSON.parse(mine))).toEqual(Object.keys(JSON.parse(reference)));
      }),
      { numRuns: 500 },
    );
  });

  it("goes to the logger's destination, in order with its other lines, and not at all above level info", () => {
    const out = new Lines();
    const logger = createLogger({ level: "info", destination: out });
    const log = new AccessLog(logger);
    const conn = log.connection({ listener: "inbound", remote: "127.0.0.1", peer: null });
    const fields: RequestLogFields = { requestId: "r1", protocol: "http1", method: "GET", path: "/", route: "", entry: null, decision: "error", status: 400, durationMs: 0.5 };
    logger.info("before");
    log.request(conn, fields);
    logger.info("after");
    expect(out.lines.map((l) => JSON.parse(l).msg)).toEqual(["before", "request", "after"]);

    const quiet = new Lines();
    const warnOnly = new AccessLog(createLogger({ level: "warn", destination: quiet }));
    warnOnly.request(warnOnly.connection({ listener: "inbound", remote: "127.0.0.1", peer: null }), fields);
    expect(quiet.lines).toEqual([]);
  });

  it("time: the cached second plus milliseconds is Date#toISOString", () => {
    const clock = new IsoClock();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 2500 }), (starts, step) => {
        for (const start of starts) for (const ms of [start, start + step, start + 2 * step]) expect(clock.format(ms)).toBe(new Date(ms).toISOString());
      }),
    );
  });
});
