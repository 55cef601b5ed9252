#!/usr/bin/env node
/**
 * Start-up: how long after its spawn a proxy is of use. A sidecar starts
 * with its pod, and every request that arrives before it is ready waits.
 *
 *   npm run build && node bench/startup.js [--rounds 10] [--node 24] [--no-pin]
 *
 * Per round, in a rotated order, each contender is spawned (pinned to one
 * CPU like the throughput bench) and timed from just before spawn() to:
 * - listening: its TLS port accepts a TCP connection;
 * - ready: guardpost's admin /readyz answers 200 (others: = listening);
 * - first response: the first mTLS `GET /small` answered 200 (through the
 *   upstream for the proxies, by itself for bare-node).
 * Contenders:
 * - guardpost: `guardpost serve`, default config (access log on);
 * - bare-node: bench/servers/bare-tls.js, a Node https server with the same
 *   certificates that answers itself: "the time Node takes to listen";
 * - minimal-node: bench/baseline/minimal-proxy.js.
 * The ratios are per round (guardpost over bare-node in the same round),
 * then the median and range over rounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { guardpostConfig } from "./contenders.js";
import { smallRules, toYaml } from "./lib/acl.js";
import { makePki } from "./lib/pki.js";
import { freePort, startProcess, waitForPort } from "./lib/processes.js";
import { spread } from "./lib/report.js";
import { cpuPlan, nodeVersion, resolveNode } from "./lib/system.js";
import { PATHS } from "./lib/wire.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, "..");
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    node: { type: "string" },
    guardpost: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const node = resolveNode(values.node ?? process.env.BENCH_NODE ?? null);
const cli = resolve(values.guardpost ?? join(repoRoot, "dist", "cli", "main.js"));
const { plan, why } = cpuPlan(!values["no-pin"]);
/** @param {string} message */
const log = (message) => process.stderr.write(`${message}\n`);
const POLL_MS = 2;

const dir = mkdtempSync(join(tmpdir(), "guardpost-startup-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const pki = await makePki(dir);
const aclFile = join(dir, "acl.yaml");
writeFileSync(aclFile, toYaml(smallRules()));
const upstreamPort = await freePort();
const upstream = startProcess({
  name: "upstream",
  command: process.execPath,
  args: [join(benchDir, "servers", "upstream.js"), JSON.stringify({ host: "127.0.0.1", port: upstreamPort })],
  logDir: dir,
  cpu: plan?.loader,
});
await waitForPort(upstreamPort, { proc: upstream });
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;

/** @typedef {{ name: string, spawn: (port: number) => Promise<{ args: string[], adminPort?: number }> }} Contender spawn: its command line, listening on port */

/** @type {Contender[]} */
const CONTENDERS = [
  {
    name: "guardpost",
    async spawn(port) {
      const adminPort = await freePort();
      const config = join(dir, `guardpost-${port}.yaml`);
      writeFileSync(config, guardpostConfig({ port, adminPort, pki: pki.paths, upstreamUrl, aclFile }));
      return { args: [cli, "serve", "--config", config], adminPort };
    },
  },
  {
    name: "bare-node",
    async spawn(port) {
      return { args: [join(benchDir, "servers", "bare-tls.js"), JSON.stringify({ host: "127.0.0.1", port, ...pki.paths })] };
    },
  },
  {
    name: "minimal-node",
    async spawn(port) {
      return { args: [join(benchDir, "baseline", "minimal-proxy.js"), JSON.stringify({ host: "127.0.0.1", port, ...pki.paths, upstream: upstreamUrl, acl: aclFile })] };
    },
  },
];

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves with the time `attempt` first resolved true, trying every POLL_MS until `deadline`.
 * @param {() => Promise<boolean>} attempt
 * @param {import("./lib/processes.js").Proc} proc
 * @param {number} deadline
 */
async function firstSuccess(attempt, proc, deadline) {
  for (;;) {
    if (await attempt()) return performance.now();
    const failure = proc.failure();
    if (failure) throw new Error(failure);
    if (performance.now() > deadline) throw new Error("timed out");
    await sleep(POLL_MS);
  }
}

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
const tcpOpen = (port) =>
  new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });

