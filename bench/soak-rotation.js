/**
 * Rotation soak: guardpost under steady load while its certificate and key
 * are rotated N times (default 1,000) and its ACL is rewritten now and then.
 * Counts every request that did not get the expected answer and reports the
 * proxy's resident memory before, during and after.
 *
 *   npm run build && node bench/soak-rotation.js [--rotations 1000] [--interval-ms 250]
 *
 * Load: 8 keep-alive connections sending GETs back to back, plus one loop
 * opening a new TLS connection per request, so both old connections and new
 * handshakes cross every rotation. Rotations alternate write-by-rename and
 * in-place rewrites, the key written right after the certificate. The
 * default interval is longer than the watcher's 200 ms debounce, so every
 * rotation is applied on its own rather than coalesced with the next.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { freePort, startProcess, waitForPort } from "./lib/processes.js";

const { values } = parseArgs({
  options: { rotations: { type: "string", default: "1000" }, "interval-ms": { type: "string", default: "250" }, "keep-tmp": { type: "boolean" } },
});
const rotations = Number(values.rotations);
const intervalMs = Number(values["interval-ms"]);

const { createCa } = await import("../dist/pki/authority.js");
const dir = mkdtempSync(join(tmpdir(), "guardpost-soak-"));
const ca = await createCa({ cn: "soak CA" });
const issueServer = () => ca.issue({ cn: "soak-proxy", sans: { dns: ["localhost"], ip: ["127.0.0.1"] } });
const first = await issueServer();
const client = await ca.issue({ cn: "web-01", ou: "web", eku: ["clientAuth"] });
const files = { cert: join(dir, "service.crt"), key: join(dir, "service.key"), ca: join(dir, "ca.crt"), acl: join(dir, "acl.yaml") };
/** @param {number} extra */
const ACL = (extra) => `version: 1\npaths:\n  /soak:\n    GET: [OU=web]\n  /extra/${extra}:\n    GET: [OU=ops]\n`;
writeFileSync(files.cert, first.chain);
writeFileSync(files.key, first.key);
writeFileSync(files.ca, ca.cert);
writeFileSync(files.acl, ACL(0));

const upstreamPort = await freePort();
const upstream = startProcess({ name: "upstream", command: process.execPath, args: [new URL("./servers/upstream.js", import.meta.url).pathname, JSON.stringify({ host: "127.0.0.1", port: upstreamPort })], logDir: dir });
await waitForPort(upstreamPort, { proc: upstream });
const port = await freePort();
const adminPort = await freePort();
writeFileSync(
  join(dir, "guardpost.yaml"),
  `tls: {cert: ${files.cert}, key: ${files.key}, ca: ${files.ca}}\ninbound: {listen: "127.0.0.1:${port}", upstream: "http://127.0.0.1:${upstreamPort}", acl: ${files.acl}}\nadmin: {listen: "127.0.0.1:${adminPort}"}\nlog: {level: warn, access: false}\n`,
);
const proxy = startProcess({ name: "guardpost", command: process.execPath, args: [new URL("../dist/cli/main.js", import.meta.url).pathname, "serve", "--config", join(dir, "guardpost.yaml")], logDir: dir });
await waitForPort(port, { proc: proxy });

/**
 * Writes `text` beside `file`, then renames it over `file`: the atomic rotation most secret managers do.
 * @param {string} file
 * @param {string} text
 */
function replaceByRename(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function rssMiB() {
  const status = readFileSync(`/proc/${proxy.child.pid}/status`, "utf8");
  const kB = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kB === undefined) throw new Error(`/proc/${proxy.child.pid}/status has no VmRSS line`);
  return Number(kB) / 1024;
}

const tls = { ca: ca.cert, cert: client.chain, key: client.key, servername: "localhost" };
const url = `https://localhost:${port}/soak`;
const counts = { ok: 0, failed: 0, handshakes: 0 };
/** @type {Map<string, number>} */
const failures = new Map();
let running = true;
/** @param {string} what */
const note = (what) => failures.set(what, (failures.get(what) ?? 0) + 1);

/** @param {Agent} agent */
async function keepAliveLoop(agent) {
  while (running) {
    try {
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode === 200) counts.ok++;
      else {
        counts.failed++;
        note(`status ${res.statusCode}`);
      }
    } catch (caught) {
      const err = /** @type {NodeJS.ErrnoException} */ (caught);
      counts.failed++;
      note(err.code ?? err.message);
    }
  }
}

async function newConnectionLoop() {
  while (running) {
    const agent = new Agent({ connect: tls, pipelining: 0 });
    try {
      const res = await request(url, { dispatcher: agent, headers: { connection: "close" } });
      await res.body.dump();
      if (res.statusCode === 200) {
        counts.ok++;
        counts.handshakes++;
      } else {
        counts.failed++;
        note(`new connection: status ${res.statusCode}`);
      }
    } catch (caught) {
      const err = /** @type {NodeJS.ErrnoException} */ (caught);
      counts.failed++;
      note(`new connection: ${err.code ?? err.message}`);
    } finally {
      await agent.destroy();
    }
  }
}

const keepAlive = new Agent({ connect: tls, connections: 8 });
// Warm up, then take the baseline memory reading.
const loops = [...Array.from({ length: 8 }, () => keepAliveLoop(keepAlive)), newConnectionLoop()];
await new Promise((r) => setTimeout(r, 5000));
const rssBefore = rssMiB();
const started = Date.now();
/** @type {{ rotation: number, rssMiB: number, ok: number, failed: number }[]} */
const samples = [];
let counter = 0;
for (let i = 1; i <= rotations; i++) {
  const next = await issueServer();
  const write = i % 2 === 0 ? replaceByRename : writeFileSync;
  write(files.cert, next.chain);
  write(files.key, next.key);
  if (i % 50 === 0) write(files.acl, ACL(++counter));
  if (i % 100 === 0) samples.push({ rotation: i, rssMiB: Math.round(rssMiB() * 10) / 10, ok: counts.ok, failed: counts.failed });
  await new Promise((r) => setTimeout(r, intervalMs));
}
await new Promise((r) => setTimeout(r, 3000));
running = false;
await Promise.all(loops);
const rssAfter = rssMiB();
const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
const reloads = Object.fromEntries([...metrics.matchAll(/guardpost_reloads_total\{kind="(\w+)",result="(\w+)"\} (\d+)/g)].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]));

const report = {
  date: new Date().toISOString(),
  node: process.version,
  rotations,
  intervalMs,
  seconds: Math.round((Date.now() - started) / 1000),
  requests: counts.ok + counts.failed,
  ok: counts.ok,
  failed: counts.failed,
  newConnections: counts.handshakes,
  failures: Object.fromEntries(failures),
  reloads,
  rssMiB: { before: Math.round(rssBefore * 10) / 10, after: Math.round(rssAfter * 10) / 10 },
  samples,
};
console.log(JSON.stringify(report, null, 2));
await keepAlive.destroy();
await Promise.all([proxy.stop(), upstream.stop()]);
if (!values["keep-tmp"]) rmSync(dir, { recursive: true, force: true });
process.exit(counts.failed === 0 ? 0 : 1);
