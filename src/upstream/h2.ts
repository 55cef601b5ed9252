/**
 * HTTP/2 upstreams over node:http2: an h2c:// service (prior knowledge), or
 * an outbound server that chose h2 by ALPN. One session per upstream, its
 * streams multiplexed, a new session when the old one closes or goes away.
 *
 * Each request reports to its handler through undici's dispatch-handler
 * calls, so an Exchange forwards to HTTP/1.1 and HTTP/2 upstreams alike.
 * What node:http2 gives that undici 7 does not (src/upstream/upstream.ts):
 * response trailers, request trailers, RST_STREAM(CANCEL) when the client
 * goes away, and connection-specific request headers dropped here rather
 * than thrown on.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { Limits } from "../config/schema.js";
import { UpstreamProtocolError, UpstreamResetError, UpstreamTimeoutError } from "./errors.js";
import { failDispatch, type Upstream, type UpstreamRequest } from "./upstream.js";

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/**
 * RFC 9113 section 8.2.2: connection-specific fields are malformed in HTTP/2,
 * and node:http2 throws on them; `te` may only say "trailers".
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings", "host"]);

export type UpstreamLimits = Pick<Limits, "upstreamConnectTimeout" | "upstreamResponseTimeout" | "upstreamBodyTimeout">;

export interface Http2UpstreamOptions {
  /** http://host:port for h2c, https://host:port for TLS. */
  readonly origin: string;
  /** Makes the transport for a new session (a unix socket, or a TLS socket with the client certificate); default: TCP to the origin. */
  readonly createConnection?: (() => Duplex) | undefined;
  readonly limits: UpstreamLimits;
  /** How long a session with no streams stays open. */
  readonly idleMs: number;
}

/** A session and the first error it reported (a connect failure shows on the session, not the stream). */
interface SessionState {
  readonly session: ClientHttp2Session;
  error: Error | null;
}

export class Http2Upstream implements Upstream {
  readonly speaksH2 = true;
  readonly carriesUpgrade = false;
  private current: SessionState | null = null;
  private readonly sessions = new Set<SessionState>();

  constructor(private readonly options: Http2UpstreamOptions) {}

  dispatch(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    // The pipelines refuse this before forwarding; here so that no caller can lose the upgrade silently.
    if (request.upgrade !== undefined) return failDispatch(handler, new UpstreamProtocolError("an HTTP/2 upstream cannot carry an HTTP/1.1 upgrade"));
    new Http2Call(this.session(), request, handler, this.options.limits).start();
  }

  async close(): Promise<void> {
    this.current = null;
    await Promise.all([...this.sessions].map(({ session }) => new Promise<void>((resolve) => (session.closed ? resolve() : session.close(() => resolve())))));
  }

  async destroy(): Promise<void> {
    this.current = null;
    for (const { session } of this.sessions) session.destroy();
    this.sessions.clear();
  }

  private session(): SessionState {
    const current = this.current;
    if (current !== null && !current.session.closed && !current.session.destroyed) return current;
    const { origin, createConnection, limits, idleMs } = this.options;
    const session = http2.connect(origin, createConnection === undefined ? {} : { createConnection });
    const state: SessionState = { session, error: null };
    this.current = state;
    this.sessions.add(state);
    const connectTimer = setTimeout(() => session.destroy(new UpstreamTimeoutError("connect")), limits.upstreamConnectTimeout);
    session.once("connect", () => clearTimeout(connectTimer));
    // Unhandled, a session error (a refused connection, a GOAWAY with an error code) would end the process.
    session.on("error", (err: Error) => {
      state.error ??= err;
    });
    session.on("goaway", () => {
      if (this.current === state) this.current = null;
    });
    session.once("close", () => {
      clearTimeout(connectTimer);
      this.sessions.delete(state);
      if (this.current === state) this.current = null;
    });
    // An idle session is closed; one with streams open is not idle (node:http2 counts frames).
    session.setTimeout(idleMs, () => session.close());
    return state;
  }
}

/** One request on a session: the controller undici's handler API expects, over an HTTP/2 stream. */
class Http2Call implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private stream: ClientHttp2Stream | null = null;
  private done = false;
  private responded = false;
  private trailers: IncomingHttpHeaders | null = null;

  constructor(
    private readonly state: SessionState,
    private readonly request: UpstreamRequest,
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly limits: UpstreamLimits,
  ) {}

  start(): void {
    this.handler.onRequestStart?.(this, {});
    if (this.aborted) return;
    const { request } = this;
    const sendsTrailers = request.trailers !== undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = this.state.session.request(requestHeaders(request), { endStream: request.body === null && !sendsTrailers, waitForTrailers: sendsTrailers });
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.stream = stream;
    stream.setTimeout(this.limits.upstreamResponseTimeout, () => this.fail(new UpstreamTimeoutError(this.responded ? "body" : "headers")));
    stream.on("response", (headers, flags) => this.onResponse(headers, flags));
    stream.on("data", (chunk: Buffer) => {
      if (!this.done) this.handler.onResponseData?.(this, chunk);
    });
    stream.on("trailers", (trailers) => {
      this.trailers = trailers;
    });
    stream.on("end", () => this.finish());
    stream.on("error", (err) => this.fail(this.state.error ?? err));
    stream.on("close", () => this.fail(this.state.error ?? new UpstreamResetError(stream.rstCode)));
    if (sendsTrailers) stream.on("wantTrailers", () => stream.sendTrailers(outgoingTrailers(request.trailers!())));
    if (request.body !== null) request.body.pipe(stream);
    else if (sendsTrailers) stream.end();
  }

  private onResponse(headers: IncomingHttpHeaders, flags: number): void {
    if (this.done) return;
    this.responded = true;
    this.stream!.setTimeout(this.limits.upstreamBodyTimeout);
    const status = Number(headers[":status"]);
    this.handler.onResponseStart?.(this, status, headers as Record<string, string | string[]>, "");
    // A response that ends with its headers (a gRPC trailers-only answer) has no body and no trailers.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.stream?.setTimeout(0);
    this.handler.onResponseEnd?.(this, (this.trailers ?? {}) as Record<string, string | string[]>);
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    const stream = this.stream;
    if (stream !== null && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    this.request.body?.unpipe(stream ?? undefined);
    this.handler.onResponseError?.(this, error);
  }

  // The controller's side: what the Exchange asks of this request.

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
    this.fail(reason);
  }
}

/** The request's pseudo-headers and fields for node:http2; `host` becomes `:authority`, connection-specific fields are dropped. */
function requestHeaders(request: UpstreamRequest): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ":method": request.method, ":path": request.path };
  const headers = request.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    if (name === "host") out[":authority"] = value;
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 0x3a) continue;
    if (name === "te" && value.trim().toLowerCase() !== "trailers") continue;
    const previous = out[name];
    out[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
  }
  return out;
}

function outgoingTrailers(trailers: Readonly<Record<string, string | string[]>> | null): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (trailers === null) return out;
  for (const name in trailers) if (!CONNECTION_SPECIFIC.has(name) && name.charCodeAt(0) !== 0x3a) out[name] = trailers[name];
  return out;
}
