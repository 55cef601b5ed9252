/**
 * http-proxy: the popular node http-proxy library doing the forwarding, with
 * the same mTLS termination, per-connection identity and Map ACL as
 * minimal-node. The two differ only in how they forward, so their ratio is the
 * cost of http-proxy over an undici Pool.
 *
 * argv[2]: JSON {host, port, cert, key, ca (file paths), upstream (URL), acl (file)}
 */
import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import { createServer } from "node:https";
import httpProxy from "http-proxy";
import { compileAcl, forbidden, isAllowed, peerOus } from "../baseline/acl-table.js";

const options = JSON.parse(process.argv[2]);
const acl = compileAcl(options.acl);
const proxy = httpProxy.createProxyServer({
  target: options.upstream,
  agent: new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 60_000 }),
  xfwd: true,
});
proxy.on("error", (_err, _req, socketOrRes) => {
  // only proxy.web() is used here, which hands its ServerResponse (ws() would hand a socket)
  const res = /** @type {import("node:http").ServerResponse} */ (socketOrRes);
  if (res.headersSent) return res.destroy();
  res.writeHead(502, { "content-type": "application/json" }).end('{"error":"bad gateway"}');
});

const OUS = Symbol("peer OUs");
/** @typedef {import("node:tls").TLSSocket & { [OUS]: string[] }} PeerSocket a client connection with its OUs read */
const server = createServer(
  {
    cert: readFileSync(options.cert),
    key: readFileSync(options.key),
    ca: readFileSync(options.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
  },
  // A server's request always has a method and a url, and its socket is a PeerSocket once secureConnection ran.
  (req, res) => {
    if (!isAllowed(acl, /** @type {string} */ (req.method), /** @type {string} */ (req.url), /** @type {PeerSocket} */ (req.socket)[OUS])) return forbidden(req, res);
    proxy.web(req, res);
  },
);
server.on("secureConnection", (socket) => {
  /** @type {PeerSocket} */ (socket)[OUS] = peerOus(socket);
});
server.keepAliveTimeout = 65_000;
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
