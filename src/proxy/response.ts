/**
 * Where an exchange's answer goes, one implementation per way a client is
 * answered: an HTTP/1.1 response object, an HTTP/2 stream, a gRPC call (an
 * HTTP/2 stream whose errors are gRPC statuses), or a raw socket (a request
 * Node's parser refused before there was a response object). The Exchange
 * decides what to send; these know how.
 */
import { STATUS_CODES, type ServerResponse } from "node:http";
import http2, { type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { AnswerErrorInfo } from "../errors.js";
import { clientResponseHeaderObject, clientResponseHeaders, type UpstreamHeaders } from "../http/forwarded-headers.js";
import { grpcMessage } from "../http/grpc-message.js";
import type { Trailers } from "./request.js";
import { lingerAfterResponse, lingeringClose } from "./linger.js";
import { Tunnel, type TunnelOptions } from "./tunnel.js";

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** What guardpost's own answer names: the request it answers. */
export interface AnswerSubject {
  readonly method: string;
  readonly path: string;
  readonly requestId: string;
}

/** What a response target reports back to its exchange. */
export interface ResponseEvents {
  clientDrained(): void;
  clientClosed(): void;
}

/** The answer's side of an exchange, as the Exchange drives it. */
export interface ResponseTarget {
  /** guardpost's own answer; returns the status the client sees. */
  answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined, close: boolean): number;
  /** The upstream's status and headers. */
  start(status: number, headers: UpstreamHeaders, requestId: string): void;
  /** False when the client is not keeping up: wait for `waitForDrain`. */
  write(chunk: Buffer): boolean;
  /** Calls `events.clientDrained()` once, when the client can take more. */
  waitForDrain(events: ResponseEvents): void;
  end(trailers: Trailers | null): void;
  /** The upstream failed after the head was sent: the honest signal this protocol has for it. */
  fail(info: AnswerErrorInfo, reason: string): void;
  /** From now on, calls `events.clientClosed()` when the client goes away (also once the answer is complete). */
  watchClient(events: ResponseEvents): void;
  /** Whether the status line (or HEADERS frame) has been sent. */
  readonly headersSent: boolean;
  /** Whether the client is gone. */
  readonly clientGone: boolean;
  /** The connection is closed after this answer (HTTP/2: the session goes away; its other streams finish). */
  closeAfter(): void;
  /**
   * The upstream accepted a WebSocket upgrade: the 101 goes to the client
   * and the two sockets become a tunnel, which calls `onClose` once when it
   * has closed. Only a WebSocket handshake's target has it.
   */
  upgrade?(headers: UpstreamHeaders, requestId: string, upstream: Duplex, onClose: (tunnel: Tunnel) => void): Tunnel;
}

/**
 * guardpost's own JSON body, of one shape:
 * `{"error":..., "method":..., "path":..., "requestId":...}` plus `reason`
 * where it helps the caller and reveals nothing about the policy.
 */
export function errorBody(name: string, subject: AnswerSubject, reason: string | undefined): string {
  let body = `{"error":"${name}","method":${JSON.stringify(subject.method)},"path":${JSON.stringify(subject.path)},"requestId":${JSON.stringify(subject.requestId)}`;
  if (reason !== undefined) body += `,"reason":${JSON.stringify(reason)}`;
  return `${body}}`;
}

function jsonAnswerHeaders(body: string, requestId: string): string[] {
  return ["content-type", "application/json", "content-length", String(Buffer.byteLength(body)), "x-request-id", requestId];
}

/** The exchange a response object or stream reports to, kept on it so the listeners below are shared functions, not closures per request. */
const EVENTS = Symbol("guardpost.responseEvents");
type Watched = { [EVENTS]?: ResponseEvents };

function onClientClose(this: Watched): void {
  this[EVENTS]?.clientClosed();
}
function onClientDrain(this: Watched): void {
  this[EVENTS]?.clientDrained();
}

/** An HTTP/1.1 response object. */
export class HttpResponse implements ResponseTarget {
  constructor(private readonly res: ServerResponse) {}

  answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined, close: boolean): number {
    const body = errorBody(info.name, subject, reason);
    if (close) {
      this.res.shouldKeepAlive = false;
      // The request may not have been read to its end: close in stages, so the answer is not lost to a reset.
      lingerAfterResponse(this.res.socket);
    }
    this.res.writeHead(info.httpStatus, jsonAnswerHeaders(body, subject.requestId));
    this.res.end(body);
    return info.httpStatus;
  }

  start(status: number, headers: UpstreamHeaders, requestId: string): void {
    this.res.writeHead(status, clientResponseHeaders(headers, requestId));
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  waitForDrain(events: ResponseEvents): void {
    (this.res as Watched)[EVENTS] = events;
    this.res.once("drain", onClientDrain);
  }

  end(trailers: Trailers | null): void {
    if (trailers !== null && this.res.chunkedEncoding) this.res.addTrailers(trailers);
    this.res.end();
  }

  fail(): void {
    // Headers are out; an incomplete message is the only honest signal HTTP/1.1 has left.
    this.res.destroy();
  }

  watchClient(events: ResponseEvents): void {
    (this.res as Watched)[EVENTS] = events;
    this.res.once("close", onClientClose);
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get clientGone(): boolean {
    return this.res.destroyed;
  }

  closeAfter(): void {
    this.res.shouldKeepAlive = false;
  }
}

/** An HTTP/2 stream (core API: no compat objects, about 40% cheaper per request). */
export class Http2Response implements ResponseTarget {
  /** Trailers the upstream sent, handed over when node:http2 asks for them. */
  protected trailers: Trailers | null = null;
  /** Whether the response was started with waitForTrailers, so its end must send trailers. */
  protected expectsTrailers = false;

  constructor(protected readonly stream: ServerHttp2Stream) {}

  answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined, close: boolean): number {
    const body = errorBody(info.name, subject, reason);
    if (close) this.closeAfter();
    if (this.stream.destroyed) return info.httpStatus;
    this.stream.respond({ ":status": info.httpStatus, "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-request-id": subject.requestId });
    this.stream.end(body);
    return info.httpStatus;
  }

  start(status: number, headers: UpstreamHeaders, requestId: string): void {
    // Trailers come only where the upstream announced them (Trailer:); waiting for them costs a frame.
    this.respondWithTrailers(clientResponseHeaderObject(status, headers, requestId), headers.trailer !== undefined);
  }

  protected respondWithTrailers(headers: Record<string, string | string[] | number>, trailers: boolean): void {
    if (this.stream.destroyed) return;
    this.expectsTrailers = trailers;
    this.stream.respond(headers, { waitForTrailers: trailers });
    if (trailers) this.stream.once("wantTrailers", () => this.stream.sendTrailers(this.trailers ?? {}));
  }

  write(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }

  waitForDrain(events: ResponseEvents): void {
    (this.stream as Watched)[EVENTS] = events;
    this.stream.once("drain", onClientDrain);
  }

  end(trailers: Trailers | null): void {
    if (this.expectsTrailers) this.trailers = trailers;
    this.stream.end();
  }

  fail(_info: AnswerErrorInfo, _reason: string): void {
    // Headers are out: the stream is reset, the only honest signal plain HTTP/2 has left.
    this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  watchClient(events: ResponseEvents): void {
    (this.stream as Watched)[EVENTS] = events;
    this.stream.once("close", onClientClose);
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get clientGone(): boolean {
    return this.stream.destroyed;
  }

  closeAfter(): void {
    // GOAWAY: no new streams on this connection; the ones in flight, this one included, finish.
    const session = this.stream.session;
    if (session !== undefined && !session.closed) session.close();
  }
}

/** A gRPC call: guardpost's own answers and late failures are gRPC statuses, never an HTTP error body. */
export class GrpcResponse extends Http2Response {
  /** Set when the answer was complete with its HEADERS frame (trailers-only): nothing more is sent. */
  private complete = false;

  override answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined, close: boolean): number {
    if (close) this.closeAfter();
    if (this.stream.destroyed) return 200;
    this.stream.respond(grpcStatusHeaders(info, subject, reason, { ":status": 200, "content-type": "application/grpc", "x-request-id": subject.requestId }), { endStream: true });
    this.complete = true;
    return 200;
  }

  override start(status: number, headers: UpstreamHeaders, requestId: string): void {
    const out = clientResponseHeaderObject(status, headers, requestId);
    // A gRPC answer whose headers hold its status is trailers-only, and must stay one HEADERS frame.
    if (headers["grpc-status"] !== undefined) {
      if (!this.stream.destroyed) this.stream.respond(out, { endStream: true });
      this.complete = true;
      return;
    }
    this.respondWithTrailers(out, true);
  }

  override end(trailers: Trailers | null): void {
    if (this.complete) return;
    super.end(trailers);
  }

  override fail(info: AnswerErrorInfo, reason: string): void {
    if (this.complete || this.stream.destroyed) return;
    this.trailers = grpcStatusHeaders(info, null, reason, {}) as Trailers;
    this.stream.end();
  }
}

/** grpc-status and grpc-message for an answer from guardpost, added to `base`. */
function grpcStatusHeaders(info: AnswerErrorInfo, subject: AnswerSubject | null, reason: string | undefined, base: Record<string, string | number>): Record<string, string | number> {
  let message = `guardpost: ${info.description}`;
  if (subject !== null) message += ` (${subject.method} ${subject.path}, request ${subject.requestId})`;
  if (reason !== undefined) message += `: ${reason}`;
  base["grpc-status"] = String(info.grpcStatus);
  base["grpc-message"] = grpcMessage(message);
  return base;
}

const STATUS_TEXT: ReadonlyMap<number, string> = new Map([
  [400, "Bad Request"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [408, "Request Timeout"],
  [413, "Content Too Large"],
  [431, "Request Header Fields Too Large"],
  [502, "Bad Gateway"],
  [504, "Gateway Timeout"],
]);

/** A complete HTTP/1.1 answer with guardpost's JSON body and `connection: close`, as raw bytes. */
export function rawAnswer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined): string {
  const body = errorBody(info.name, subject, reason);
  const headers = jsonAnswerHeaders(body, subject.requestId);
  let head = `HTTP/1.1 ${info.httpStatus} ${STATUS_TEXT.get(info.httpStatus) ?? "Error"}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}connection: close\r\n\r\n${body}`;
}

/**
 * A socket whose request Node's parser refused: guardpost writes a complete
 * HTTP/1.1 answer itself and closes the connection after it, in stages
 * (linger.ts), since the rest of the request is unread. A socket that can no
 * longer carry an answer (closed, or a TLS socket whose handshake never
 * completed: the bytes would wait forever) is closed without one.
 */
export class RawSocketResponse implements ResponseTarget {
  constructor(private readonly socket: Socket) {}

  answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined): number {
    const socket = this.socket;
    // Documented: alpnProtocol is null until a TLS handshake has completed.
    const handshakePending = "alpnProtocol" in socket && (socket as { alpnProtocol: unknown }).alpnProtocol === null;
    if (!socket.writable || handshakePending) {
      socket.destroy();
      return info.httpStatus;
    }
    lingeringClose(socket, rawAnswer(info, subject, reason));
    return info.httpStatus;
  }

  start(): void {
    throw new Error("a raw socket answer carries no upstream response");
  }

  write(): boolean {
    throw new Error("a raw socket answer carries no upstream response");
  }

  waitForDrain(): void {}

  end(): void {}

  fail(): void {
    this.socket.destroy();
  }

  watchClient(): void {}

  get headersSent(): boolean {
    return false;
  }

  get clientGone(): boolean {
    return this.socket.destroyed;
  }

  closeAfter(): void {}
}

