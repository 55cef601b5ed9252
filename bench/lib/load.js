/**
 * The three ways load is applied:
 * - autocannonRun: closed-loop throughput with autocannon (keep-alive,
 *   client certificate through tlsOptions).
 * - handshakeRun: one request per new TLS connection, either always a full
 *   handshake or resuming the previous connection's session (TLS 1.3
 *   tickets, or TLS 1.2 session ids).
 * - pacedRun: open-loop requests at a fixed rate, latency measured from when
 *   each request was due (so a stalled proxy cannot hide its queue).
 * - h2Run / grpcUnaryRun: closed-loop HTTP/2 and gRPC unary calls, N
 *   sessions (channels) with M calls in flight on each, from this process:
 *   h2load has no client-certificate option (bench/RESULTS.md).
 * - wsRun: closed-loop WebSocket echo messages, N tunnels with M messages in
 *   flight on each, `ws` clients with the client certificate.
 */
import { performance } from "node:perf_hooks";
import { constants } from "node:crypto";
import { connect as h2Connect } from "node:http2";
import { createSecureContext, connect as tlsConnect } from "node:tls";
import autocannon from "autocannon";
import { Pool } from "undici";

/**
 * Where load is sent.
 * @typedef {{ protocol: "http" | "https", host: string, port: number }} Target
 */

/**
 * The client's certificate, key and CA, as makePki gives them.
 * @typedef {{ cert?: string, key?: string, ca: string }} ClientTls
 */

/**
 * What every way of applying load reports for one run.
 * @typedef {object} RunResult
 * @property {number} requests
 * @property {number} seconds
 * @property {number} rps
 * @property {number} unexpected
 * @property {number} errors
 * @property {number} [timeouts]
 * @property {number} [resumed] handshakeRun only
 * @property {{ p50: number, p99: number, p999?: number, max: number }} latencyMs
 */

/** @param {Target} target */
function urlOf(target) {
  return `${target.protocol}://${target.host}:${target.port}`;
}

/**
 * @param {Target} target
 * @param {{ connections: number, duration: number, requests: import("autocannon").Request[], expectStatus: number, overallRate?: number, tls: ClientTls }} load duration in seconds
 * @returns {Promise<RunResult>}
 */
