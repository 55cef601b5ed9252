/**
 * minimal-node-h2: minimal-node's job over HTTP/2, the yardstick of the h2get
 * and grpc-unary scenarios (their ratios are taken against this process).
 *
 * - TLS: http2.createSecureServer, OpenSSL verifies the client chain
 *   (requestCert + rejectUnauthorized); ALPN h2 only.
 * - Identity: the peer's OUs, read once per session.
 * - ACL: one Map lookup of "METHOD path" (./acl-table.js); a denied gRPC call
 *   gets grpc-status 7 in a trailers-only answer, anything else a 403.
 * - Forwarding, on the core stream API (no compat layer): to an http://
 *   upstream with an undici Pool (HTTP/1.1), to an h2c:// upstream over one
 *   node:http2 session, trailers passed back (gRPC's status lives there).
 *
 * argv[2]: JSON {host, port, cert, key, ca (file paths), upstream (URL), acl (file)}
 */
import { readFileSync } from "node:fs";
import { connect, createSecureServer } from "node:http2";
import { Pool } from "undici";
import { compileAcl, isAllowed, peerOus } from "./acl-table.js";

const options = JSON.parse(process.argv[2]);
const acl = compileAcl(options.acl);
const h2c = options.upstream.startsWith("h2c://");
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"]);
const OUS = Symbol("peer OUs");
/** @typedef {import("node:http2").ServerHttp2Session & { [OUS]: string[] }} PeerSession a session with its peer's OUs read */
/** @typedef {import("node:http2").ServerHttp2Stream} Stream */
/** @typedef {import("node:http2").IncomingHttpHeaders} Headers */

/**
 * Request headers for the upstream: no pseudo-headers (undici) or only the four it needs (h2).
 * @param {Headers} headers
 * @returns {import("node:http2").OutgoingHttpHeaders}
 */
function requestHeaders(headers) {
  /** @type {import("node:http2").OutgoingHttpHeaders} */
  const out = h2c ? { ":method": headers[":method"], ":path": headers[":path"], ":scheme": "http", ":authority": headers[":authority"] } : { host: headers[":authority"] };
  for (const name in headers) if (name[0] !== ":" && !HOP_BY_HOP.has(name)) out[name] = headers[name];
  out["x-forwarded-proto"] = "https";
  return out;
}

const pool = h2c ? null : new Pool(options.upstream, { connections: 256, keepAliveTimeout: 60_000 });
/**
 * @param {Stream} stream
 * @param {Headers} headers
 */
function viaUndici(stream, headers) {
  // a request stream always has :method and :path
  const method = /** @type {import("undici").Dispatcher.HttpMethod} */ (headers[":method"]);
  const body = method === "GET" || method === "HEAD" ? null : stream;
  const upstreamHeaders = /** @type {Record<string, string | string[]>} */ (requestHeaders(headers));
  // only called with an http:// upstream, which has the pool
  /** @type {Pool} */ (pool).dispatch({ method, path: /** @type {string} */ (headers[":path"]), headers: upstreamHeaders, body }, {
    onRequestStart() {},
    onResponseStart(_controller, statusCode, upstreamHeaders) {
      /** @type {import("node:http2").OutgoingHttpHeaders} */
      const out = { ":status": statusCode };
      for (const name in upstreamHeaders) if (!HOP_BY_HOP.has(name)) out[name] = upstreamHeaders[name];
      stream.respond(out);
    },
    onResponseData(controller, chunk) {
      if (stream.write(chunk)) return;
      controller.pause();
      stream.once("drain", () => controller.resume());
    },
    onResponseEnd: () => stream.end(),
    onResponseError: () => (stream.headersSent ? stream.close() : stream.respond({ ":status": 502 }, { endStream: true })),
  });
}

/** @type {import("node:http2").ClientHttp2Session | null} one h2c session, reopened if it goes away */
let upstream = null;
/**
 * @param {Stream} stream
 * @param {Headers} headers
 */
function viaH2(stream, headers) {
  if (!upstream || upstream.closed || upstream.destroyed) upstream = connect(options.upstream.replace("h2c://", "http://")).on("error", () => {});
  const call = upstream.request(requestHeaders(headers));
  /** @type {import("node:http2").IncomingHttpHeaders | null} */
  let trailers = null;
  call.on("response", (h) => stream.respond(h, { waitForTrailers: true }));
  call.on("trailers", (t) => (trailers = t));
  stream.on("wantTrailers", () => (trailers ? stream.sendTrailers(trailers) : stream.close()));
  call.on("error", () => (stream.headersSent ? stream.close() : stream.respond({ ":status": 502 }, { endStream: true })));
  stream.on("close", () => call.destroyed || call.close());
  stream.pipe(call);
  call.pipe(stream);
}

/**
 * @param {Stream} stream
 * @param {Headers} headers
 */
function deny(stream, headers) {
  if (String(headers["content-type"]).startsWith("application/grpc")) {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "7", "grpc-message": "forbidden" }, { endStream: true });
    return;
  }
  stream.respond({ ":status": 403, "content-type": "application/json" });
  stream.end(JSON.stringify({ error: "forbidden", method: headers[":method"], path: headers[":path"] }));
}

const tls = { cert: readFileSync(options.cert), key: readFileSync(options.key), ca: readFileSync(options.ca) };
const server = createSecureServer({ ...tls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" });
// a secure server's sessions run on TLS sockets
server.on("session", (session) => (/** @type {PeerSession} */ (session)[OUS] = peerOus(/** @type {import("node:tls").TLSSocket} */ (session.socket))));
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  // a stream being served has its session, and the "session" handler ran first
  const ous = /** @type {PeerSession} */ (stream.session)[OUS];
  if (!isAllowed(acl, /** @type {string} */ (headers[":method"]), /** @type {string} */ (headers[":path"]), ous)) return deny(stream, headers);
  (h2c ? viaH2 : viaUndici)(stream, headers);
});
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
