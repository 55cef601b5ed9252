/**
 * minimal-node-ws: the least a Node mTLS proxy can do to carry WebSocket, the
 * yardstick of the ws-echo scenario (its ratios are taken against this process).
 *
 * - TLS: OpenSSL verifies the client chain (requestCert + rejectUnauthorized).
 * - Identity: the peer's OUs, read once per TLS connection on secureConnection.
 * - ACL: the handshake is decided as a GET of its path, one Map lookup
 *   (./acl-table.js); denied, a 403 and the connection closes.
 * - Forwarding: the request head, as received plus `x-forwarded-proto`, on a
 *   new TCP connection to the service; then the two sockets are piped both
 *   ways (the service's 101 included), with pipe()'s backpressure.
 *
 * Left out, and paid for by guardpost: checks of the handshake's headers,
 * path normalization, XFCC and request-id headers, certificate expiry and
 * idle timers on the tunnel, metrics, access log, reload.
 *
 * argv[2]: JSON {host, port, cert, key, ca (file paths), upstream (http:// URL), acl (file)}
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { connect } from "node:net";
import { compileAcl, forbidden, isAllowed, peerOus } from "./acl-table.js";

const options = JSON.parse(process.argv[2]);
const acl = compileAcl(options.acl);
const service = new URL(options.upstream);
const OUS = Symbol("peer OUs");
/** @typedef {import("node:tls").TLSSocket & { [OUS]: string[] }} PeerSocket a client connection with its OUs read */
const FORBIDDEN = 'HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 21\r\nconnection: close\r\n\r\n{"error":"forbidden"}';

const tls = { cert: readFileSync(options.cert), key: readFileSync(options.key), ca: readFileSync(options.ca) };
// Not an upgrade: nothing to serve (the ACL still answers first).
const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, (req, res) => forbidden(req, res));
server.on("secureConnection", (socket) => (/** @type {PeerSocket} */ (socket)[OUS] = peerOus(socket)));
server.on("upgrade", (req, socket, head) => {
  socket.on("error", () => socket.destroy());
  // an upgrade on this server arrives on a PeerSocket, with a method and a url
  const url = /** @type {string} */ (req.url);
  if (req.method !== "GET" || !isAllowed(acl, "GET", url, /** @type {PeerSocket} */ (socket)[OUS])) {
    socket.end(FORBIDDEN);
    return;
  }
  const lines = [`GET ${url} HTTP/1.1`, "x-forwarded-proto: https"];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  const upstream = connect(Number(service.port), service.hostname);
  upstream.on("error", () => {
    socket.destroy();
  });
  upstream.setNoDelay(true);
  upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  socket.pipe(upstream).pipe(socket);
  socket.on("close", () => upstream.destroy());
  upstream.on("close", () => socket.destroy());
});
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