/**
 * The status of one request on a fresh connection, 0 when it failed.
 * @param {(options: import("node:https").RequestOptions, callback: (res: import("node:http").IncomingMessage) => void) => import("node:http").ClientRequest} send
 * @param {import("node:https").RequestOptions} options
 * @returns {Promise<number | undefined>}
 */
const status = (send, options) =>
  new Promise((done) => {
    const req = send({ host: "127.0.0.1", agent: false, timeout: 2000, ...options }, (res) => {
      res.resume();
      res.once("end", () => done(res.statusCode));
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => done(0));
    req.end();
  });

/** @param {Contender} contender */
async function timeOne(contender) {
  const port = await freePort();
  const { args, adminPort } = await contender.spawn(port);
  const t0 = performance.now();
  const proc = startProcess({ name: `${contender.name}-${port}`, command: node, args, cwd: repoRoot, logDir: dir, cpu: plan?.proxy });
  const deadline = t0 + 20_000;
  try {
    const [listening, ready, first] = await Promise.all([
      firstSuccess(() => tcpOpen(port), proc, deadline),
      adminPort ? firstSuccess(async () => (await status(httpRequest, { port: adminPort, path: "/readyz" })) === 200, proc, deadline) : null,
      firstSuccess(async () => (await status(httpsRequest, { port, path: PATHS.small, ...pki.client })) === 200, proc, deadline),
    ]);
    return { listeningMs: listening - t0, readyMs: (ready ?? listening) - t0, firstResponseMs: first - t0 };
  } finally {
    await proc.stop();
  }
}

log(plan ? `pinned: contenders on CPU ${plan.proxy}, this process and the upstream on CPU ${plan.loader}` : `not pinned: ${why}`);
log(`contenders on Node ${nodeVersion(node)} (${node})`);
// One untimed start each: the first start also pays for cold file caches.
for (const c of CONTENDERS) await timeOne(c);
/** @type {Map<string, { listeningMs: number, readyMs: number, firstResponseMs: number }[]>} */
const results = new Map(CONTENDERS.map((c) => [c.name, []]));
for (let round = 0; round < rounds; round++) {
  const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]);
  for (const c of order) {
    const r = await timeOne(c);
    results.get(c.name)?.push(r);
    log(`round ${round + 1}/${rounds} ${c.name}: listening ${r.listeningMs.toFixed(0)} ms, ready ${r.readyMs.toFixed(0)} ms, first response ${r.firstResponseMs.toFixed(0)} ms`);
  }
}
await upstream.stop();

const bare = results.get("bare-node") ?? [];
/** @param {import("./lib/report.js").Spread} s */
const fmt = (s, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const rows = CONTENDERS.map((c) => {
  const rs = results.get(c.name) ?? [];
  /** @param {"readyMs" | "firstResponseMs"} f */
  const ratio = (f) => spread(rs.map((r, i) => r[f] / bare[i].listeningMs));
  return {
    name: c.name,
    listeningMs: spread(rs.map((r) => r.listeningMs)),
    readyMs: spread(rs.map((r) => r.readyMs)),
    firstResponseMs: spread(rs.map((r) => r.firstResponseMs)),
    readyOverBareListen: ratio("readyMs"),
    firstOverBareListen: ratio("firstResponseMs"),
  };
});
const out = {
  date: new Date().toISOString(),
  node: nodeVersion(node),
  rounds,
  pinned: plan,
  rows,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  process.stdout.write(`Node ${out.node}, ${rounds} rounds; medians (range), ratios per round over bare-node's time to listen\n\n`);
  process.stdout.write("| contender | listening ms | ready ms | first response ms | ready × bare listen | first response × bare listen |\n|---|---:|---:|---:|---:|---:|\n");
  for (const r of rows) {
    process.stdout.write(`| ${r.name} | ${fmt(r.listeningMs)} | ${fmt(r.readyMs)} | ${fmt(r.firstResponseMs)} | ${fmt(r.readyOverBareListen, 2)} | ${fmt(r.firstOverBareListen, 2)} |\n`);
  }
}
