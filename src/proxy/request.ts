/**
 * What the pipelines need of a request, whichever protocol carried it: its
 * authority, whether its framing is acceptable, its header list, its body
 * and trailers. Each front door builds one per request; the inbound and
 * outbound pipelines never look at the protocol objects themselves.
 */
import type { IncomingMessage } from "node:http";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { headerCountExceeded } from "../http/header-count.js";
import type { RequestBody } from "./exchange.js";

export type Trailers = Readonly<Record<string, string | string[]>>;

export interface ProxiedRequest {
  /** The Host header (HTTP/1.1) or :authority (HTTP/2); undefined when absent. */
  readonly authority: string | undefined;
  /** Why the request's framing is refused before anything else looks at it, or null. */
  readonly framingProblem: string | null;
  /** The header list as received, flat; HTTP/2 pseudo-headers are among them (the header filter skips them). */
  readonly rawHeaders: readonly string[];
  /** The Connection header, whose tokens name more hop-by-hop headers (HTTP/1.1 only). */
  readonly connection: string | undefined;
  readonly body: RequestBody | null;
  /** One header's value (a lower-case name), the first where the request repeats it. */
  header(name: string): string | undefined;
  /** The request's trailers, once its body has ended; null when it sent none. */
  trailers(): Trailers | null;
}

/**
 * `limits.maxHeaderCount` for a request's trailers: more than `max` fields
 * and `overflow` runs (the exchange answers 431 and cancels its upstream
 * request) before the request can end upstream.
 */
export interface TrailerLimit {
  readonly max: number;
  readonly overflow: () => void;
}

/** An HTTP/1.1 request as the pipeline sees it. */
export class Http1Request implements ProxiedRequest {
  readonly framingProblem: string | null;
  readonly body: RequestBody | null;

  constructor(
    private readonly req: IncomingMessage,
    trailerLimit: TrailerLimit | null = null,
    /** A WebSocket handshake (Node handed the request over with `Connection: upgrade`): it has no body. */
    handshake = false,
  ) {
    this.framingProblem = http1FramingProblem(req) ?? (handshake ? handshakeProblem(req) : null);
    const body = handshake ? null : http1Body(req);
    // Only a chunked body can carry trailers.
    this.body = body !== null && trailerLimit !== null && req.headers["transfer-encoding"] !== undefined ? new TrailerCountedBody(req, trailerLimit) : body;
  }

  get authority(): string | undefined {
    return this.req.headers.host;
  }

  get rawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }

  get connection(): string | undefined {
    return this.req.headers.connection;
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return typeof value === "string" ? value : value?.[0];
  }

  trailers(): Trailers | null {
    const trailers = this.req.trailers;
    return hasAny(trailers) ? (trailers as Trailers) : null;
  }
}

/**
 * A chunked body on its way upstream, held back at its end until the
 * trailers have been counted: trailers arrive after the last chunk, and a
 * request with too many of them must not complete upstream. If they pass,
 * the stream ends; if not, the limit's `overflow` runs and the stream fails
 * instead of ending, so no final chunk is written. (Reading the request
 * itself would not do: once its body is all in, undici sends it with a
 * Content-Length, complete before the trailers are looked at.)
 */
class TrailerCountedBody extends Transform {
  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: TrailerLimit,
  ) {
    super();
    req.on("error", (err) => this.destroy(err));
    req.pipe(this);
  }

  get complete(): boolean {
    return this.req.complete;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!headerCountExceeded(this.req.rawTrailers, this.limit.max)) return callback();
    this.limit.overflow();
    callback(new Error("too many trailer fields"));
  }
}

/** An HTTP/1.1 request's body, or null when it has none (no body is sent upstream then). */
export function http1Body(req: IncomingMessage): RequestBody | null {
  const length = req.headers["content-length"];
  if (length !== undefined) return length === "0" ? null : req;
  return req.headers["transfer-encoding"] !== undefined ? req : null;
}

/**
 * RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host header; with
 * two, the route and the upstream could each read a different one. An
 * `Upgrade` to anything but WebSocket is refused: `Upgrade: h2c` would let a
 * client speak HTTP/2 straight to the upstream, past the ACL. (`Upgrade:
 * websocket` without `Connection: Upgrade` is no handshake; as a hop-by-hop
 * header it is simply not passed on.)
 */
