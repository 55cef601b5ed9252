/**
 * What happens to every inbound request, in order: the first check that
 * refuses answers it, and a request that passes them all is forwarded.
 *
 *   peer       the connection's client certificate still counts (not expired, still trusted)
 *   host       exactly one Host header (RFC 9112 section 3.2)
 *   normalize  the target becomes the path the ACL judges and the upstream receives
 *   route      the gateway route for host and path (a sidecar has one)
 *   authorize  the route's ACL decides; audit mode reports instead of refusing
 */
import type { IncomingMessage } from "node:http";
import { upstreamRequestHeaders } from "../http/forwarded-headers.js";
import { normalizeTarget } from "../http/path.js";
import type { Connection } from "../proxy/connection.js";
import type { Exchange, Rejection } from "../proxy/exchange.js";
import { http1Body } from "../proxy/front-end.js";
import type { Route, RouteTable } from "./routes.js";

const NO_ROUTE: Rejection = Object.freeze({ code: "GP_ERR_NOT_FOUND", reason: "no route matches this host and path" });
const FORBIDDEN: Rejection = Object.freeze({ code: "GP_ERR_FORBIDDEN" });
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

  handle(exchange: Exchange, req: IncomingMessage): void {
    const conn = exchange.connection;
    const refused = peerRefusal(conn, Date.now()) ?? hostRefusal(req);
    if (refused !== null) return exchange.reject(refused);

    const target = normalizeTarget(exchange.path);
    if (!target.ok) return exchange.reject({ code: "GP_ERR_BAD_REQUEST", reason: target.reason });
    exchange.path = target.path;

    const route = this.routes.select(req.headers.host, target.path);
    if (route === null) return exchange.reject(NO_ROUTE);
    exchange.route = route.name;

    const denied = authorize(exchange, route);
    if (denied !== null) return exchange.reject(denied);

    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, {
      remoteAddress: conn.remoteAddress,
      xfcc: conn.peer!.xfcc,
      requestId: exchange.requestId,
    });
    exchange.forward(route.upstream, target.query === "" ? target.path : target.path + target.query, headers, http1Body(req));
  }
}

/** A connection whose peer no longer counts serves no request, and is closed after the answer. */
function peerRefusal(conn: Connection, now: number): Rejection | null {
  if (conn.refusal === "GP_ERR_PEER_UNTRUSTED" || conn.peer === null) return PEER_UNTRUSTED;
  if (now >= conn.peer.notAfterMs) return PEER_EXPIRED;
  return null;
}

/** RFC 9112 section 3.2: an HTTP/1.1 request has exactly one Host header. With two, the route and the upstream could each read a different one. */
function hostRefusal(req: IncomingMessage): Rejection | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (hosts === 1) return null;
  if (hosts > 1) return { code: "GP_ERR_BAD_REQUEST", reason: "more than one Host header" };
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return { code: "GP_ERR_BAD_REQUEST", reason: "an HTTP/1.1 request without a Host header" };
  return null;
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
