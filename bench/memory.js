/**
 * Memory: resident set size (RSS) of guardpost (`guardpost serve`, default
 * config) and of minimal-node, idle and with 1,000 open idle keep-alive mTLS
 * connections; optionally sampled across many requests to see that it stays
 * flat.
 *
 *   npm run build && node bench/memory.js [--rounds 3] [--connections 1000] [--requests 0] [--node 24]
 *
 * Each round starts every contender afresh (in a rotated order), pinned to
 * one CPU like the throughput bench: 200 warm-up requests so lazily loaded
 * code is in, 1 s of rest, the idle reading; then `connections` keep-alive
 * connections each carrying one request and left open, 1 s of rest, the
 * second reading. The open connections are counted in /proc/net/tcp so a
 * reading with fewer than all of them open is refused. RSS is VmRSS from
 * /proc/<pid>/status. With --requests N, guardpost then serves N requests
 * on 16 keep-alive connections with RSS sampled every 5 s.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Agent, request } from "undici";
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
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "1000" },
    requests: { type: "string", default: "0" },
    node: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const openConnections = Number(values.connections);
const totalRequests = Number(values.requests);
const node = resolveNode(values.node ?? process.env.BENCH_NODE ?? null);
const { plan, why } = cpuPlan(!values["no-pin"]);
/** @param {string} message */
const log = (message) => process.stderr.write(`${message}\n`);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), "guardpost-memory-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const pki = await makePki(dir);
const aclFile = join(dir, "acl.yaml");
writeFileSync(aclFile, toYaml(smallRules()));
const upstreamPort = await freePort();
const upstream = startProcess({ name: "upstream", command: process.execPath, args: [join(benchDir, "servers", "upstream.js"), JSON.stringify({ host: "127.0.0.1", port: upstreamPort })], logDir: dir, cpu: plan?.loader });
await waitForPort(upstreamPort, { proc: upstream });
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;

/** @typedef {{ name: string, args: (port: number) => Promise<string[]> }} Contender args: its command line, listening on port */

/** @type {Contender[]} */
const CONTENDERS = [
  {
    name: "guardpost",
    async args(port) {
      const config = join(dir, `guardpost-${port}.yaml`);
      writeFileSync(config, guardpostConfig({ port, adminPort: await freePort(), pki: pki.paths, upstreamUrl, aclFile }));
      return [join(repoRoot, "dist", "cli", "main.js"), "serve", "--config", config];
    },
  },
  {
    name: "minimal-node",
    async args(port) {
      return [join(benchDir, "baseline", "minimal-proxy.js"), JSON.stringify({ host: "127.0.0.1", port, ...pki.paths, upstream: upstreamUrl, acl: aclFile })];
    },
  },
];

/** @param {number | undefined} pid */
const rssMiB = (pid) => {
  const kB = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kB === undefined) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(kB) / 1024;
};

/**
 * Established TCP connections whose local end is `port` (the server's side), from /proc/net/tcp.
 * @param {number} port
 */
function establishedOn(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f[1]?.endsWith(hex) && f[3] === "01";
    }).length;
}

