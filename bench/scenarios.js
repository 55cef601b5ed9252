/**
 * What is timed. Each scenario says which contenders take part, which ACL they
 * load, how their answers are checked before timing, and how load is applied.
 * Throughput scenarios rank by requests per second (higher is better); the
 * latency scenarios rank by p99 at a fixed rate (lower is better).
 * `protocol` (default "http1") picks the contenders that speak it (see
 * `speaks` in contenders.js); `baseline` names the yardstick of its ratios
 * when it is not minimal-node.
 */
import { H2_BASELINE, WS_BASELINE } from "./contenders.js";
import { expectations, grpcExpectations, h2Expectations, resumptionCheck, wsExpectations } from "./lib/checks.js";
import { autocannonRun, grpcUnaryRun, h2Run, handshakeRun, pacedRun, wsRun } from "./lib/load.js";
import { BIG_ACL_SIZE, bigAclPath, PATHS, POST_BYTES, WS_MESSAGE, WS_PATHS } from "./lib/wire.js";

/** @typedef {import("./lib/load.js").Target} Target */
/** @typedef {import("./lib/pki.js").Pki} Pki */
/** @typedef {import("./contenders.js").Contender} Contender */

/**
 * What run.js hands every measure().
 * @typedef {object} Load
 * @property {number} duration seconds
 * @property {number} connections keep-alive connections for autocannon
 * @property {import("./lib/load.js").ClientTls} tls
 * @property {number} handshakeConcurrency
 * @property {number} pacedConnections
 * @property {number} sessions HTTP/2 sessions (gRPC channels) per run
 * @property {number} streams requests (calls) in flight on each session
 * @property {number} [rate] set by run.js for the scenarios with needsRate
 */

/**
 * @typedef {object} Scenario
 * @property {string} name
 * @property {string} title
 * @property {"throughput" | "latency"} metric
 * @property {string} [unit] default req/s
 * @property {import("./contenders.js").Protocol} [protocol] default "http1"
 * @property {string} [baseline] the yardstick of its ratios, default minimal-node
 * @property {import("./contenders.js").AclKind} aclKind
 * @property {boolean} [resumes]
 * @property {boolean} [needsRate]
 * @property {boolean} [optIn] runs only when named in --only
 * @property {(c: Contender) => boolean} eligible
 * @property {(target: Target, pki: Pki) => Promise<string | null>} check
 * @property {(target: Target, load: Load) => Promise<import("./lib/load.js").RunResult>} measure
 */

/** @param {Contender} c */
const withAcl = (c) => c.acl;
/** @param {Contender} c */
const guardpostOrBaseline = (c) => c.family === "guardpost" || c.name === "minimal-node";

/** 16 paths spread over the 10,000-entry ACL; the load cycles through them. */
export const BIG_ACL_SAMPLE = Array.from({ length: 16 }, (_, i) => bigAclPath(Math.floor(((i + 0.5) * BIG_ACL_SIZE) / 16)));

const uploadBody = Buffer.alloc(POST_BYTES, 0x61);

