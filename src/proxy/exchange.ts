/**
 * One request and its answer: the request lifecycle in one place. An
 * Exchange is the only thing that writes a response and the only thing that
 * accounts for one. A front door creates it when a request arrives (or when
 * Node's parser refuses one); the pipeline either rejects it, and guardpost
 * answers itself, or forwards it, and the upstream's answer streams back
 * through it with backpressure both ways. However it ends, it is recorded
 * exactly once: metrics, the duration histogram and the access line.
 */
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { Decision, Protocol } from "../admin/metrics.js";
import { answerInfo, type AnswerCode } from "../errors.js";
import { clientResponseHeaders } from "../http/forwarded-headers.js";
import { classifyUpstreamError, type UpstreamFailure } from "../upstream/errors.js";
import type { Accounting } from "./accounting.js";
import { exchangeBegun, exchangeEnded, type Connection } from "./connection.js";
import { errorBody, type ResponseEvents, type ResponseTarget } from "./response.js";

/** A request's body as the server delivers it: a stream that knows whether the whole message has arrived. */
export type RequestBody = Readable & { readonly complete: boolean };

/** guardpost answering a request itself. */
export interface Rejection {
  readonly code: AnswerCode;
  /** Said in the body's `reason` where it helps the caller and reveals nothing about the policy. */
  readonly reason?: string | undefined;
  /** End the connection after the answer. */
  readonly close?: boolean | undefined;
}

/** How an exchange ended. */
export type Outcome =
  /** guardpost answered itself. */
  | { readonly kind: "answered"; readonly code: AnswerCode }
  /** The upstream's answer reached the client. */
  | { readonly kind: "forwarded" }
  /** The upstream failed: guardpost answered 502/504, or cut the answer if its head was already out. */
  | { readonly kind: "upstream_failed"; readonly failure: UpstreamFailure }
  /** The client went away first. */
  | { readonly kind: "client_closed" };

/** A route's shadow ACL: decided and recorded, never enforced. */
export interface ShadowDecision {
  readonly allow: boolean;
  readonly entry: string | null;
}

/** Status recorded for exchanges the client abandoned before an answer (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

const FORWARDED: Outcome = Object.freeze({ kind: "forwarded" });
const CLIENT_CLOSED: Outcome = Object.freeze({ kind: "client_closed" });

/** Raised into undici when the exchange no longer wants the upstream's answer, so the upstream request is cancelled too. */
export class UpstreamRequestCancelled extends Error {
  constructor(why: string) {
    super(why);
    this.name = "UpstreamRequestCancelled";
  }
}

export class Exchange implements Dispatcher.DispatchHandler, ResponseEvents {
  /** The ACL's verdict, or "error" when guardpost refused the request for another reason. */
  decision: Decision = "allow";
  /** The ACL entry that decided, e.g. "GET /user/{id}". */
  entry: string | null = null;
  /** The route's name once chosen; "" before. */
  route = "";
  shadow: ShadowDecision | null = null;
  /** The request-target as sent, then the normalized path once the pipeline has one. */
  path: string;
  /** The status the client saw; 0 until known. */
  status = 0;
  /** Null until the exchange has ended. */
  outcome: Outcome | null = null;
  private controller: Dispatcher.DispatchController | null = null;
  /** The request body being forwarded, if any. */
  private body: RequestBody | null = null;

  constructor(
    private readonly accounting: Accounting,
    readonly connection: Connection,
    readonly response: ResponseTarget,
    readonly protocol: Protocol,
    readonly method: string,
    target: string,
    readonly requestId: string,
    /** performance.now() when the request's head had arrived. */
    readonly startedAt: number,
  ) {
    this.path = target;
    exchangeBegun(connection, this);
  }

  get ended(): boolean {
    return this.outcome !== null;
  }

  /** Whether the request itself is still arriving (its body is being forwarded and has not ended). */
  get receiving(): boolean {
    return this.body !== null && !this.body.complete;
  }

  /** guardpost answers the request itself (cancelling the upstream request if one is under way). */
  reject(rejection: Rejection): void {
    if (this.outcome !== null) return;
    this.controller?.abort(new UpstreamRequestCancelled("guardpost answered the request itself"));
    this.decision = rejection.code === "GP_ERR_FORBIDDEN" ? "deny" : "error";
    const status = this.answer(rejection.code, rejection.reason, rejection.close === true);
    this.end(status, { kind: "answered", code: rejection.code });
  }

  /** Sends the request upstream; the answer streams back to the client. */
  forward(upstream: Dispatcher, pathAndQuery: string, headers: string[], body: RequestBody | null): void {
    this.body = body;
    this.response.watchClient(this);
    upstream.dispatch({ path: pathAndQuery, method: this.method as Dispatcher.HttpMethod, headers, body }, this);
  }

  // The upstream's side (undici's dispatch handler).

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.outcome !== null) controller.abort(new UpstreamRequestCancelled("the exchange ended before the upstream request started"));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx answers are the upstream's and this hop's business (Node answers 100-continue itself).
    if (statusCode < 200 || this.outcome !== null) return;
    this.status = statusCode;
    this.response.start(statusCode, clientResponseHeaders(headers, this.requestId));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.outcome !== null) return;
    if (!this.response.write(chunk)) {
      controller.pause();
      this.response.waitForDrain(this);
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.outcome !== null) return;
    this.response.end(hasKeys(trailers) ? (trailers as Record<string, string | string[]>) : null);
    this.end(this.status, FORWARDED);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.outcome !== null) return;
    if (error instanceof UpstreamRequestCancelled || this.response.clientGone) {
      this.end(this.response.headersSent ? this.status : CLIENT_CLOSED_STATUS, CLIENT_CLOSED);
      return;
    }
    const failure = classifyUpstreamError(error);
    if (this.response.headersSent) {
      this.response.abort(error);
      this.end(this.status, { kind: "upstream_failed", failure });
      return;
    }
    const status = this.answer(failure.code, failure.reason, false);
    this.end(status, { kind: "upstream_failed", failure });
  }

  // The client's side.

  clientDrained(): void {
    this.controller?.resume();
  }

  clientClosed(): void {
    if (this.outcome !== null) return;
    this.controller?.abort(new UpstreamRequestCancelled("the client went away"));
    this.end(this.response.headersSent ? this.status : CLIENT_CLOSED_STATUS, CLIENT_CLOSED);
  }

  private answer(code: AnswerCode, reason: string | undefined, close: boolean): number {
    const info = answerInfo(code);
    return this.response.answer(info, errorBody(info.name, this.method, this.path, this.requestId, reason), this.requestId, close);
  }

  private end(status: number, outcome: Outcome): void {
    this.status = status;
    this.outcome = outcome;
    this.accounting.record(this);
    exchangeEnded(this.connection);
  }
}

function hasKeys(record: object | null | undefined): boolean {
  if (!record) return false;
  for (const _ in record) return true;
  return false;
}
