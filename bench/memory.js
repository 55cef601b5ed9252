/**
 * guardpost's memory: resident set size (RSS) idle, with 1,000 open
 * keep-alive mTLS connections, and sampled across 1,000,000 requests to see
 * that it stays flat.
 *
 *   npm run build && node bench/memory.js [--connections 1000] [--requests 1000000]
 *
 * guardpost runs as its own process (`guardpost serve`, access log off) in
 * front of the bench upstream; RSS is read from /proc/<pid>/status.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Agent, request } from "undici";
import { guardpostConfig } from "./contenders.js";
import { toYaml, smallRules } from "./lib/acl.js";
import { makePki } from "./lib/pki.js";
import { freePort, startProcess, waitForPort } from "./lib/processes.js";
import { PATHS } from "./lib/wire.js";

const { values } = parseArgs({ options: { connections: { type: "string", default: "1000" }, requests: { type: "string", default: "1000000" } } });
const openConnections = Number(values.connections);
const totalRequests = Number(values.requests);

const dir = mkdtempSync(join(tmpdir(), "guardpost-memory-"));
const pki = await makePki(dir);
const aclFile = join(dir, "acl.yaml");
writeFileSync(aclFile, toYaml(smallRules()));
const upstreamPort = await freePort();
const upstream = startProcess({ name: "upstream", command: process.execPath, args: [new URL("./servers/upstream.js", import.meta.url).pathname, JSON.stringify({ host: "127.0.0.1", port: upstreamPort })], logDir: dir });
await waitForPort(upstreamPort, { proc: upstream });
const port = await freePort();
const adminPort = await freePort();
writeFileSync(join(dir, "guardpost.yaml"), guardpostConfig({ port, adminPort, pki: pki.paths, upstreamUrl: `http://127.0.0.1:${upstreamPort}`, aclFile, accessLog: false }));
const proxy = startProcess({ name: "guardpost", command: process.execPath, args: [new URL("../dist/cli/main.js", import.meta.url).pathname, "serve", "--config", join(dir, "guardpost.yaml")], logDir: dir });
await waitForPort(port, { proc: proxy });

const rssMiB = () => Math.round((Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.child.pid}/status`, "utf8"))[1]) / 1024) * 10) / 10;
const url = `https://localhost:${port}${PATHS.small}`;
const tls = { ...pki.client, servername: "localhost" };

// A few requests so lazily-loaded code is in before the idle reading.
const warm = new Agent({ connect: tls });
for (let i = 0; i < 200; i++) await (await request(url, { dispatcher: warm })).body.dump();
await warm.close();
await new Promise((r) => setTimeout(r, 1000));
const idle = rssMiB();

// 1,000 connections: as many concurrent requests through an agent allowed that many sockets; they stay open (keep-alive).
const many = new Agent({ connect: tls, connections: openConnections, keepAliveTimeout: 120_000 });
await Promise.all(Array.from({ length: openConnections }, async () => (await request(url, { dispatcher: many })).body.dump()));
await new Promise((r) => setTimeout(r, 1000));
const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
const open = Number(/guardpost_connections_active\{listener="inbound"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
const withConnections = rssMiB();
await many.close();

// 1,000,000 requests on 16 keep-alive connections, RSS sampled every 5 s.
const samples = [];
const sampler = setInterval(() => samples.push(rssMiB()), 5000);
const started = Date.now();
const result = await autocannon({ url, connections: 16, amount: totalRequests, tlsOptions: { ...tls, rejectUnauthorized: true } });
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 1000));
const after = rssMiB();

console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      rssMiB: { idle, [`with${openConnections}Connections`]: withConnections, perConnectionKiB: Math.round(((withConnections - idle) * 1024) / openConnections), afterRequests: after },
      openConnectionsSeenByGuardpost: open,
      requests: { sent: result.requests.sent, non2xx: result.non2xx, errors: result.errors, seconds: Math.round((Date.now() - started) / 1000) },
      rssSamplesMiB: samples,
    },
    null,
    2,
  ),
);
await Promise.all([proxy.stop(), upstream.stop()]);
rmSync(dir, { recursive: true, force: true });
