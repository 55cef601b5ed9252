/**
 * The connection pool to a local service (inbound routes). Keep-alive,
 * bounded, with the configured connect, header and body timeouts; a unix
 * socket upstream uses the same pool over the socket path.
 */
import { Pool } from "undici";
import type { Limits, UpstreamTarget } from "../config/schema.js";

/** Connections per upstream at most; beyond it requests queue in the pool. */
const MAX_UPSTREAM_CONNECTIONS = 1024;

export function createUpstreamPool(target: UpstreamTarget, limits: Limits): Pool {
  const common = {
    connections: MAX_UPSTREAM_CONNECTIONS,
    pipelining: 1,
    connectTimeout: limits.upstreamConnectTimeout,
    headersTimeout: limits.upstreamResponseTimeout,
    bodyTimeout: limits.upstreamBodyTimeout,
    keepAliveTimeout: 4_000,
  };
  if (target.kind === "unix") return new Pool("http://localhost", { ...common, socketPath: target.socketPath });
  return new Pool(target.origin, common);
}
