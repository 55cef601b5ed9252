/**
 * One request and its answer: the request lifecycle in one place. An
 * Exchange is the only thing that writes a response and the only thing that
 * accounts for one. A front door creates it when a request arrives (or when
 * Node's parser refuses one); the pipeline either rejects it, and guardpost
 * answers itself, or forwards it, and the upstream's answer streams back
 * through it with backpressure both ways. However it ends, it is recorded
 * exactly once: metrics, the duration histogram and the access line.
 */
import type { Duplex, Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { Decision, Protocol } from "../admin/metrics.js";
import { answerInfo, type AnswerCode } from "../errors.js";
import { classifyUpstreamError, type UpstreamFailure } from "../upstream/errors.js";
import type { Upstream, UpstreamRequest } from "../upstream/upstream.js";
import type { Accounting } from "./accounting.js";
import { exchangeBegun, exchangeEnded, type Connection } from "./connection.js";
import { isWebSocketUpgrade } from "./request.js";
import type { ResponseEvents, ResponseTarget } from "./response.js";
import type { Tunnel, TunnelStats } from "./tunnel.js";

/**
 * A request's body as the server delivers it. HTTP/1.1 bodies say whether the
 * whole message has arrived (`complete`); HTTP/2 streams do not need to, since
 * no parser error can follow them on the connection.
 */
export type RequestBody = Readable & { readonly complete?: boolean };

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
  | { readonly kind: "client_closed" }
  /** The upstream accepted a WebSocket upgrade and the tunnel between them has closed. */
  | { readonly kind: "tunnel" };

/** A route's shadow ACL: decided and recorded, never enforced. */
export interface ShadowDecision {
  readonly allow: boolean;
  readonly entry: string | null;
}

/** Status recorded for exchanges the client abandoned before an answer (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

const FORWARDED: Outcome = Object.freeze({ kind: "forwarded" });
const CLIENT_CLOSED: Outcome = Object.freeze({ kind: "client_closed" });
const TUNNELLED: Outcome = Object.freeze({ kind: "tunnel" });

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
  /** The tunnel a WebSocket upgrade became (from the 101 on; the exchange ends when it closes); null otherwise. */
  tunnel: TunnelStats | null = null;
  private controller: Dispatcher.DispatchController | null = null;
  /** The request body being forwarded, if any. */
  private body: RequestBody | null = null;
  private deadline: NodeJS.Timeout | null = null;

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
    return this.body !== null && this.body.complete === false;
  }

  /**
   * guardpost answers the request itself (cancelling the upstream request if
   * one is under way). Once the upstream's answer has begun, a second status
   * line would corrupt it: that answer is cut instead, the only honest signal
   * left.
   */
  reject(rejection: Rejection): void {
    if (this.outcome !== null) return;
    this.decision = rejection.code === "GP_ERR_FORBIDDEN" ? "deny" : "error";
    if (rejection.close === true) this.connection.closing = true;
    if (this.response.headersSent) {
      this.response.fail(answerInfo(rejection.code), rejection.reason ?? "guardpost refused the request after its answer had begun");
      this.end(this.status, { kind: "answered", code: rejection.code });
    } else {
      const status = this.answer(rejection.code, rejection.reason, rejection.close === true);
      this.end(status, { kind: "answered", code: rejection.code });
    }
    // After the end is recorded: undici reports the cancel back through onResponseError, which then ignores it.
    this.controller?.abort(new UpstreamRequestCancelled("guardpost answered the request itself"));
  }

  /** Sends the request upstream; the answer streams back to the client. */
  forward(upstream: Upstream, request: UpstreamRequest): void {
    this.body = request.body;
    this.response.watchClient(this);
    upstream.dispatch(request, this);
  }

  /**
   * Ends the exchange with a timeout answer if it is still going `ms` from
   * now (a gRPC call's deadline): the upstream request is cancelled, and the
   * client hears of it even if the answer has begun.
   */
  setDeadline(ms: number, reason: string): void {
    this.deadline = setTimeout(() => {
      if (this.outcome !== null) return;
      this.upstreamFailed({ code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "timeout", reason });
      this.controller?.abort(new UpstreamRequestCancelled(reason));
    }, ms);
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
    this.closeIfLastWhileDraining();
    this.response.start(statusCode, headers, this.requestId);
  }

  /**
   * The upstream switched protocols (undici hands over its socket, with any
   * bytes it read past the 101 put back). Only a switch to WebSocket, which
   * is what was asked for, becomes a tunnel: anything else is a protocol
   * failure, and the client, still speaking HTTP/1.1, gets a 502.
   */
  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: Duplex): void {
    if (this.outcome !== null) {
      socket.destroy();
      return;
    }
    const upgrade = headers.upgrade;
    if (statusCode !== 101 || typeof upgrade !== "string" || !isWebSocketUpgrade(upgrade) || this.response.upgrade === undefined) {
      socket.destroy();
      this.upstreamFailed({ code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "protocol", reason: `the upstream switched protocols to ${JSON.stringify(upgrade ?? "")}, not to WebSocket` });
      return;
    }
    this.status = statusCode;
    this.tunnel = this.response.upgrade(headers, this.requestId, socket, this.tunnelClosed);
  }

  private readonly tunnelClosed = (_tunnel: Tunnel): void => {
    this.end(101, TUNNELLED);
  };

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
    this.upstreamFailed(classifyUpstreamError(error));
  }

  private upstreamFailed(failure: UpstreamFailure): void {
    if (this.response.headersSent) {
      this.response.fail(answerInfo(failure.code), failure.reason);
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
    // A tunnel's client closing is the tunnel's to report.
    if (this.outcome !== null || this.tunnel !== null) return;
    this.end(this.response.headersSent ? this.status : CLIENT_CLOSED_STATUS, CLIENT_CLOSED);
    this.controller?.abort(new UpstreamRequestCancelled("the client went away"));
  }

  /**
   * While the listener drains, the last answer owed on a connection says
   * `Connection: close` (HTTP/2: the session goes away) and ends it. Only the
   * last: an earlier one that said close would end the connection before the
   * answers pipelined behind it, whose requests the upstream may already
   * have carried out.
   */
  private closeIfLastWhileDraining(): void {
    const conn = this.connection;
    if (conn.drain?.draining === true && conn.latest === this) this.response.closeAfter();
  }

  private answer(code: AnswerCode, reason: string | undefined, close: boolean): number {
    this.closeIfLastWhileDraining();
    return this.response.answer(answerInfo(code), this, reason, close);
  }

  /** Records the exchange, once: every way it can end comes here. */
  private end(status: number, outcome: Outcome): void {
    if (this.outcome !== null) return;
    if (this.deadline !== null) clearTimeout(this.deadline);
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
