/**
 * minimal-node: the least a Node mTLS proxy can do and still do guardpost's
 * job. Every ratio in the benchmark is against this process.
 *
 * - TLS: OpenSSL verifies the client chain (requestCert + rejectUnauthorized).
 * - Identity: the peer's OUs are read once per TLS connection, on
 *   secureConnection, never per request.
 * - ACL: one Map lookup of "METHOD path" (./acl-table.js).
 * - Forwarding: an undici Pool with keep-alive; bodies streamed both ways.
 *
 * It leaves out what guardpost must also do (path normalization, XFCC and
 * request-id headers, metrics, reload), so guardpost's ratio to it is the
 * price of those features plus any waste.
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
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"];
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
    const headers = { ...req.headers, "x-forwarded-proto": "https" };
    for (const name of HOP_BY_HOP) delete headers[name];
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    pool
      .stream({ method: req.method, path: req.url, headers, body: hasBody ? req : null }, ({ statusCode, headers: upstreamHeaders }) => {
        for (const name of HOP_BY_HOP) delete upstreamHeaders[name];
        res.writeHead(statusCode, upstreamHeaders);
        return res;
      })
      .catch(() => {
        if (res.headersSent) return res.destroy();
        res.writeHead(502, { "content-type": "application/json" }).end('{"error":"bad gateway"}');
      });
  },
);
server.on("secureConnection", (socket) => {
  socket[OUS] = peerOus(socket);
});
server.keepAliveTimeout = 65_000; // keep client connections for the whole run
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
