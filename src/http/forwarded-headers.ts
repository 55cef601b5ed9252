/**
 * Headers between client and upstream. Hop-by-hop headers (RFC 9110 section
 * 7.6.1) stop at guardpost in both directions, including any named in
 * `Connection`. Identity headers are ours alone: a client's
 * `x-forwarded-client-cert` (however many copies, in any case) is dropped
 * before ours is added, so a caller can never claim another identity.
 */
import { isIP } from "node:net";

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
  // Node answers `Expect: 100-continue` itself before the request reaches us; undici refuses to send it on.
  "expect",
  "http2-settings",
]);

/** Set by guardpost; a client's copy is never passed on. */
const SET_BY_PROXY: ReadonlySet<string> = new Set(["x-forwarded-client-cert", "x-request-id"]);
/** Set by guardpost on inbound listeners; passed through as the local service set them on outbound ones. */
const FORWARDED: ReadonlySet<string> = new Set(["x-forwarded-for", "x-forwarded-proto"]);

export interface ForwardedFor {
  /** The request's authority, sent as Host when the request carried no Host header (HTTP/2 names it in :authority). */
  readonly authority?: string | undefined;
  /** The peer's address, appended to `x-forwarded-for` (inbound); null to pass both forwarded headers through (outbound). */
  readonly remoteAddress: string | null;
  /** This connection's `x-forwarded-client-cert` value; null on outbound listeners, which send no certificate data. */
  readonly xfcc: string | null;
  readonly requestId: string;
  /**
   * The Host to send instead of the client's (outbound: the upstream's
   * authority, see `upstreamHost`); null or absent passes the client's on.
   */
  readonly host?: string | null;
}

/**
 * The Host an outbound listener sends: the upstream's authority, that is
 * `serverName` and the upstream's port (left out when it is 443), as nginx's
 * proxy_pass sends the host of its URL. The local client's Host names the
 * outbound listener (`127.0.0.1:9001`), which means nothing to the remote
 * server and breaks virtual hosting there. Null with `preserveHost`, which
 * passes the client's Host on.
 */
export function upstreamHost(config: { readonly upstream: string; readonly serverName: string; readonly preserveHost: boolean }): string | null {
  if (config.preserveHost) return null;
  const port = new URL(config.upstream).port;
  const host = isIP(config.serverName) === 6 ? `[${config.serverName}]` : config.serverName;
  return port === "" ? host : `${host}:${port}`;
}

/** Extra tokens in `Connection` name further headers that are hop-by-hop for this message only. */
function connectionTokens(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  // Nearly every message says just "keep-alive" or "close", which name no further header.
  if (value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === "keep-alive" || lower === "close") return undefined;
  }
  const tokens = value
    .toLowerCase()
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "" && t !== "close" && t !== "keep-alive");
  return tokens.length === 0 ? undefined : new Set(tokens);
}

/**
 * CGI-style servers (WSGI, Rack, PHP) read `x_forwarded_client_cert` and
 * `x-forwarded-client-cert` as the same variable, so a client's underscore
 * spelling of a header guardpost sets must not pass either (nginx drops
 * every underscored name by default for the same reason).
 */
function impersonatesOurs(name: string, setsForwarded: boolean): boolean {
  const dashed = name.replaceAll("_", "-");
  return SET_BY_PROXY.has(dashed) || (setsForwarded && FORWARDED.has(dashed));
}

/** The header list sent upstream, as undici's flat [name, value, ...] array. */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connection: string | undefined, forwarded: ForwardedFor): string[] {
  const extraHopByHop = connectionTokens(connection);
  const setsForwarded = forwarded.remoteAddress !== null;
  const replacedHost = forwarded.host ?? null;
  const out: string[] = [];
  if (replacedHost !== null) out.push("host", replacedHost);
  let forwardedFor = "";
  let host = replacedHost !== null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    // HTTP/2 pseudo-headers (:method, :path, ...) describe the request; they are not fields to pass on.
    if (name.charCodeAt(0) === 0x3a || HOP_BY_HOP.has(name) || extraHopByHop?.has(name) || SET_BY_PROXY.has(name)) continue;
    if (name === "host") {
      if (replacedHost !== null) continue;
      host = true;
    }
    if (name.includes("_") && impersonatesOurs(name, setsForwarded)) continue;
    if (setsForwarded && FORWARDED.has(name)) {
      if (name === "x-forwarded-for") forwardedFor = forwardedFor === "" ? rawHeaders[i + 1]! : `${forwardedFor}, ${rawHeaders[i + 1]!}`;
      continue;
    }
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  if (!host && forwarded.authority !== undefined) out.push("host", forwarded.authority);
  if (setsForwarded) {
    out.push("x-forwarded-for", forwardedFor === "" ? forwarded.remoteAddress! : `${forwardedFor}, ${forwarded.remoteAddress!}`);
    out.push("x-forwarded-proto", "https");
  }
  out.push("x-request-id", forwarded.requestId);
  if (forwarded.xfcc !== null) out.push("x-forwarded-client-cert", forwarded.xfcc);
  return out;
}

/** Response headers as an upstream client reports them: lower-case names; HTTP/2 adds :status. */
export type UpstreamHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Whether an upstream response header stops at guardpost: hop-by-hop, named in `Connection`, or an HTTP/2 pseudo-header. */
function staysHere(name: string, extraHopByHop: ReadonlySet<string> | undefined): boolean {
  return name.charCodeAt(0) === 0x3a || HOP_BY_HOP.has(name) || extraHopByHop?.has(name) === true;
}

/** The upstream's response headers for an HTTP/1.1 client, as a flat array for writeHead, without hop-by-hop headers. */
export function clientResponseHeaders(headers: UpstreamHeaders, requestId: string): string[] {
  const extraHopByHop = connectionTokens(typeof headers.connection === "string" ? headers.connection : undefined);
  const out: string[] = [];
  let sawRequestId = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || staysHere(name, extraHopByHop)) continue;
    if (name === "x-request-id") sawRequestId = true;
    if (typeof value === "string") out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  if (!sawRequestId) out.push("x-request-id", requestId);
  return out;
}

/** The upstream's response headers for an HTTP/2 client: an object for `stream.respond()`, with :status, without hop-by-hop headers. */
export function clientResponseHeaderObject(status: number, headers: UpstreamHeaders, requestId: string): Record<string, string | string[] | number> {
  const extraHopByHop = connectionTokens(typeof headers.connection === "string" ? headers.connection : undefined);
  const out: Record<string, string | string[] | number> = { ":status": status };
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || staysHere(name, extraHopByHop)) continue;
    out[name] = value;
  }
  out["x-request-id"] ??= requestId;
  return out;
}

/**
 * A request's trailers as the upstream may receive them: what guardpost sets
 * (identity, request id, forwarded headers) and hop-by-hop fields never pass,
 * in a trailer any more than in a header. Null when none is left.
 */
export function forwardableTrailers(trailers: Readonly<Record<string, string | string[]>> | null): Record<string, string | string[]> | null {
  if (trailers === null) return null;
  let out: Record<string, string | string[]> | null = null;
  for (const name in trailers) {
    const lower = name.toLowerCase();
    if (staysHere(lower, undefined) || SET_BY_PROXY.has(lower) || FORWARDED.has(lower) || (lower.includes("_") && impersonatesOurs(lower, true))) continue;
    out ??= {};
    out[lower] = trailers[name]!;
  }
  return out;
}
