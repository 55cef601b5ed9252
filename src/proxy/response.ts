/**
 * Where an exchange's answer goes, one implementation per way a client is
 * answered: an HTTP response object (HTTP/1.1 `ServerResponse`), or a raw
 * socket (a request Node's parser refused before there was a response
 * object). The Exchange decides what to send; these know how.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AnswerErrorInfo } from "../errors.js";

/** The answer's side of an exchange, as the Exchange drives it. */
export interface ResponseTarget {
  /** guardpost's own answer (`body` is the JSON error body); returns the status the client sees. */
  answer(info: AnswerErrorInfo, body: string, requestId: string, close: boolean): number;
  /** The upstream's status and headers (a flat name, value list). */
  start(status: number, headers: readonly string[]): void;
  /** False when the client is not keeping up: wait for `onDrain`. */
  write(chunk: Buffer): boolean;
  /** Calls `events.clientDrained()` once, when the client can take more. */
  waitForDrain(events: ResponseEvents): void;
  end(trailers: Readonly<Record<string, string | string[]>> | null): void;
  /** Ends the answer abruptly: the only honest signal once the head is out. */
  abort(error: Error): void;
  /** From now on, calls `events.clientClosed()` when the client goes away (also once the answer is complete). */
  watchClient(events: ResponseEvents): void;
  /** Whether the status line has been sent. */
  readonly headersSent: boolean;
  /** Whether the client is gone. */
  readonly clientGone: boolean;
  /** The connection will be closed after this answer. */
  closeAfter(): void;
}

/** What a response target reports back to its exchange. */
export interface ResponseEvents {
  clientDrained(): void;
  clientClosed(): void;
}

/**
 * guardpost's own JSON body, of one shape:
 * `{"error":..., "method":..., "path":..., "requestId":...}` plus `reason`
 * where it helps the caller and reveals nothing about the policy.
 */
export function errorBody(name: string, method: string, path: string, requestId: string, reason: string | undefined): string {
  let body = `{"error":"${name}","method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"requestId":${JSON.stringify(requestId)}`;
  if (reason !== undefined) body += `,"reason":${JSON.stringify(reason)}`;
  return `${body}}`;
}

export function jsonAnswerHeaders(body: string, requestId: string): string[] {
  return ["content-type", "application/json", "content-length", String(Buffer.byteLength(body)), "x-request-id", requestId];
}

/** The exchange a response object reports to, kept on it so the listeners below are shared functions, not closures per request. */
const EVENTS = Symbol("guardpost.responseEvents");
type WatchedResponse = ServerResponse & { [EVENTS]?: ResponseEvents };

function onResponseClose(this: WatchedResponse): void {
  this[EVENTS]?.clientClosed();
}
function onResponseDrain(this: WatchedResponse): void {
  this[EVENTS]?.clientDrained();
}

/** An HTTP/1.1 response object. */
export class HttpResponse implements ResponseTarget {
  constructor(private readonly res: ServerResponse) {}

  answer(info: AnswerErrorInfo, body: string, requestId: string, close: boolean): number {
    if (close) this.res.shouldKeepAlive = false;
    this.res.writeHead(info.httpStatus, jsonAnswerHeaders(body, requestId));
    this.res.end(body);
    return info.httpStatus;
  }

  start(status: number, headers: readonly string[]): void {
    this.res.writeHead(status, headers as string[]);
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  waitForDrain(events: ResponseEvents): void {
    (this.res as WatchedResponse)[EVENTS] = events;
    this.res.once("drain", onResponseDrain);
  }

  end(trailers: Readonly<Record<string, string | string[]>> | null): void {
    if (trailers !== null && this.res.chunkedEncoding) this.res.addTrailers(trailers);
    this.res.end();
  }

  abort(error: Error): void {
    this.res.destroy(error);
  }

  watchClient(events: ResponseEvents): void {
    (this.res as WatchedResponse)[EVENTS] = events;
    this.res.once("close", onResponseClose);
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

const STATUS_TEXT: ReadonlyMap<number, string> = new Map([
  [400, "Bad Request"],
  [408, "Request Timeout"],
  [413, "Content Too Large"],
  [431, "Request Header Fields Too Large"],
]);

/**
 * A socket whose request Node's parser refused: guardpost writes a complete
 * HTTP/1.1 answer itself and closes the connection after it. A socket that
 * can no longer carry an answer (closed, or a TLS socket whose handshake
 * never completed: the bytes would wait forever) is closed without one.
 */
export class RawSocketResponse implements ResponseTarget {
  constructor(private readonly socket: Socket) {}

  answer(info: AnswerErrorInfo, body: string, requestId: string): number {
    const socket = this.socket;
    // Documented: alpnProtocol is null until a TLS handshake has completed.
    const handshakePending = "alpnProtocol" in socket && (socket as { alpnProtocol: unknown }).alpnProtocol === null;
    if (!socket.writable || handshakePending) {
      socket.destroy();
      return info.httpStatus;
    }
    const headers = jsonAnswerHeaders(body, requestId);
    let head = `HTTP/1.1 ${info.httpStatus} ${STATUS_TEXT.get(info.httpStatus) ?? "Error"}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    socket.end(`${head}connection: close\r\n\r\n${body}`);
    socket.destroySoon?.();
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

  abort(): void {
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
