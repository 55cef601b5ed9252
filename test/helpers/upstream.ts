/**
 * A real HTTP upstream on 127.0.0.1 that records what it received and answers
 * as a test tells it to (default: 200 with a small JSON body).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { onCleanup } from "./cleanup.js";

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly received: ReceivedRequest[];
  /** Replaces how requests are answered (received requests are still recorded). */
  respond(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

const defaultHandler: UpstreamHandler = (req, res) => {
  const body = JSON.stringify({ ok: true, method: req.method, url: req.url });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
};

export async function startUpstream(options: { streaming?: boolean } = {}): Promise<RecordingUpstream> {
  const received: ReceivedRequest[] = [];
  let handler = defaultHandler;
  const server = createServer((req, res) => {
    if (options.streaming) {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) });
      handler(req, res, Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const upstream: RecordingUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    received,
    respond: (next) => {
      handler = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  onCleanup(() => upstream.close());
  return upstream;
}
