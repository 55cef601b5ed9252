/**
 * What an Exchange forwards to: one interface over the two clients guardpost
 * uses. HTTP/1.1 upstreams go through an undici Pool; HTTP/2 upstreams
 * (h2c:// services, and outbound servers that pick h2 by ALPN) through
 * node:http2 sessions (src/upstream/h2.ts), because undici 7 drops HTTP/2
 * response trailers, cannot send request trailers, and throws outside the
 * request on some headers: gRPC needs all three right.
 */
import type { Readable } from "node:stream";
import type { Dispatcher, Pool } from "undici";

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Flat [name, value, ...]; hop-by-hop headers already removed. */
  readonly headers: readonly string[];
  readonly body: Readable | null;
  /** Request trailers to send after the body, where the upstream protocol can carry them; undefined for none. */
  readonly trailers?: (() => Readonly<Record<string, string | string[]>> | null) | undefined;
  /** The request can only travel as HTTP/2 (a gRPC call). */
  readonly needsH2?: boolean | undefined;
  /**
   * A WebSocket handshake: sent with `Connection: upgrade` and `Upgrade:
   * websocket` (the client sets both, guardpost only this hop's), over
   * HTTP/1.1 only; a 101 hands the connection to the handler's onRequestUpgrade.
   */
  readonly upgrade?: "websocket" | undefined;
}

export interface Upstream {
  /** Whether a request to this upstream can travel as HTTP/2 (what a gRPC call needs). */
  readonly speaksH2: boolean;
  /** Whether it can carry an HTTP/1.1 upgrade (a WebSocket handshake): not over HTTP/2. */
  readonly carriesUpgrade: boolean;
  /** Sends `request`; `handler` hears the answer through undici's dispatch-handler calls, whichever client carries it. */
  dispatch(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void;
  /** Finishes what is in flight, then closes. */
  close(): Promise<void>;
  /** Closes now. */
  destroy(): Promise<void>;
}

/** The controller of a request that was never sent. */
class UnsentRequest implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;

  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }

  pause(): void {}

  resume(): void {}
}

/** Reports `error` to `handler` for a request that was never sent. */
export function failDispatch(handler: Dispatcher.DispatchHandler, error: Error): void {
  const controller = new UnsentRequest();
  handler.onRequestStart?.(controller, {});
  if (!controller.aborted) handler.onResponseError?.(controller, error);
}

/** An undici Pool as an Upstream: HTTP/1.1 only. */
export class PoolUpstream implements Upstream {
  readonly speaksH2 = false;
  readonly carriesUpgrade = true;

  constructor(private readonly pool: Pool) {}

  dispatch(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    const { upgrade } = request;
    // undici writes `connection: upgrade` and `upgrade:` itself, and takes the connection out of the pool on a 101.
    const options = { method: request.method as Dispatcher.HttpMethod, path: request.path, headers: request.headers as string[], body: request.body };
    this.pool.dispatch(upgrade === undefined ? options : { ...options, upgrade }, handler);
  }

  close(): Promise<void> {
    return this.pool.close().catch(() => undefined);
  }

  destroy(): Promise<void> {
    return this.pool.destroy().catch(() => undefined);
  }
}
