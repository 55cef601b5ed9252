/**
 * The WebSocket service behind the ws-echo contenders: an HTTP/1.1 server
 * whose upgrades `ws` accepts on any path, echoing every message back as it
 * came (text or binary). Its own process on the load generator's CPU, like
 * the HTTP upstream. The 101 and any plain answer carry `x-upstream: 1`, so a
 * check can tell a proxy's own refusal from a handshake that was forwarded.
 *
 * argv[2]: JSON {"host": "127.0.0.1", "port": 8081}
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const { host, port } = JSON.parse(process.argv[2] ?? "{}");

const server = createServer((_req, res) => {
  res.writeHead(426, { "content-type": "text/plain", "x-upstream": "1", connection: "close" });
  res.end("WebSocket only\n");
});
// noServer: the upgrade is taken from the http server's event, whatever the path
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
wss.on("headers", (headers) => headers.push("x-upstream: 1"));
server.on("upgrade", (req, socket, head) => {
  socket.on("error", () => {});
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on("error", () => {});
    // binaryType "nodebuffer" (the default): every message arrives as one Buffer
    ws.on("message", (data, isBinary) => ws.send(/** @type {Buffer} */ (data), { binary: isBinary }));
  });
});
server.keepAliveTimeout = 120_000;
server.listen(port, host);
process.on("SIGTERM", () => process.exit(0));
