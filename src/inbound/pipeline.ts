/**
 * What happens to every inbound request, whichever protocol carried it, in
 * order: the first check that refuses answers it, and a request that passes
 * them all is forwarded.
 *
 *   peer       the connection's client certificate still counts (not expired, still trusted)
 *   framing    the front door's protocol rules (one Host, an :authority, no Upgrade outside a handshake)
 *   normalize  the target becomes the path the ACL judges and the upstream receives
 *   route      the gateway route for authority and path (a sidecar has one)
 *   authorize  the route's ACL decides; audit mode reports instead of refusing
 *   carry      a gRPC call needs an upstream that speaks HTTP/2, a WebSocket handshake one
 *              that speaks HTTP/1.1 (decided after the ACL, so a denied request is told
 *              it is denied, whatever the upstream)
 *
 * A WebSocket handshake is all of this as a GET of its path; forwarded, it
 * asks the upstream for the upgrade, and a 101 makes it a tunnel.
 */
import { forwardableTrailers, upstreamRequestHeaders } from "../http/forwarded-headers.js";
import { normalizeTarget } from "../http/path.js";
import type { Connection } from "../proxy/connection.js";
import type { Exchange, Rejection } from "../proxy/exchange.js";
import { grpcTimeoutMs, type ProxiedRequest } from "../proxy/request.js";
import type { Route, RouteTable } from "./routes.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

const NO_ROUTE: Rejection = Object.freeze({ code: "GP_ERR_NOT_FOUND", reason: "no route matches this host and path" });
const FORBIDDEN: Rejection = Object.freeze({ code: "GP_ERR_FORBIDDEN" });
const GRPC_NEEDS_HTTP2: Rejection = Object.freeze({ code: "GP_ERR_GRPC_UPSTREAM" });
const WEBSOCKET_NEEDS_HTTP1: Rejection = Object.freeze({ code: "GP_ERR_WEBSOCKET_UPSTREAM", close: true });
const PEER_EXPIRED: Rejection = Object.freeze({
  code: "GP_ERR_PEER_EXPIRED",
  reason: "the client certificate of this connection has expired; reconnect with a valid one",
  close: true,
});
const PEER_UNTRUSTED: Rejection = Object.freeze({
  code: "GP_ERR_PEER_UNTRUSTED",
  reason: "the client certificate of this connection is no longer trusted by guardpost's CA bundle or CRL",
  close: true,
});

export class InboundPipeline {
  constructor(private readonly routes: RouteTable) {}

  handle(exchange: Exchange, request: ProxiedRequest): void {
    const conn = exchange.connection;
    const refused = peerRefusal(conn, Date.now()) ?? framingRefusal(request);
    if (refused !== null) return exchange.reject(refused);

    const target = normalizeTarget(exchange.path);
    if (!target.ok) return exchange.reject({ code: "GP_ERR_BAD_REQUEST", reason: target.reason });
    exchange.path = target.path;

    const route = this.routes.select(request.authority, target.path);
    if (route === null) return exchange.reject(NO_ROUTE);
    exchange.route = route.name;

    const denied = authorize(exchange, route);
    if (denied !== null) return exchange.reject(denied);

    const grpc = exchange.protocol === "grpc";
    if (grpc && !route.upstream.speaksH2) return exchange.reject(GRPC_NEEDS_HTTP2);
    const websocket = exchange.protocol === "websocket";
    if (websocket && !route.upstream.carriesUpgrade) return exchange.reject(WEBSOCKET_NEEDS_HTTP1);

    const headers = upstreamRequestHeaders(request.rawHeaders, request.connection, {
      authority: request.authority,
      remoteAddress: conn.remoteAddress,
      xfcc: conn.peer!.xfcc,
      requestId: exchange.requestId,
    });
    if (grpc) {
      // gRPC servers may insist on it; as a hop-by-hop header it was not passed on.
      headers.push("te", "trailers");
      this.enforceDeadline(exchange, request);
    }
    const body = request.body;
    exchange.forward(route.upstream, {
      method: exchange.method,
      path: target.query === "" ? target.path : target.path + target.query,
      headers,
      body,
      // Only an HTTP/2 upstream can be sent request trailers.
      trailers: body !== null && route.upstream.speaksH2 ? () => forwardableTrailers(request.trailers()) : undefined,
      upgrade: websocket ? "websocket" : undefined,
    });
  }

  /**
   * A gRPC call's grpc-timeout is its whole deadline, which guardpost holds
   * the call to and answers DEADLINE_EXCEEDED for. upstreamResponseTimeout
   * bounds the wait for the answer's headers, as for any request, so the
   * shorter of the two ends a call that gets no answer.
   */
  private enforceDeadline(exchange: Exchange, request: ProxiedRequest): void {
    const header = request.header("grpc-timeout");
    const requested = grpcTimeoutMs(header);
    // A deadline beyond what a timer can wait (about 24.8 days) is as good as none.
    if (requested !== undefined && requested < MAX_TIMER_MS) exchange.setDeadline(Math.max(1, Math.ceil(requested)), `the call's deadline (grpc-timeout ${header}) passed`);
  }
}

/** A connection whose peer no longer counts serves no request, and is closed after the answer. */
function peerRefusal(conn: Connection, now: number): Rejection | null {
  if (conn.refusal === "GP_ERR_PEER_UNTRUSTED" || conn.peer === null) return PEER_UNTRUSTED;
  if (now >= conn.peer.notAfterMs) return PEER_EXPIRED;
  return null;
}

function framingRefusal(request: ProxiedRequest): Rejection | null {
  return request.framingProblem === null ? null : { code: "GP_ERR_BAD_REQUEST", reason: request.framingProblem };
}

/**
 * The route's ACL in service decides (a reload during this request does not
 * change its outcome). In audit mode a denial is recorded as would_deny and
 * the request goes on. A shadow ACL is decided and recorded, never enforced.
 */
function authorize(exchange: Exchange, route: Route): Rejection | null {
  const caller = exchange.connection.caller;
  const acl = route.acl.current;
  const decision = acl.evaluate(exchange.method, exchange.path, caller);
  exchange.entry = decision.entry;
  if (route.shadow !== null) exchange.shadow = route.shadow.current.evaluate(exchange.method, exchange.path, caller);
  if (decision.allow) return null;
  if ((route.config.mode ?? acl.mode) === "audit") {
    exchange.decision = "would_deny";
    return null;
  }
  return FORBIDDEN;
}
