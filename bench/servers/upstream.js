/**
 * The service every proxy forwards to: plain HTTP/1.1 with keep-alive, run as
 * its own process so its CPU is not charged to the load generator or a proxy.
 *
 *   any GET/HEAD -> 200 with a small fixed JSON body
 *   any POST/PUT -> consumes the body, 200 {"received":<bytes>}
 *
 * Every response carries `x-upstream: 1`, so a check can tell a proxy's own
 * 403 from one that reached the service.
 *
 * argv[2]: JSON {"host": "127.0.0.1", "port": 8080}
 */
import { createServer } from "node:http";
import { SMALL_BODY } from "../lib/wire.js";

const { host, port } = JSON.parse(process.argv[2] ?? "{}");

const smallBody = Buffer.from(SMALL_BODY);
const smallHeaders = { "content-type": "application/json", "content-length": smallBody.length, "x-upstream": "1" };

const server = createServer((req, res) => {
  if (req.method === "GET" || req.method === "HEAD") {
    res.writeHead(200, smallHeaders);
    res.end(req.method === "HEAD" ? undefined : smallBody);
    return;
  }
  let received = 0;
  req.on("data", (chunk) => (received += chunk.length));
  req.on("end", () => {
    const body = `{"received":${received}}\n`;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-upstream": "1" });
    res.end(body);
  });
});
// Proxies keep pooled connections open between rounds; Node's 5 s default
// would close them mid-run and charge reconnects to whoever is being timed.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(port, host);
process.on("SIGTERM", () => process.exit(0));
