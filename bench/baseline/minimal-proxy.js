/**
 * minimal-node: the least a Node mTLS proxy can do and still do guardpost's
 * job; every ratio in the benchmark is taken against this process.
 *
 * - TLS: OpenSSL verifies the client chain (requestCert + rejectUnauthorized).
 * - Identity: the peer's OUs, read once per TLS connection on secureConnection.
 * - ACL: one Map lookup of "METHOD path" (./acl-table.js).
 * - Forwarding: an undici Pool with keep-alive, through undici's dispatch
 *   handler API so the response goes straight into `res`, with backpressure.
 *
 * Left out, and paid for by guardpost: path normalization, XFCC and request-id
 * headers, metrics, access log, reload. guardpost's ratio to this process is
 * the price of those plus any waste.
 *
 * argv[2]: JSON {host, port, cert, key, ca (file paths), upstream (URL), acl (file)}
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { Pool } from "undici";
import { compileAcl, forbidden, isAllowed, peerOus } from "./acl-table.js";

const options = JSON.parse(process.argv[2]);
const acl = compileAcl(options.acl);
const pool = new Pool(options.upstream, { connections: 256, keepAliveTimeout: 60_000 });
// RFC 9110 section 7.6.1: connection-specific fields stop at this hop.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);
const OUS = Symbol("peer OUs");
/** @typedef {import("node:tls").TLSSocket & { [OUS]: string[] }} PeerSocket a client connection with its OUs read */

// Headers travel as flat [name, value, ...] arrays: spreading req.headers and
// deleting from the copy makes a dictionary-mode object, measured at about
// 15% more CPU per request.
/**
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 */
function forward(req, res) {
  const headers = ["x-forwarded-proto", "https"];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  // a server's request always has a method and a url
  const method = /** @type {import("undici").Dispatcher.HttpMethod} */ (req.method);
  pool.dispatch({ method, path: /** @type {string} */ (req.url), headers, body: hasBody ? req : null }, {
    onRequestStart() {},
    onResponseStart(_controller, statusCode, upstreamHeaders) {
      const out = [];
      for (const name in upstreamHeaders) {
        if (HOP_BY_HOP.has(name)) continue;
        for (const value of /** @type {string[]} */ ([]).concat(/** @type {string | string[]} */ (upstreamHeaders[name]))) out.push(name, value);
      }
      res.writeHead(statusCode, out);
    },
    onResponseData(controller, chunk) {
      if (res.write(chunk)) return;
      controller.pause();
      res.once("drain", () => controller.resume());
    },
    onResponseEnd: () => res.end(),
    onResponseError() {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { "content-type": "application/json" }).end('{"error":"bad gateway"}');
    },
  });
}

const tls = { cert: readFileSync(options.cert), key: readFileSync(options.key), ca: readFileSync(options.ca) };
// A server's request always has a method and a url, and its socket is a PeerSocket once secureConnection ran.
const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, (req, res) =>
  isAllowed(acl, /** @type {string} */ (req.method), /** @type {string} */ (req.url), /** @type {PeerSocket} */ (req.socket)[OUS]) ? forward(req, res) : forbidden(req, res),
);
server.on("secureConnection", (socket) => (/** @type {PeerSocket} */ (socket)[OUS] = peerOus(socket)));
server.keepAliveTimeout = 65_000; // keep client connections for the whole run
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
