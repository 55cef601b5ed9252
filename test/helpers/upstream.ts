/**
 * A real HTTP upstream on 127.0.0.1 that records what it received and answers
 * as a test tells it to (default: 200 with a small JSON body).
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { onCleanup } from "./cleanup.js";

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** Chunked trailers (empty in streaming mode, where the body is not read). */
  readonly trailers: IncomingHttpHeaders;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly received: ReceivedRequest[];
  /** "METHOD url" of every request whose head arrived, in order, whether or not its body completed. */
  readonly arrivals: string[];
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
  const arrivals: string[] = [];
  let handler = defaultHandler;
  const server = createServer((req, res) => {
    arrivals.push(`${req.method!} ${req.url!}`);
    if (options.streaming) {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), trailers: {} });
      handler(req, res, Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body, trailers: req.trailers });
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
    arrivals,
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

export interface RawUpstream {
  readonly url: string;
  readonly port: number;
  /** Everything each connection sent, latin1, in connection order. */
  readonly connections: string[];
  close(): Promise<void>;
}

/**
 * A TCP upstream that is not an HTTP server: `onRequest` gets the socket once
 * a request head has arrived and writes whatever a broken service would
 * (garbage, half a response, a reset).
 */
export async function startRawUpstream(onRequest: (socket: Socket, head: string) => void): Promise<RawUpstream> {
  const connections: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    const index = connections.push("") - 1;
    let answered = false;
    socket.on("data", (chunk: Buffer) => {
      connections[index] += chunk.toString("latin1");
      if (!answered && connections[index]!.includes("\r\n\r\n")) {
        answered = true;
        onRequest(socket, connections[index]!);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const upstream: RawUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  onCleanup(() => upstream.close());
  return upstream;
}

/**
 * An upstream address whose TCP connect never completes: a listener in a
 * child process whose event loop is blocked, so it never accepts, with its
 * accept queue filled, so the kernel drops further SYNs. Connecting to it
 * hangs until the caller's connect timeout.
 */
export async function startBlackholeUpstream(): Promise<{ readonly url: string; close(): void }> {
  const script = `
    const server = require("node:net").createServer();
    server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      process.stdout.write(String(server.address().port) + "\\n", () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      });
    });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  onCleanup(kill);
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => {
      text += d.toString();
      if (text.includes("\n")) resolve(Number(text.trim()));
    });
    child.on("exit", (code) => reject(new Error(`blackhole listener exited with ${code}`)));
  });
  // Fill the accept queue (backlog + 1 on Linux); these connects complete, later ones hang.
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = tcpConnect({ port, host: "127.0.0.1" });
    socket.on("error", () => undefined);
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const close = () => {
    for (const socket of fillers) socket.destroy();
    kill();
  };
  onCleanup(close);
  return { url: `http://127.0.0.1:${port}`, close };
}

/**
 * How a broken service answers, by the last segment of the request path:
 * resets, half answers, stalls and bytes that are not HTTP. Anything else
 * gets a proper `200 ok`.
 */
export const BROKEN_ANSWERS: Readonly<Record<string, (socket: Socket) => void>> = {
  ok: (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"),
  "reset-before": (s) => s.resetAndDestroy(),
  "close-before": (s) => s.end(),
  "reset-mid": (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(10)}`);
    setTimeout(() => s.resetAndDestroy(), 50);
  },
  "reset-mid-chunked": (s) => {
    s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nxxxxxxxxxx\r\n");
    setTimeout(() => s.resetAndDestroy(), 50);
  },
  "stall-mid": (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(10)}`),
  "no-answer": () => undefined,
  garbage: (s) => s.end("SSH-2.0-OpenSSH_9.6\r\n\r\n\u0000\u0001\u0002 definitely not HTTP"),
  "bad-status": (s) => s.end("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
  "cl-te": (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
  "two-lengths": (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\nok"),
  "bare-cr": (s) => s.end("HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: session=forged\r\nContent-Length: 0\r\n\r\n"),
};

/** A raw upstream answering as BROKEN_ANSWERS says for each request's path. */
export function startBrokenUpstream(): Promise<RawUpstream> {
  return startRawUpstream((socket, head) => {
    const path = head.split(" ")[1] ?? "";
    const answer = BROKEN_ANSWERS[path.slice(path.lastIndexOf("/") + 1)] ?? BROKEN_ANSWERS.ok!;
    answer(socket);
  });
}
