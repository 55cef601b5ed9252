/**
 * Connection pools to upstreams, one kind per direction, with the same
 * limits: keep-alive, bounded, the configured connect, header and body
 * timeouts.
 *
 * - Inbound routes forward to a local service over plain HTTP or a unix socket.
 * - Outbound listeners forward over mTLS: guardpost presents the service
 *   certificate, verifies the server against tls.ca and serverName, and
 *   checks the server certificate against `expect` before any request byte
 *   is sent.
 */
import { createRequire } from "node:module";
import type { TLSSocket } from "node:tls";
import type { buildConnector as BuildConnector, Pool } from "undici";
import { anyOf } from "../acl/principal.js";
import type { Limits, OutboundConfig, UpstreamTarget } from "../config/schema.js";
import { peerAttributesFromCertificate } from "../identity/peer.js";
import type { ClientTlsOptions } from "../tls/cert-store.js";
import { UpstreamIdentityError } from "./errors.js";

// The two classes from their own modules rather than undici's index, which also loads fetch, WebSocket,
// caches, mocks and Node's bundled undici (through a global getter): measured, the index takes about
// 140 ms at start-up on the bench VM against 50 ms for these two (bench/startup.js).
const load = createRequire(import.meta.url);
const PoolClass = load("undici/lib/dispatcher/pool.js") as typeof Pool;
const buildConnector = load("undici/lib/core/connect.js") as typeof BuildConnector;

/** Connections per upstream at most; beyond it requests queue in the pool. */
const MAX_UPSTREAM_CONNECTIONS = 1024;
/** How long an idle upstream connection is kept; under the 5 s that Node's own servers keep one. */
const UPSTREAM_KEEP_ALIVE_MS = 4_000;

function poolOptions(limits: Limits) {
  return {
    connections: MAX_UPSTREAM_CONNECTIONS,
    pipelining: 1,
    connectTimeout: limits.upstreamConnectTimeout,
    headersTimeout: limits.upstreamResponseTimeout,
    bodyTimeout: limits.upstreamBodyTimeout,
    keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS,
  };
}

/** The pool to a local service (an inbound route's upstream). */
export function createServicePool(target: UpstreamTarget, limits: Limits): Pool {
  if (target.kind === "unix") return new PoolClass("http://localhost", { ...poolOptions(limits), socketPath: target.socketPath });
  return new PoolClass(target.origin, poolOptions(limits));
}

/** The pool to an outbound listener's remote server, presenting `tls`. */
export function createMtlsPool(config: OutboundConfig, limits: Limits, tls: ClientTlsOptions): Pool {
  const connectTls = buildConnector({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    servername: config.serverName,
    rejectUnauthorized: true,
    minVersion: tls.minVersion,
    timeout: limits.upstreamConnectTimeout,
  });
  const expected = config.expect.length === 0 ? null : anyOf(config.expect);
  const expectText = config.expect.map((p) => p.text).join(", ");
  const connect: BuildConnector.connector = (opts, callback) => {
    connectTls(opts, (err, socket) => {
      if (err || socket === null) return callback(err ?? new Error("connect failed"), null);
      if (expected !== null) {
        const peer = peerAttributesFromCertificate((socket as TLSSocket).getPeerCertificate());
        if (!expected(peer)) {
          socket.destroy();
          const subject = [...(peer.OU ?? []).map((v) => `OU=${v}`), ...(peer.CN ?? []).map((v) => `CN=${v}`)].join(",") || "(no OU or CN)";
          return callback(new UpstreamIdentityError(`the upstream's certificate (${subject}) matches none of expect: [${expectText}]`), null);
        }
      }
      callback(null, socket);
    });
  };
  return new PoolClass(config.upstream, { ...poolOptions(limits), connect });
}
