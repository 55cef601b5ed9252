/**
 * Forwarding one request with undici's dispatch API: the request body streams
 * from the client socket and the response body streams back, each with
 * backpressure (a slow reader pauses the other side instead of buffering).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { Exchange } from "../http/exchange.js";
import { sendError } from "../http/error-response.js";
import { clientResponseHeaders } from "../http/forwarded-headers.js";
import { classifyUpstreamError } from "./errors.js";

/** Raised into undici when the client goes away, so the upstream request is cancelled too. */
class ClientClosedError extends Error {
  constructor() {
    super("client closed the connection");
    this.name = "ClientClosedError";
  }
}

/** Status recorded for exchanges the client abandoned (nginx's convention). */
const CLIENT_CLOSED = 499;

/** The handler forwarding into a response, kept on it so the listeners below can be shared functions. */
const HANDLER = Symbol("guardpost.forwardHandler");
type HandledResponse = ServerResponse & { [HANDLER]?: ForwardHandler };

// One function for every response instead of two closures per request. A
// response emits "close" once; "drain" is listened for only while paused.
function onResponseClose(this: HandledResponse): void {
  this[HANDLER]?.clientClosed();
}
function onResponseDrain(this: HandledResponse): void {
  this[HANDLER]?.resumeUpstream();
}

class ForwardHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private responded = false;
  private done = false;
  private status = 0;

  constructor(
    private readonly res: HandledResponse,
    private readonly exchange: Exchange,
  ) {
    res[HANDLER] = this;
    res.on("close", onResponseClose);
  }

  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    this.controller?.abort(new ClientClosedError());
    this.exchange.complete(this.responded ? this.status : CLIENT_CLOSED);
  }

  resumeUpstream(): void {
    this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new ClientClosedError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200 || this.done) return;
    this.responded = true;
    this.status = statusCode;
    this.res.writeHead(statusCode, clientResponseHeaders(headers, this.exchange.requestId));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", onResponseDrain);
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    this.res.end();
    this.exchange.complete(this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.done) return;
    this.done = true;
    if (error instanceof ClientClosedError || this.res.destroyed) {
      this.exchange.complete(CLIENT_CLOSED);
      return;
    }
    const failure = classifyUpstreamError(error);
    this.exchange.failure = failure;
    if (this.responded) {
      // Headers are out; the only honest signal left is an incomplete response.
      this.res.destroy(error);
      this.exchange.recorder.upstreamFailure(this.exchange, failure);
      this.exchange.complete(this.status);
      return;
    }
    const status = sendError(this.res, failure.code, this.exchange.method, this.exchange.path, this.exchange.requestId, failure.reason);
    this.exchange.recorder.upstreamFailure(this.exchange, failure);
    this.exchange.complete(status);
  }
}

/** Sends `req` to `dispatcher` as `method path` with `headers`, and streams the answer into `res`. */
export function forward(dispatcher: Dispatcher, req: IncomingMessage, res: ServerResponse, exchange: Exchange, pathAndQuery: string, headers: string[]): void {
  const hasBody = req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
  dispatcher.dispatch(
    {
      path: pathAndQuery,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req : null,
    },
    new ForwardHandler(res, exchange),
  );
}
