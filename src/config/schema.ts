/**
 * The validated configuration: what `loadConfig` returns, frozen. Paths are
 * absolute, durations in milliseconds, sizes in bytes. Nothing downstream
 * re-checks these values.
 */

import type { Principal } from "../acl/principal.js";
import type { SourcePosition } from "../errors.js";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";
export type EnforcementMode = "enforce" | "audit";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** As written, for logs: `0.0.0.0:8443`. */
  readonly text: string;
}

/** An inbound route's service: HTTP/1.1 over TCP (`http://`) or a unix socket (`unix:`), or HTTP/2 with prior knowledge (`h2c://`). */
export type UpstreamTarget =
  | { readonly kind: "http"; readonly origin: string; readonly text: string }
  | { readonly kind: "h2c"; /** As http://host:port. */ readonly origin: string; readonly text: string }
  | { readonly kind: "unix"; readonly socketPath: string; readonly text: string };

/** ALPN protocol ids an inbound listener offers. */
export type InboundProtocol = "h2" | "http/1.1";

export interface TlsConfig {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly crl: string | null;
  readonly minVersion: TlsVersion;
  /**
   * Keep TLS 1.2 sessions by id for clients that send no ticket extension.
   * Off by default: Node then pauses every handshake for a lookup and hands
   * every new session to JavaScript, about 9% more CPU per full handshake
   * (bench/RESULTS.md), while TLS 1.3 and ticket-capable TLS 1.2 clients resume without it.
   */
  readonly sessionIdCache: boolean;
}

export interface RouteConfig {
  /** Label for logs and metrics. */
  readonly name: string;
  /** Segment-aware prefix of the normalized path: `/api` matches `/api` and `/api/x`, not `/apix`. */
  readonly pathPrefix: string;
  /** Host header (port ignored, case-insensitive) the route is limited to; null for any. */
  readonly host: string | null;
  readonly upstream: UpstreamTarget;
  readonly acl: string;
  /** An ACL file decided alongside `acl` and recorded (metric, access line), never enforced; null for none. */
  readonly shadowAcl: string | null;
  /** Overrides the ACL file's own `mode` when set. */
  readonly mode: EnforcementMode | null;
}

export interface InboundConfig {
  readonly name: string;
  readonly listen: ListenAddress;
  /** Offered by ALPN, in order of preference; a client without ALPN speaks HTTP/1.1 when it is offered. */
  readonly protocols: readonly InboundProtocol[];
  readonly routes: readonly RouteConfig[];
}

export interface OutboundConfig {
  readonly name: string;
  readonly listen: ListenAddress;
  /** `https://host:port` */
  readonly upstream: string;
  readonly serverName: string;
  /** Principals in ACL syntax, compiled; the server certificate must match one. Empty: any server the CA vouches for. */
  readonly expect: readonly Principal[];
  /** Pass the local client's Host on instead of sending the upstream's authority (serverName and port). */
  readonly preserveHost: boolean;
  /**
   * True when the config explicitly allows `listen` beyond loopback (as
   * ghostunnel's --unsafe-listen does); without it such a listen is refused,
   * since anything that reaches it calls the upstream as this service.
   */
  readonly unsafeListen: boolean;
}

/** A file the config names, which key names it, and where; errors about the file point back here. */
export interface ConfigFile {
  /** The key as users write it: `tls.cert`, `inbound.acl`, `inbound[1].routes[0].acl`. */
  readonly key: string;
  /** Absolute. */
  readonly path: string;
  /** Where the config file names it; null when the key is left out and its default applies. */
  readonly at: SourcePosition | null;
}

/** Something valid but probably not meant, found while loading; `serve --check` prints it, `serve` logs it. */
export interface ConfigWarning {
  /** Stable, like an error code: GP_WARN_... */
  readonly code: string;
  readonly message: string;
  readonly at: SourcePosition | null;
}

export interface Limits {
  /** Request line plus headers; larger gets 431. */
  readonly maxHeaderSize: number;
  /** Header fields in a request's head (and in its trailers); more gets 431 and nothing is forwarded. */
  readonly maxHeaderCount: number;
  /** Time to receive the complete request headers (slowloris). */
  readonly headersTimeout: number;
  /** Time to receive the complete request, body included. */
  readonly requestTimeout: number;
  /** A keep-alive connection idle this long is closed. */
  readonly idleTimeout: number;
  /** A connection older than this is closed after its current response; 0 disables. */
  readonly maxConnectionAge: number;
  /** Concurrent client connections per listener. */
  readonly maxConnections: number;
  /** Concurrent streams per HTTP/2 connection (advertised in SETTINGS; more are refused). */
  readonly maxConcurrentStreams: number;
  /** Connecting to the upstream; exceeded gives 504. */
  readonly upstreamConnectTimeout: number;
  /** Waiting for the upstream's response headers; exceeded gives 504. */
  readonly upstreamResponseTimeout: number;
  /** Silence between two chunks of the upstream's response body; exceeded aborts the response. */
  readonly upstreamBodyTimeout: number;
}

export interface Config {
  /** The config file, absolute; null for a config built in memory (the demo). */
  readonly file: string | null;
  readonly tls: TlsConfig;
  readonly inbound: readonly InboundConfig[];
  readonly outbound: readonly OutboundConfig[];
  readonly admin: { readonly listen: ListenAddress };
  readonly log: { readonly level: string; readonly access: boolean };
  readonly limits: Limits;
  readonly drainTimeout: number;
  /** Worker processes sharing the listeners; 1 runs in-process. */
  readonly workers: number;
  /** Every file named (or defaulted) by the config, in file order. */
  readonly files: readonly ConfigFile[];
  readonly warnings: readonly ConfigWarning[];
}

/**
 * Defaults, with units as users write them. The README's configuration
 * reference and the JSON Schema's defaults are tested against this table
 * (test/unit/config-reference.test.ts, test/unit/schema.test.ts).
 */
export const DEFAULTS = Object.freeze({
  tls: { cert: "/run/secrets/service.crt", key: "/run/secrets/service.key", ca: "/run/secrets/ca.crt", crl: null, minVersion: "TLSv1.2", sessionIdCache: false },
  inbound: { listen: "0.0.0.0:8443", protocols: ["h2", "http/1.1"], upstream: "http://127.0.0.1:8080", acl: "acl/service.yaml", shadowAcl: null },
  admin: { listen: "127.0.0.1:9901" },
  log: { level: "info", access: true },
  limits: {
    maxHeaderSize: "16KiB",
    maxHeaderCount: 100,
    headersTimeout: "10s",
    requestTimeout: "5m",
    idleTimeout: "60s",
    maxConnectionAge: "1h",
    maxConnections: 10_000,
    maxConcurrentStreams: 100,
    upstreamConnectTimeout: "5s",
    upstreamResponseTimeout: "30s",
    upstreamBodyTimeout: "5m",
  },
  drainTimeout: "10s",
  workers: 1,
} as const);

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