export async function autocannonRun(target, { connections, duration, requests, expectStatus, overallRate, tls }) {
  const result = await autocannon({
    url: urlOf(target),
    connections,
    duration,
    // autocannon stops on a sample tick: 100 ms ticks keep a run within
    // 0.1 s of its duration (the default 1 s tick rounds short runs up)
    sampleInt: 100,
    requests,
    ...(overallRate ? { overallRate } : {}),
    ...(target.protocol === "https" ? { tlsOptions: tls } : {}),
  });
  const total = result.requests.total;
  const expected = result.statusCodeStats?.[`${expectStatus}`]?.count ?? 0;
  return {
    requests: total,
    seconds: result.duration,
    rps: total / result.duration,
    // responses with another status, plus connection errors and timeouts
    unexpected: total - expected + result.errors,
    errors: result.errors,
    timeouts: result.timeouts,
    // autocannon's histogram has 1 ms resolution
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}

const HANDSHAKE_REQUEST = "GET /small HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

/**
 * How the client of handshakeRun treats sessions:
 * - full: never offers one (Node's client resumes only when handed a session).
 * - tls13: TLS 1.3, offers the last ticket this loop received.
 * - tls12-id: TLS 1.2 without the ticket extension, so the only way back is
 *   the session id, which the server must have kept in a cache.
 * @typedef {"full" | "tls13" | "tls12-id"} ResumeMode
 */

/** @type {Record<ResumeMode, import("node:tls").SecureContextOptions>} */
const RESUME_MODES = {
  full: {},
  tls13: { minVersion: "TLSv1.3" },
  "tls12-id": { maxVersion: "TLSv1.2", secureOptions: constants.SSL_OP_NO_TICKET },
};

/**
 * `concurrency` loops, each: TLS connect with the client certificate, one
 * GET with `Connection: close`, read to the end, repeat until `duration`
 * seconds have passed. `resumed` counts connections whose session was
 * resumed; with `resume: "full"` it must stay 0.
 * @param {Target} target
 * @param {{ concurrency: number, duration: number, tls: ClientTls, resume?: ResumeMode }} load
 * @returns {Promise<RunResult>}
 */
export async function handshakeRun(target, { concurrency, duration, tls, resume = "full" }) {
  const mode = RESUME_MODES[resume];
  if (!mode) throw new Error(`unknown resume mode ${resume}`);
  // One context for all connections: building it parses the PEM key and CA,
  // which costs more than the handshake itself and would cap the rate here.
  const secureContext = createSecureContext({ ...tls, ...mode });
  const run = new ClosedLoop(duration);
  let resumed = 0;

  /**
   * @param {{ session: Buffer | null }} slot
   * @returns {Promise<void>}
   */
  const once = (slot) =>
    new Promise((resolve) => {
      const begun = performance.now();
      let head = "";
      const socket = tlsConnect({ host: target.host, port: target.port, secureContext, ...mode, ...(resume !== "full" && slot.session ? { session: slot.session } : {}) });
      socket.setEncoding("latin1");
      if (resume !== "full") socket.on("session", (session) => (slot.session = session));
      socket.once("secureConnect", () => {
        if (socket.isSessionReused()) resumed++;
        socket.write(HANDSHAKE_REQUEST);
      });
      socket.on("data", (chunk) => {
        if (head.length < 16) head += chunk;
      });
      socket.once("error", () => {});
      socket.once("close", () => {
        run.complete(begun, head.startsWith("HTTP/1.1 200"));
        resolve();
      });
    });

  const loop = async () => {
    /** @type {{ session: Buffer | null }} */
    const slot = { session: null };
    while (run.running) await once(slot);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ...run.result(), resumed };
}

/**
 * `rate` GETs per second for `duration` seconds over a pool of keep-alive
 * connections opened beforehand. Each request's latency runs from the moment
 * it was due, not from when it was sent, so time spent queued behind a slow
 * response counts (coordinated omission).
 * @param {Target} target
 * @param {{ rate: number, duration: number, connections: number, path: string, tls: ClientTls }} load
 * @returns {Promise<RunResult>}
 */
export async function pacedRun(target, { rate, duration, connections, path, tls }) {
  const pool = new Pool(urlOf(target), {
    connections,
    pipelining: 1,
    ...(target.protocol === "https" ? { connect: { ...tls } } : {}),
  });
  const get = async () => {
    const { statusCode, body } = await pool.request({ method: "GET", path });
    await body.dump();
    return statusCode;
  };
  try {
    // open every connection first: handshakes are not what this measures
    await Promise.all(Array.from({ length: connections }, get));

    const total = Math.max(1, Math.round(rate * duration));
    /** @type {number[]} */
    const latencies = [];
    let unexpected = 0;
    let issued = 0;
    let settled = 0;
    const start = performance.now();
    /** @type {Promise<void>} */
    const allSettled = new Promise((resolve) => {
      /** @param {number} i */
      const fire = (i) => {
        const due = start + (i * 1000) / rate;
        get().then(
          (status) => {
            if (status === 200) latencies.push(performance.now() - due);
            else unexpected++;
          },
          () => unexpected++,
        ).finally(() => {
          if (++settled === total) resolve();
        });
      };
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
        while (issued < due) fire(issued++);
        if (issued < total) setTimeout(tick, 1);
      };
      tick();
    });
    await allSettled;
    const seconds = (performance.now() - start) / 1000;
    return { requests: total, seconds, rps: total / seconds, unexpected, errors: unexpected, latencyMs: percentiles(latencies) };
  } finally {
    await pool.destroy();
  }
}

/** @param {number[]} values */
function percentiles(values) {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  /** @param {number} q */
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1] };
}

/**
 * The bookkeeping of a closed-loop run: it starts when made and takes new
 * work until `duration` seconds have passed; each completion counts as ok
 * (with its latency) or failed, and the rate is over the time until the
 * last one ended.
 */
class ClosedLoop {
  /** @param {number} duration seconds */
  constructor(duration) {
    this.start = performance.now();
    this.deadline = this.start + duration * 1000;
    this.lastEnd = this.start;
    /** @type {number[]} */
    this.times = [];
    this.ok = 0;
    this.failed = 0;
  }

  /** Whether new work may begin. */
  get running() {
    return performance.now() < this.deadline;
  }

