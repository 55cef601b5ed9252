/**
 * The access log: one JSON line per request, written when the request
 * completes. What is fixed for a connection (listener, peer, remote address)
 * is serialized once per connection; a request adds only its own fields.
 *
 *   {"level":"info","time":...,"pid":...,"listener":"inbound",
 *    "remote":"10.1.2.3","peer":{"cn":"web-01","ou":["web"],"serial":"0A1B"},
 *    "requestId":"...","protocol":"http1","method":"GET","path":"/user/42",
 *    "route":"inbound","entry":"GET /user/{id}","decision":"allow",
 *    "status":200,"durationMs":1.234,"msg":"request"}
 *
 * A WebSocket tunnel's line (written when it closes) adds bytesFromClient,
 * bytesToClient and closedBy.
 *
 * The line is built by hand rather than by pino: measured in the bench
 * (keep-alive GET, 8 rounds, CPU per request paired per round), pino's
 * per-line work (asJson over the merged object, a new Date().toISOString(),
 * the child's bindings) was most of what the access log cost once the
 * writes were batched. It is the same JSON pino writes for the same fields
 * (test/unit/log/access-log.test.ts compares them), through the logger's own
 * destination, so access lines and other lines stay in order.
 */
import pino from "pino";
import { ATTRIBUTES, type PeerAttributes } from "../identity/attributes.js";
import type { Logger } from "./logger.js";

/** The peer as access lines show it: `cn` (the first CN), `ou` and every other attribute present as arrays, and the serial. */
export interface PeerLogFields {
  readonly cn?: string;
  readonly serial: string;
  readonly [attribute: string]: string | readonly string[] | undefined;
}

export interface ConnectionLogFields {
  readonly listener: string;
  readonly remote: string;
  /** Null on outbound listeners, where the client is the local service. */
  readonly peer: PeerLogFields | null;
}

export interface RequestLogFields {
  readonly requestId: string;
  readonly protocol: string;
  readonly method: string;
  readonly path: string;
  /** Empty when no route was chosen (the request was refused before routing). */
  readonly route: string;
  readonly entry: string | null;
  readonly decision: string;
  readonly status: number;
  readonly durationMs: number;
  /** The shadow ACL's decision, when the route has one. */
  readonly shadow?: { readonly decision: string; readonly entry: string | null } | undefined;
  /** A WebSocket tunnel's bytes from the client to the upstream (frames, not TLS records). */
  readonly bytesFromClient?: number | undefined;
  /** A WebSocket tunnel's bytes from the upstream to the client. */
  readonly bytesToClient?: number | undefined;
  /** What closed a WebSocket tunnel: client, upstream, idle, peer_expired, peer_untrusted, drain, shutdown, error. */
  readonly closedBy?: string | null | undefined;
}

/** What a connection's lines share; made once per connection by `AccessLog.connection`. */
export interface AccessLogConnection {
  /** `"listener":...,"remote":...,"peer":{...}`: the connection's fields, serialized. */
  readonly fields: string;
}

/** By the (frozen, shared) attributes of a peer identity: a client's reconnections reuse its log fields and their JSON. */
const peerFieldsCache = new WeakMap<PeerAttributes, PeerLogFields>();
const peerJsonCache = new WeakMap<PeerLogFields, string>();

export function peerLogFields(attributes: PeerAttributes, serial: string): PeerLogFields {
  const known = peerFieldsCache.get(attributes);
  if (known !== undefined && known.serial === serial) return known;
  const fields: Record<string, string | readonly string[]> = {};
  const cn = attributes.CN?.[0];
  if (cn !== undefined) fields.cn = cn;
  for (const attribute of ATTRIBUTES) {
    const values = attributes[attribute];
    if (attribute !== "CN" && values !== undefined) fields[attribute.toLowerCase()] = values;
  }
  fields.serial = serial;
  const frozen = Object.freeze(fields) as unknown as PeerLogFields;
  peerFieldsCache.set(attributes, frozen);
  return frozen;
}

interface Destination {
  write(line: string): unknown;
}

/**
 * ISO 8601 UTC time of `ms`, as pino's isoTime writes it, with the part up
 * to the second made once per second rather than a Date per line.
 */
export class IsoClock {
  private second = Number.NaN;
  private head = "";

  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      // "2026-12-02T03:27:35." (toISOString of a whole second ends in ".000Z")
      this.head = new Date(second * 1000).toISOString().slice(0, -4);
    }
    const milli = ms - second * 1000;
    return `${this.head}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
  }
}

/** Printable ASCII other than `"` and `\`: such a string is its own JSON literal between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * A string as a JSON string literal. Anything else than plain ASCII goes
 * through JSON.stringify, which escapes quotes, backslashes, control
 * characters and lone surrogates; the test is about twice as fast as calling
 * it for the usual plain values (measured: 75 against 150 ns).
 */
function str(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

const HEAD = `{"level":"info","time":"`;

/** pino's number for level info. */
const INFO_LEVEL = 30;

export class AccessLog {
  private readonly destination: Destination | null;
  private readonly pidField = `","pid":${process.pid},`;
  private readonly clock = new IsoClock();

  /**
   * Lines go where `logger`'s lines go, at level info: while the logger is
   * set above info (a config reload may change it), no access line is written.
   */
  constructor(private readonly logger: Logger) {
    const destination = (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
    this.destination = destination ?? null;
  }

  /** Once per connection: the connection's fields are serialized here, not per line (the peer's once per certificate). */
  connection(fields: ConnectionLogFields): AccessLogConnection {
    const head = `"listener":${str(fields.listener)},"remote":${str(fields.remote)}`;
    if (fields.peer === null) return { fields: head };
    let peer = peerJsonCache.get(fields.peer);
    if (peer === undefined) {
      peer = JSON.stringify(fields.peer);
      peerJsonCache.set(fields.peer, peer);
    }
    return { fields: `${head},"peer":${peer}` };
  }

  request(conn: AccessLogConnection, fields: RequestLogFields): void {
    if (this.destination === null || this.logger.levelVal > INFO_LEVEL) return;
    this.destination.write(this.line(conn, fields, Date.now()));
  }

  /** The line for one request, ending in "\n". */
  line(conn: AccessLogConnection, f: RequestLogFields, now: number): string {
    let line = `${HEAD}${this.clock.format(now)}${this.pidField}${conn.fields},"requestId":${str(f.requestId)},"protocol":${str(f.protocol)},"method":${str(f.method)},"path":${str(f.path)}`;
    if (f.route !== "") line += `,"route":${str(f.route)},"entry":${f.entry === null ? "null" : str(f.entry)}`;
    line += `,"decision":${str(f.decision)},"status":${f.status},"durationMs":${Number.isFinite(f.durationMs) ? f.durationMs : "null"}`;
    if (f.shadow !== undefined) line += `,"shadow":{"decision":${str(f.shadow.decision)},"entry":${f.shadow.entry === null ? "null" : str(f.shadow.entry)}}`;
    if (f.bytesFromClient !== undefined) line += `,"bytesFromClient":${f.bytesFromClient}`;
    if (f.bytesToClient !== undefined) line += `,"bytesToClient":${f.bytesToClient}`;
    if (f.closedBy !== undefined) line += `,"closedBy":${f.closedBy === null ? "null" : str(f.closedBy)}`;
    return `${line},"msg":"request"}\n`;
  }
}