/** @type {Scenario[]} */
export const SCENARIOS = [
  {
    name: "get",
    title: "keep-alive GET, small response, allowed",
    metric: "throughput",
    aclKind: "small",
    eligible: () => true,
    check: (target, pki) => expectations.small(target, pki),
    measure: (target, run) =>
      autocannonRun(target, { ...run, requests: [{ method: "GET", path: PATHS.small }], expectStatus: 200 }),
  },
  {
    name: "post64k",
    title: "keep-alive POST, 64 KB request body streamed to the upstream",
    metric: "throughput",
    aclKind: "small",
    eligible: (c) => c.name !== "bare-node",
    check: (target, pki) => expectations.upload(target, pki),
    measure: (target, run) =>
      autocannonRun(target, {
        ...run,
        requests: [{ method: "POST", path: PATHS.upload, body: uploadBody, headers: { "content-type": "application/octet-stream" } }],
        expectStatus: 200,
      }),
  },
  {
    name: "denied",
    title: "keep-alive GET refused by the ACL (403, never forwarded)",
    metric: "throughput",
    aclKind: "small",
    eligible: withAcl,
    check: (target, pki) => expectations.denied(target, pki),
    measure: (target, run) =>
      autocannonRun(target, { ...run, requests: [{ method: "GET", path: PATHS.admin }], expectStatus: 403 }),
  },
  {
    name: "acl10k",
    title: `keep-alive GET with a ${BIG_ACL_SIZE.toLocaleString("en")}-path ACL, cycling through ${BIG_ACL_SAMPLE.length} of its paths`,
    metric: "throughput",
    aclKind: "big",
    eligible: guardpostOrBaseline,
    check: (target, pki) => expectations.bigAcl(target, pki, BIG_ACL_SAMPLE),
    measure: (target, run) =>
      autocannonRun(target, { ...run, requests: BIG_ACL_SAMPLE.map((path) => ({ method: "GET", path })), expectStatus: 200 }),
  },
  {
    name: "handshake",
    title: "new mTLS connection per request (full handshake, no resumption)",
    metric: "throughput",
    unit: "conn/s",
    aclKind: "small",
    eligible: (c) => c.tls,
    check: (target, pki) => expectations.small(target, pki),
    measure: (target, run) => handshakeRun(target, { concurrency: run.handshakeConcurrency, duration: run.duration, tls: run.tls }),
  },
  {
    name: "resume13",
    title: "new mTLS connection per request, resuming the previous TLS 1.3 session (ticket)",
    metric: "throughput",
    unit: "conn/s",
    aclKind: "small",
    eligible: (c) => c.tls,
    resumes: true,
    check: (target, pki) => resumptionCheck(target, pki, "tls13"),
    measure: (target, run) => handshakeRun(target, { concurrency: run.handshakeConcurrency, duration: run.duration, tls: run.tls, resume: "tls13" }),
  },
  {
    name: "resume12",
    title: "new mTLS connection per request, resuming the previous TLS 1.2 session by session id (no tickets)",
    metric: "throughput",
    unit: "conn/s",
    aclKind: "small",
    eligible: (c) => c.tls,
    resumes: true,
    check: (target, pki) => resumptionCheck(target, pki, "tls12-id"),
    measure: (target, run) => handshakeRun(target, { concurrency: run.handshakeConcurrency, duration: run.duration, tls: run.tls, resume: "tls12-id" }),
  },
  {
    name: "latency",
    title: "latency at half of minimal-node's peak GET rate: open loop, paced every millisecond",
    metric: "latency",
    aclKind: "small",
    needsRate: true,
    eligible: guardpostOrBaseline,
    check: (target, pki) => expectations.small(target, pki),
    measure: (target, run) =>
      pacedRun(target, { rate: /** @type {number} */ (run.rate), duration: run.duration, connections: run.pacedConnections, path: PATHS.small, tls: run.tls }),
  },
  {
    name: "latency-autocannon",
    // Kept to show why the paced scenario exists (see RESULTS.md); about a minute, so only when named in --only.
    optIn: true,
    title: "latency at half of minimal-node's peak GET rate: autocannon overallRate (sends each second's quota in a burst)",
    metric: "latency",
    aclKind: "small",
    needsRate: true,
    eligible: guardpostOrBaseline,
    check: (target, pki) => expectations.small(target, pki),
    measure: (target, run) =>
      autocannonRun(target, { ...run, overallRate: run.rate, requests: [{ method: "GET", path: PATHS.small }], expectStatus: 200 }),
  },
  {
    name: "h2get",
    title: "HTTP/2 keep-alive GET (ALPN h2), small response, allowed; sessions × streams in flight",
    metric: "throughput",
    protocol: "h2",
    baseline: H2_BASELINE,
    aclKind: "small",
    eligible: () => true,
    check: (target, pki) => h2Expectations(target, pki),
    measure: (target, run) => h2Run(target, { sessions: run.sessions, streams: run.streams, duration: run.duration, path: PATHS.small, tls: run.tls }),
  },
  {
    name: "grpc-unary",
    title: "gRPC unary calls (grpc-js client with the client certificate) to a grpc-js service on h2c",
    metric: "throughput",
    unit: "calls/s",
    protocol: "grpc",
    baseline: H2_BASELINE,
    aclKind: "grpc",
    eligible: () => true,
    check: (target, pki) => grpcExpectations(target, pki),
    measure: (target, run) => grpcUnaryRun(target, { channels: run.sessions, concurrency: run.streams, duration: run.duration, tls: run.tls }),
  },
  {
    // Opt-in: a default run stays as long as it was; `--only ws-echo` runs it.
    name: "ws-echo",
    optIn: true,
    title: "WebSocket echo, small text messages over mTLS tunnels upgraded through the proxy; tunnels (--sessions) × messages in flight (--streams)",
    metric: "throughput",
    unit: "msg/s",
    protocol: "ws",
    baseline: WS_BASELINE,
    aclKind: "ws",
    eligible: () => true,
    check: (target, pki) => wsExpectations(target, pki),
    measure: (target, run) =>
      wsRun(target, { tunnels: run.sessions, inFlight: run.streams, duration: run.duration, path: WS_PATHS.echo, message: WS_MESSAGE, tls: run.tls }),
  },
];