/** Where a WebSocket handshake's tunnel is kept track of while it is open (the front end: for drain and shutdown). */
export interface TunnelHost {
  readonly options: TunnelOptions;
  opened(tunnel: Tunnel): void;
  closed(tunnel: Tunnel): void;
}

/**
 * A WebSocket handshake (an HTTP/1.1 request Node handed over with its
 * socket, out of HTTP): every answer is written raw and ends the connection
 * (the socket is no longer HTTP/1.1 keep-alive), except a 101, after which
 * the socket is the client's end of a tunnel. guardpost's own answers close
 * in stages, as a refused request's do (the client may have sent frames
 * behind its handshake).
 */
export class UpgradeResponse implements ResponseTarget {
  private sent = false;
  /** guardpost's own answers, as to a request Node's parser refused. */
  private readonly raw: RawSocketResponse;

  constructor(
    private readonly client: Socket,
    private readonly host: TunnelHost,
  ) {
    this.raw = new RawSocketResponse(client);
  }

  answer(info: AnswerErrorInfo, subject: AnswerSubject, reason: string | undefined): number {
    this.sent = true;
    return this.raw.answer(info, subject, reason);
  }

  /** A non-101 answer from the upstream, relayed whole and closed-delimited where it had no Content-Length. */
  start(status: number, headers: UpstreamHeaders, requestId: string): void {
    this.sent = true;
    this.client.write(`${statusLine(status)}${headerBlock(clientResponseHeaders(headers, requestId))}connection: close\r\n\r\n`);
  }

  write(chunk: Buffer): boolean {
    return this.client.write(chunk);
  }

  waitForDrain(events: ResponseEvents): void {
    (this.client as Watched)[EVENTS] = events;
    this.client.once("drain", onClientDrain);
  }

  end(): void {
    lingeringClose(this.client);
  }

  fail(): void {
    this.client.destroy();
  }

  watchClient(events: ResponseEvents): void {
    (this.client as Watched)[EVENTS] = events;
    this.client.once("close", onClientClose);
  }

  get headersSent(): boolean {
    return this.sent;
  }

  get clientGone(): boolean {
    return this.client.destroyed;
  }

  closeAfter(): void {
    // Every answer but a 101 ends the connection already.
  }

  upgrade(headers: UpstreamHeaders, requestId: string, upstream: Duplex, onClose: (tunnel: Tunnel) => void): Tunnel {
    this.sent = true;
    // Connection and Upgrade are hop-by-hop: this hop's own say that the connection switches to WebSocket.
    this.client.write(`${statusLine(101)}${headerBlock(clientResponseHeaders(headers, requestId))}connection: upgrade\r\nupgrade: websocket\r\n\r\n`);
    const { host } = this;
    const tunnel = new Tunnel(this.client, upstream, host.options, (closed) => {
      host.closed(closed);
      onClose(closed);
    });
    host.opened(tunnel);
    return tunnel;
  }
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;
}

/** Header lines from a flat [name, value, ...] list (values as the upstream's parser accepted them: no CR or LF). */
function headerBlock(flat: readonly string[]): string {
  let block = "";
  for (let i = 0; i < flat.length; i += 2) block += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return block;
}