function http1FramingProblem(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (hosts > 1) return "more than one Host header";
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return "an HTTP/1.1 request without a Host header";
  const upgrade = req.headers.upgrade;
  if (upgrade !== undefined && !isWebSocketUpgrade(upgrade)) return `Upgrade: ${upgrade} is refused (guardpost upgrades only to WebSocket)`;
  return null;
}

/**
 * RFC 6455 section 4.1: the opening handshake is an HTTP/1.1 GET. A body
 * would have no place to go (after the 101 the bytes are WebSocket frames)
 * and is refused rather than read as frames.
 */
function handshakeProblem(req: IncomingMessage): string | null {
  if (req.method !== "GET") return `a WebSocket handshake is a GET, not ${req.method}`;
  if (req.httpVersionMinor < 1) return "a WebSocket handshake needs HTTP/1.1";
  const length = req.headers["content-length"];
  if ((length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined) return "a WebSocket handshake has no body";
  return null;
}

/** Whether an Upgrade header asks for WebSocket and nothing else. */
export function isWebSocketUpgrade(upgrade: string): boolean {
  return upgrade.trim().toLowerCase() === "websocket";
}

/** An HTTP/2 stream's request as the pipeline sees it. */
export class Http2Request implements ProxiedRequest {
  readonly authority: string | undefined;
  readonly framingProblem: string | null;
  readonly body: RequestBody | null;
  private received: Trailers | null = null;

  constructor(
    stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    readonly rawHeaders: readonly string[],
    trailerLimit: TrailerLimit | null = null,
  ) {
    const authority = headers[":authority"];
    const host = headers.host;
    this.authority = authority ?? host;
    this.framingProblem = http2FramingProblem(headers, authority, host);
    // A stream whose HEADERS ended it has no body. The body is read through its own stream: upstream
    // clients destroy a body they have sent, and the HTTP/2 stream is also where the answer goes.
    this.body = stream.endAfterHeaders ? null : stream.pipe(new PassThrough());
    if (this.body !== null) {
      stream.once("trailers", (trailers: IncomingHttpHeaders) => {
        // The trailing HEADERS frame ends the stream: counted here, before the body can end upstream.
        if (trailerLimit !== null && fieldCount(trailers) > trailerLimit.max) return trailerLimit.overflow();
        this.received = trailers as Trailers;
      });
    }
  }

  get connection(): string | undefined {
    return undefined;
  }

  header(name: string): string | undefined {
    const value = this.headers[name];
    return typeof value === "string" ? value : value?.[0];
  }

  trailers(): Trailers | null {
    return this.received;
  }
}

/**
 * What nghttp2 lets through but guardpost refuses: no authority at all (every
 * route and upstream needs one), an :authority and a Host that disagree (the
 * route and the upstream could each read a different one, RFC 9113 section
 * 8.3.1), and CONNECT, which guardpost does not tunnel.
 */
function http2FramingProblem(headers: IncomingHttpHeaders, authority: string | undefined, host: string | undefined): string | null {
  if (headers[":method"] === "CONNECT") return "CONNECT is not supported";
  if (authority === undefined && host === undefined) return "an HTTP/2 request without :authority or Host";
  if (authority !== undefined && host !== undefined && authority !== host) return ":authority and Host differ";
  return null;
}

/** Header fields in a header object, each value of a repeated one counted. */
function fieldCount(headers: IncomingHttpHeaders): number {
  let count = 0;
  for (const name in headers) {
    const value = headers[name];
    count += Array.isArray(value) ? value.length : 1;
  }
  return count;
}

function hasAny(record: object): boolean {
  for (const _ in record) return true;
  return false;
}

/**
 * A gRPC call's deadline from its `grpc-timeout` header (up to 8 digits and a
 * unit: H M S m u n), in milliseconds; undefined when absent or malformed.
 */
export function grpcTimeoutMs(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * GRPC_TIMEOUT_UNITS.get(match[2]!)!;
}

const GRPC_TIMEOUT_UNITS: ReadonlyMap<string, number> = new Map([
  ["H", 3_600_000],
  ["M", 60_000],
  ["S", 1_000],
  ["m", 1],
  ["u", 1e-3],
  ["n", 1e-6],
]);

/** `application/grpc`, `application/grpc+proto`, `application/grpc;...`: a gRPC call (grpc-web is plain HTTP). */
export function isGrpc(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.startsWith("application/grpc")) return false;
  const next = contentType.charCodeAt(16);
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b /* ; */;
}