  /**
   * One completion, begun at `begun` (performance.now()); returns when it ended.
   * @param {number} begun
   * @param {boolean} ok
   */
  complete(begun, ok) {
    const end = performance.now();
    this.lastEnd = Math.max(this.lastEnd, end);
    if (ok) {
      this.ok++;
      this.times.push(end - begun);
    } else {
      this.failed++;
    }
    return end;
  }

  /** @returns {RunResult} */
  result() {
    const seconds = (this.lastEnd - this.start) / 1000;
    return { requests: this.ok, seconds, rps: this.ok / seconds, unexpected: this.failed, errors: this.failed, latencyMs: percentiles(this.times) };
  }
}

/**
 * An HTTP/2 session over TLS with the client certificate; resolves once connected with ALPN h2.
 * @param {Target} target
 * @param {ClientTls} tls
 * @returns {Promise<import("node:http2").ClientHttp2Session>}
 */
export function h2Session(target, tls) {
  return new Promise((resolve, reject) => {
    const session = h2Connect(`https://${target.host}:${target.port}`, { ...tls, ALPNProtocols: ["h2"] });
    session.once("error", reject);
    session.once("connect", () => {
      session.removeListener("error", reject);
      session.on("error", () => {});
      if (session.alpnProtocol === "h2") resolve(session);
      else {
        session.destroy();
        reject(new Error(`ALPN chose ${session.alpnProtocol}, not h2`));
      }
    });
  });
}

/**
 * `sessions` HTTP/2 sessions opened first, then `streams` loops on each:
 * GET `path`, read the answer to its end, repeat until `duration` seconds
 * have passed. A stream counts when its status is `expectStatus`.
 * @param {Target} target
 * @param {{ sessions: number, streams: number, duration: number, path: string, expectStatus?: number, tls: ClientTls }} load duration in seconds
 * @returns {Promise<RunResult>}
 */
export async function h2Run(target, { sessions, streams, duration, path, expectStatus = 200, tls }) {
  const opened = await Promise.all(Array.from({ length: sessions }, () => h2Session(target, tls)));
  const headers = { ":method": "GET", ":path": path };
  const run = new ClosedLoop(duration);
  /**
   * @param {import("node:http2").ClientHttp2Session} session
   * @returns {Promise<void>}
   */
  const once = (session) =>
    new Promise((resolve) => {
      const begun = performance.now();
      let status = 0;
      const req = session.request(headers, { endStream: true });
      req.on("response", (h) => (status = h[":status"] ?? 0));
      req.on("data", () => {});
      req.on("error", () => {});
      req.on("close", () => {
        run.complete(begun, status === expectStatus && req.rstCode === 0);
        resolve();
      });
    });
  /** @param {import("node:http2").ClientHttp2Session} session */
  const loop = async (session) => {
    while (run.running && !session.destroyed) await once(session);
  };
  try {
    await Promise.all(opened.flatMap((session) => Array.from({ length: streams }, () => loop(session))));
  } finally {
    for (const session of opened) session.close();
  }
  return run.result();
}

/**
 * `channels` grpc-js clients, each its own TLS connection with the client
 * certificate, connected first; then `concurrency` loops on each of unary
 * Say calls until `duration` seconds have passed. A call counts when it
 * returns OK with the text sent.
 * @param {Target} target
 * @param {{ channels: number, concurrency: number, duration: number, tls: ClientTls }} load duration in seconds
 * @returns {Promise<RunResult>}
 */
export async function grpcUnaryRun(target, { channels, concurrency, duration, tls }) {
  const { echoClient, waitReady } = await import("./grpc.js");
  const clients = Array.from({ length: channels }, () => echoClient(target, tls));
  try {
    await Promise.all(clients.map((client) => waitReady(client)));
    const message = { text: "bench" };
    const run = new ClosedLoop(duration);
    /**
     * @param {import("./grpc.js").EchoClient} client
     * @returns {Promise<void>}
     */
    const once = (client) =>
      new Promise((resolve) => {
        const begun = performance.now();
        client.Say(message, (error, response) => {
          run.complete(begun, !error && response?.text === message.text);
          resolve();
        });
      });
    /** @param {import("./grpc.js").EchoClient} client */
    const loop = async (client) => {
      while (run.running) await once(client);
    };
    await Promise.all(clients.flatMap((client) => Array.from({ length: concurrency }, () => loop(client))));
    return run.result();
  } finally {
    for (const client of clients) client.close();
  }
}

