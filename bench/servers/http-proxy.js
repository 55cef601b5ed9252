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
proxy.on("error", (_err, _req, res) => {
  if (res.headersSent) return res.destroy();
  res.writeHead(502, { "content-type": "application/json" }).end('{"error":"bad gateway"}');
});

const OUS = Symbol("peer OUs");
const server = createServer(
  {
    cert: readFileSync(options.cert),
    key: readFileSync(options.key),
    ca: readFileSync(options.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
  },
  (req, res) => {
    if (!isAllowed(acl, req.method, req.url, req.socket[OUS])) return forbidden(req, res);
    proxy.web(req, res);
  },
);
server.on("secureConnection", (socket) => {
  socket[OUS] = peerOus(socket);
});
server.keepAliveTimeout = 65_000;
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