/** @param {Contender} contender */
async function measure(contender) {
  const port = await freePort();
  const proc = startProcess({ name: `${contender.name}-${port}`, command: node, args: await contender.args(port), cwd: repoRoot, logDir: dir, cpu: plan?.proxy });
  try {
    await waitForPort(port, { proc, timeoutMs: 20_000 });
    const url = `https://localhost:${port}${PATHS.small}`;
    const tls = { ...pki.client, servername: "localhost" };
    const warm = new Agent({ connect: tls });
    for (let i = 0; i < 200; i++) await (await request(url, { dispatcher: warm })).body.dump();
    await warm.close();
    await sleep(1000);
    const idle = rssMiB(proc.pid);

    const many = new Agent({ connect: tls, connections: openConnections, keepAliveTimeout: 120_000 });
    await Promise.all(Array.from({ length: openConnections }, async () => (await request(url, { dispatcher: many })).body.dump()));
    await sleep(1000);
    const open = establishedOn(port);
    const loaded = rssMiB(proc.pid);
    await many.close();
    if (open < openConnections) throw new Error(`${contender.name}: only ${open} of ${openConnections} connections were open at the reading`);
    return { idleMiB: idle, loadedMiB: loaded, perConnectionKiB: ((loaded - idle) * 1024) / openConnections, open, proc };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

log(plan ? `pinned: contenders on CPU ${plan.proxy}, this process and the upstream on CPU ${plan.loader}` : `not pinned: ${why}`);
/** @type {Map<string, { idleMiB: number, loadedMiB: number, perConnectionKiB: number, open: number }[]>} */
const results = new Map(CONTENDERS.map((c) => [c.name, []]));
for (let round = 0; round < rounds; round++) {
  for (const c of CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length])) {
    const { proc, ...r } = await measure(c);
    await proc.stop();
    results.get(c.name)?.push(r);
    log(`round ${round + 1}/${rounds} ${c.name}: idle ${r.idleMiB.toFixed(1)} MiB, with ${r.open} connections ${r.loadedMiB.toFixed(1)} MiB (${r.perConnectionKiB.toFixed(1)} KiB each)`);
  }
}

const base = results.get("minimal-node") ?? [];
const rows = CONTENDERS.map((c) => {
  const rs = results.get(c.name) ?? [];
  return {
    name: c.name,
    idleMiB: spread(rs.map((r) => r.idleMiB)),
    loadedMiB: spread(rs.map((r) => r.loadedMiB)),
    perConnectionKiB: spread(rs.map((r) => r.perConnectionKiB)),
    idleOverMinimal: spread(rs.map((r, i) => r.idleMiB / base[i].idleMiB)),
  };
});

let soak;
if (totalRequests > 0) {
  const port = await freePort();
  const proc = startProcess({ name: "guardpost-soak", command: node, args: await CONTENDERS[0].args(port), cwd: repoRoot, logDir: dir, cpu: plan?.proxy });
  await waitForPort(port, { proc, timeoutMs: 20_000 });
  /** @type {number[]} */
  const samples = [];
  const sampler = setInterval(() => samples.push(Math.round(rssMiB(proc.pid) * 10) / 10), 5000);
  const started = Date.now();
  const result = await autocannon({ url: `https://localhost:${port}${PATHS.small}`, connections: 16, amount: totalRequests, tlsOptions: { ...pki.client, servername: "localhost", rejectUnauthorized: true } });
  clearInterval(sampler);
  await sleep(1000);
  soak = { requests: result.requests.sent, non2xx: result.non2xx, errors: result.errors, seconds: Math.round((Date.now() - started) / 1000), afterMiB: rssMiB(proc.pid), samplesMiB: samples };
  await proc.stop();
}
await upstream.stop();

/** @param {import("./lib/report.js").Spread} s */
const f = (s, digits = 1) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
process.stdout.write(`Node ${nodeVersion(node)}, ${rounds} rounds, ${openConnections} idle keep-alive connections; medians (range)\n\n`);
process.stdout.write(`| contender | idle RSS MiB | idle × minimal-node | RSS with ${openConnections} connections MiB | KiB per connection |\n|---|---:|---:|---:|---:|\n`);
for (const r of rows) process.stdout.write(`| ${r.name} | ${f(r.idleMiB)} | ${f(r.idleOverMinimal, 2)} | ${f(r.loadedMiB)} | ${f(r.perConnectionKiB)} |\n`);
if (soak) process.stdout.write(`\nguardpost, ${soak.requests} requests (${soak.non2xx} non-2xx, ${soak.errors} errors) in ${soak.seconds} s: RSS samples ${JSON.stringify(soak.samplesMiB)}, 1 s after ${soak.afterMiB.toFixed(1)} MiB\n`);
