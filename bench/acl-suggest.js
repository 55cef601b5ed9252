// Time and peak memory of `guardpost acl suggest` over a large access log.
//
//   npm run build && node bench/acl-suggest.js [--lines 10000000] [--file PATH] [--keep]
//
// Writes an access log of --lines lines in guardpost's format (pino JSON, as
// the inbound listener writes them: peer {cn, ou, serial}, remote, requestId,
// route, entry, decision, status, durationMs, protocol) with realistic
// variety: 40 callers in 8 OUs, 60 endpoints, identifiers in most paths
// (decimal, UUID, long hex), 5% would_deny, 2% deny, 1% error, 0.5% lines of
// other tools and 0.5% truncated lines. Then runs the CLI as users do, under
// /usr/bin/time -v, and reports wall time, peak RSS, and the counts the CLI
// printed. The suggestion is checked with `acl check` before anything is
// reported. The log is deleted unless --keep.
import { spawnSync } from "node:child_process";
import { createWriteStream, existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { lines: { type: "string", default: "10000000" }, file: { type: "string" }, keep: { type: "boolean", default: false } } });
const LINES = Number(values.lines);
const file = values.file ?? join(tmpdir(), `guardpost-suggest-bench-${LINES}.log`);
const cli = new URL("../dist/cli/main.js", import.meta.url).pathname;

/** @param {number} seed */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const random = prng(15);
/** @type {<T>(list: T[]) => T} */
const pick = (list) => list[Math.floor(random() * list.length)];
const OUS = ["web", "payments", "fulfillment", "ops", "search", "mobile", "batch", "reporting"];
const CALLERS = Array.from({ length: 40 }, (_, i) => ({ cn: `${OUS[i % 8]}-${String(i).padStart(2, "0")}`, ou: [OUS[i % 8]], serial: (0x1000 + i).toString(16).toUpperCase() }));
/** @param {number} n */
const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
const ENDPOINTS = Array.from({ length: 60 }, (_, i) => {
  const resource = `r${i}`;
  switch (i % 5) {
    case 0: return () => ["GET", `/api/${resource}`];
    case 1: return () => [pick(["GET", "PUT"]), `/api/${resource}/${Math.floor(random() * 1e6)}`];
    case 2: return () => ["GET", `/api/${resource}/${uuid()}/items`];
    case 3: return () => ["POST", `/api/${resource}/${Math.floor(random() * 1e4)}/events/${hex(24)}`];
    default: return () => ["GET", `/static/${resource}.js`];
  }
});

async function writeLog() {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const base = Date.parse("2026-12-01T00:00:00Z");
  let chunk = "";
  for (let i = 0; i < LINES; i++) {
    const r = random();
    let line;
    if (r < 0.005) line = `127.0.0.1 - - [01/Dec/2026:00:00:00 +0000] "GET /healthz HTTP/1.1" 200 2`;
    else if (r < 0.01) line = `{"level":"info","time":"2026-12-01T00:00:00.000Z","msg":"req`;
    else {
      const caller = CALLERS[Math.floor(random() * CALLERS.length)];
      const [method, path] = ENDPOINTS[Math.floor(random() * ENDPOINTS.length)]();
      const d = random();
      const decision = d < 0.05 ? "would_deny" : d < 0.07 ? "deny" : d < 0.08 ? "error" : "allow";
      line = JSON.stringify({
        level: "info", time: new Date(base + i * 10).toISOString(), pid: 4242, listener: "inbound", peer: caller, remote: `10.1.${i % 250}.${(i >> 8) % 250}`,
        requestId: `req-${i}`, method, path, route: "inbound", entry: null, decision, status: decision === "deny" ? 403 : 200, durationMs: 1.25, protocol: "http1", msg: "request",
      });
    }
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, "drain");
      chunk = "";
    }
  }
  out.end(chunk);
  await once(out, "finish");
}

if (!existsSync(file)) {
  const started = Date.now();
  await writeLog();
  console.error(`wrote ${LINES.toLocaleString("en-US")} lines to ${file} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
const bytes = statSync(file).size;
const command = ["/usr/bin/time", "-v", process.execPath, cli, "acl", "suggest", "--from", file];
const result = spawnSync(command[0], command.slice(1), { encoding: "utf8", maxBuffer: 256 << 20 });
if (result.status !== 0) throw new Error(`acl suggest exited ${result.status}: ${result.stderr}`);
const suggestion = join(tmpdir(), "guardpost-suggest-bench.yaml");
writeFileSync(suggestion, result.stdout);
const check = spawnSync(process.execPath, [cli, "acl", "check", suggestion], { encoding: "utf8" });
if (check.status !== 0) throw new Error(`the suggestion does not pass acl check: ${check.stderr}`);
const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1]) / 1024;
const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(result.stderr)?.[1];
if (wall === undefined) throw new Error(`/usr/bin/time -v printed no wall clock time: ${result.stderr.slice(-400)}`);
const counts = /^acl suggest: .*$/m.exec(result.stderr)?.[0];
const paths = (result.stdout.match(/^ {2}\S.*:$/gm) ?? []).length;
console.log(`node ${process.version}; ${LINES.toLocaleString("en-US")} lines, ${(bytes / 2 ** 30).toFixed(2)} GiB`);
console.log(`command: node dist/cli/main.js acl suggest --from ${file}`);
console.log(`wall time ${wall}, peak RSS ${rss.toFixed(0)} MiB, ${Math.round(LINES / toSeconds(wall)).toLocaleString("en-US")} lines/s`);
console.log(counts);
console.log(`suggested ACL: ${paths} paths, passes acl check`);
if (!values.keep && values.file === undefined) rmSync(file);

/** @param {string} text h:mm:ss or m:ss */
function toSeconds(text) {
  return text.split(":").reduce((total, part) => total * 60 + Number(part), 0);
}