/**
 * How a WebSocket handshake ended: open (101, with the response headers), an
 * answer other than 101 (status, headers, body), or no answer at all.
 * @typedef {{ ws: import("ws").WebSocket, headers: import("node:http").IncomingHttpHeaders, status?: undefined, error?: undefined }
 *   | { status: number, headers: import("node:http").IncomingHttpHeaders, body: string, ws?: undefined, error?: undefined }
 *   | { error: NodeJS.ErrnoException, ws?: undefined, status?: undefined }} WsHandshake
 */

/**
 * One WebSocket handshake over TLS with the client certificate (`ws`, no
 * compression, as the scenario's frames are small).
 * @param {Target} target
 * @param {ClientTls} tls
 * @param {string} path
 * @returns {Promise<WsHandshake>}
 */
export async function wsConnect(target, tls, path) {
  const { WebSocket } = await import("ws");
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 5000);
    /** @type {import("node:http").IncomingHttpHeaders} */
    let headers = {};
    const ws = new WebSocket(`wss://${target.host}:${target.port}${path}`, { ...tls, perMessageDeflate: false, handshakeTimeout: 5000 });
    ws.on("upgrade", (res) => (headers = res.headers));
    ws.once("open", () => {
      clearTimeout(timer);
      ws.removeAllListeners("error");
      ws.on("error", () => {});
      resolve({ ws, headers });
    });
    // without this listener `ws` turns a non-101 answer into an error and drops its status
    ws.on("unexpected-response", (_req, res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("error", () => {});
      res.on("end", () => {
        clearTimeout(timer);
        // an answer to a client request always has a status code
        resolve({ status: /** @type {number} */ (res.statusCode), headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
        ws.terminate();
      });
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      resolve({ error });
    });
  });
}

/**
 * `tunnels` WebSocket connections opened first (each a handshake through the
 * proxy with the client certificate), then on each `inFlight` copies of
 * `message` kept in the air: every echo that comes back as sent is counted
 * and answered with the next copy, until `duration` seconds have passed.
 * The tunnels' opening is not timed; their closing after the run is not either.
 * @param {Target} target
 * @param {{ tunnels: number, inFlight: number, duration: number, path: string, message: string, tls: ClientTls }} load duration in seconds
 * @returns {Promise<RunResult>}
 */
export async function wsRun(target, { tunnels, inFlight, duration, path, message, tls }) {
  const opened = await Promise.all(Array.from({ length: tunnels }, () => wsConnect(target, tls, path)));
  /** @type {import("ws").WebSocket[]} */
  const sockets = [];
  for (const h of opened) if (h.ws) sockets.push(h.ws);
  try {
    const refused = opened.find((h) => !h.ws);
    if (refused) throw new Error(`a tunnel did not open: ${refused.error?.message ?? refused.status}`);
    const run = new ClosedLoop(duration);
    /**
     * @param {import("ws").WebSocket} ws
     * @returns {Promise<void>}
     */
    const loop = (ws) =>
      new Promise((resolve) => {
        // echoes come back in the order sent: the send times form a queue
        /** @type {number[]} */
        const sent = [];
        const send = () => {
          sent.push(performance.now());
          ws.send(message);
        };
        // a tunnel that stops answering without closing must not hang the run
        const stuck = setTimeout(() => ws.terminate(), duration * 1000 + 10_000);
        const done = () => {
          clearTimeout(stuck);
          ws.removeAllListeners("message");
          ws.removeAllListeners("close");
          resolve();
        };
        ws.on("message", (data, isBinary) => {
          // one message answers one send
          const begun = /** @type {number} */ (sent.shift());
          const end = run.complete(begun, !isBinary && String(data) === message);
          if (end < run.deadline) send();
          else if (sent.length === 0) done();
        });
        ws.once("close", () => {
          // what was still in flight never came back
          run.failed += sent.length;
          done();
        });
        for (let i = 0; i < inFlight; i++) send();
      });
    await Promise.all(sockets.map(loop));
    return run.result();
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}
