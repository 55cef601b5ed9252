/**
 * bare-node: a Node https server with client-certificate verification that
 * answers every request itself, forwarding nothing. Its figures are what
 * Node's TLS and HTTP stack cost on their own: the ceiling for any Node proxy,
 * and the reference for new-connection handshakes.
 *
 * argv[2]: JSON {host, port, cert, key, ca (file paths)}
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { SMALL_BODY } from "../lib/wire.js";

const options = JSON.parse(process.argv[2]);
const body = Buffer.from(SMALL_BODY);
const headers = { "content-type": "application/json", "content-length": body.length };

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
    if (req.method === "GET" || req.method === "HEAD") {
      res.writeHead(200, headers).end(body);
      return;
    }
    req.resume();
    req.on("end", () => res.writeHead(200, headers).end(body));
  },
);
server.keepAliveTimeout = 65_000;
server.listen(options.port, options.host);
process.on("SIGTERM", () => process.exit(0));
