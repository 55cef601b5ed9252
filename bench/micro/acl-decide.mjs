// Decisions per second of CompiledAcl#evaluate (the proxy's hot path) for
// ACLs with 10, 1k and 10k paths. The cost must not grow with the number of
// paths: the result that matters is the ratio of each size to 10 paths,
// measured in the same run with the sizes interleaved.
//
//   npm run build && node bench/micro/acl-decide.mjs [--rounds N] [--json]
//
// Each ACL is the shared case table's payments ACL (test/fixtures/acl/cases.yaml)
// padded with generated paths, a quarter each of: exact (/api/rN), one
// parameter (/api/rN/{id}), deep parameters (/api/rN/{id}/items/{item}) and
// /** (/api/rN/files/**). The lookups are the table's payments cases plus
// 4096 requests over the generated paths: exact, parameter, deep and /**
// hits, misses that make the trie backtrack, and unknown paths; 4 peers,
// GET and POST. Every decision is checked against its expectation before
// anything is timed.
//
// Two distributions of the generated paths' requests:
//   zipf     Zipf (s = 1) over the paths in a shuffled order: a few endpoints
//            take most calls, as in real traffic
//   uniform  every path equally likely: the worst case for the cache, since
//            a 10k-path ACL is larger than the L2 cache
import { readFileSync } from "node:fs";
import { performance, PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { canonicalPeer, compileAcl, normalizeTarget } from "../../dist/index.js";

const { values: options } = parseArgs({ options: { rounds: { type: "string", default: "21" }, json: { type: "boolean", default: false } } });
const ROUNDS = Number(options.rounds);
const SIZES = [10, 1_000, 10_000];
const LOOKUPS = 4096;
const PASSES = 250; // per round: ~1M decisions per size

/** @typedef {ReturnType<typeof canonicalPeer>} Peer */
/** @typedef {{ acl: string, peer: Parameters<typeof canonicalPeer>[0], request: string, expect: "allow" | "deny", entry: string | null }} Case one row of the case table */

const table = /** @type {{ acls: Record<string, string>, cases: Case[] }} */ (parse(readFileSync(new URL("../../test/fixtures/acl/cases.yaml", import.meta.url), "utf8")));
const baseText = table.acls.payments;
const baseCases = table.cases.filter((c) => c.acl === "payments");
const BASE_PATHS = (baseText.match(/^ {2}\/\S*:$/gm) ?? []).length;

// A small deterministic PRNG so every run times the same lookups.
/** @param {number} seed */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** @type {{ pattern: (i: number) => string, request: (i: number) => string }[]} */
const FILLER_KINDS = [
  { pattern: (i) => `/api/r${i}`, request: (i) => `/api/r${i}` },
  { pattern: (i) => `/api/r${i}/{id}`, request: (i) => `/api/r${i}/7f3a` },
  { pattern: (i) => `/api/r${i}/{id}/items/{item}`, request: (i) => `/api/r${i}/42/items/9` },
  { pattern: (i) => `/api/r${i}/files/**`, request: (i) => `/api/r${i}/files/2024/report.pdf` },
];

/** @param {number} paths */
function aclText(paths) {
  const lines = [baseText.trimEnd()];
  for (let i = 0; i < paths - BASE_PATHS; i++) {
    lines.push(`  ${FILLER_KINDS[i % 4].pattern(i)}:`, `    GET: [OU=web, {OU: payments, CN: "api-*"}]`, `    POST: [OU=ops]`);
  }
  return `${lines.join("\n")}\n`;
}

const peers = {
  web: canonicalPeer({ OU: "web", CN: "web-01" }),
  api: canonicalPeer({ OU: "payments", CN: "api-07" }),
  marketing: canonicalPeer({ OU: "marketing" }),
  ops: canonicalPeer({ OU: ["ops", "sre"], CN: "ops-02" }),
};

/**
 * Draws filler numbers 0..count-1: uniformly, or Zipf-distributed over a seeded shuffle of them.
 * @param {string} distribution "uniform" or "zipf"
 * @param {number} count
 * @param {() => number} random
 */
function sampler(distribution, count, random) {
  if (distribution === "uniform") return () => Math.floor(random() * count);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cdf = new Float64Array(count);
  let total = 0;
  for (let rank = 0; rank < count; rank++) cdf[rank] = total += 1 / (rank + 1);
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return order[lo];
  };
}

/**
 * The lookups for an ACL with `paths` paths: [method, normalized path, peer, expected allow, expected entry].
 * @param {number} paths
 * @param {string} distribution
 */
function lookups(paths, distribution) {
  /** @type {[string, string, Peer, boolean, string | null][]} */
  const out = [];
  for (const c of baseCases) {
    const target = normalizeTarget(c.request.split(" ")[1]);
    if (!target.ok) continue; // refused before the ACL is consulted
    out.push([c.request.split(" ")[0], target.path, canonicalPeer(c.peer), c.expect === "allow", c.entry]);
  }
  const fillers = paths - BASE_PATHS;
  const random = prng(paths);
  const pick = sampler(distribution, fillers, random);
  const peerNames = /** @type {(keyof typeof peers)[]} */ (Object.keys(peers));
  while (out.length < LOOKUPS) {
    const kind = Math.floor(random() * 6);
    const peerName = peerNames[Math.floor(random() * peerNames.length)];
    const peer = peers[peerName];
    const method = random() < 0.8 ? "GET" : "POST";
    const i = pick();
    // Request-targets arrive as flat strings (the HTTP parser's); template literals would make rope strings.
    /** @param {string} text */
    const flat = (text) => Buffer.from(text, "latin1").toString("latin1");
    if (kind >= 4) {
      // Misses: a deep path under a generated prefix that no pattern takes (the trie backtracks), or an unknown root.
      out.push([method, flat(kind === 4 ? `/api/r${i}/a/b/c` : `/v2/unknown/${i}`), peer, false, null]);
      continue;
    }
    // The generated path of this kind nearest to i.
    const n = Math.min(i - (i % 4) + kind, fillers - 1 - ((fillers - 1 - kind) % 4));
    const entry = `${method} ${FILLER_KINDS[kind].pattern(n)}`;
    const allow = method === "GET" ? peerName === "web" || peerName === "api" : peerName === "ops";
    out.push([method, flat(FILLER_KINDS[kind].request(n)), peer, allow, entry]);
  }
  return out;
}

const acls = SIZES.map((paths) => {
  const text = aclText(paths);
  const started = process.hrtime.bigint();
  const acl = compileAcl(`generated-${paths}.yaml`, text);
  const compileMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (acl.entries.length < paths) throw new Error(`ACL for ${paths} paths has only ${acl.entries.length} entries`);
  return { paths, acl, compileMs };
});

const DISTRIBUTIONS = ["zipf", "uniform"];
const setups = DISTRIBUTIONS.flatMap((distribution) =>
  acls.map(({ paths, acl, compileMs }) => {
    const work = lookups(paths, distribution);
    // Check every decision before timing anything.
    for (const [method, path, peer, allow, entry] of work) {
      const d = acl.evaluate(method, path, peer);
      if (d.allow !== allow || d.entry !== entry) {
        throw new Error(`${paths} paths: ${method} ${path} decided ${d.allow ? "allow" : "deny"} by ${d.entry}, expected ${allow ? "allow" : "deny"} by ${entry}`);
      }
    }
    return { distribution, paths, acl, compileMs, work, samples: /** @type {number[]} */ ([]) };
  }),
);

/** @typedef {(typeof setups)[number]} Setup */

let sink = 0;
/** @param {Setup} setup */
function time(setup) {
  const { acl, work } = setup;
  const n = work.length;
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES; pass++) {
    for (let i = 0; i < n; i++) {
      const w = work[i];
      if (acl.evaluate(w[0], w[1], w[2]).allow) sink++;
    }
  }
  return Number(process.hrtime.bigint() - started) / (PASSES * n); // ns per decision
}

// Garbage collections that start while a setup is being timed (the timed loops allocate nothing but what evaluate does).
/** @type {number[]} */
const gcStarts = [];
/** @type {[number, number][]} */
const timedWindows = [];
const gcObserver = new PerformanceObserver((list) => gcStarts.push(...list.getEntries().map((e) => e.startTime)));

for (const setup of setups) for (let w = 0; w < 3; w++) time(setup); // warm-up: let the JIT settle on every size
gcObserver.observe({ entryTypes: ["gc"] });
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order so no setup always runs first or last.
  for (let k = 0; k < setups.length; k++) {
    const setup = setups[(round + k) % setups.length];
    const from = performance.now();
    setup.samples.push(time(setup));
    timedWindows.push([from, performance.now()]);
  }
}
// Node delivers gc entries on a later task, not by the next setImmediate.
await new Promise((resolve) => setTimeout(resolve, 200));
gcObserver.disconnect();
const gcDuringTiming = gcStarts.filter((t) => timedWindows.some(([from, to]) => t >= from && t <= to)).length;

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = setups.map((s) => {
  const ns = median(s.samples);
  // The ratio is taken within each round (samples a second apart), then the median over rounds,
  // so drift in the machine's speed between rounds does not enter it.
  // every distribution has a setup for each size
  const baseline = /** @type {Setup} */ (setups.find((b) => b.distribution === s.distribution && b.paths === SIZES[0]));
  const ratio = median(s.samples.map((sample, round) => sample / baseline.samples[round]));
  return {
    distribution: s.distribution,
    paths: s.paths,
    entries: s.acl.entries.length,
    compileMs: Math.round(s.compileMs),
    nsPerDecision: Number(ns.toFixed(1)),
    decisionsPerSecond: Math.round(1e9 / ns),
    costVs10: Number(ratio.toFixed(2)),
  };
});

if (options.json) {
  console.log(JSON.stringify({ node: process.version, rounds: ROUNDS, lookups: LOOKUPS, gcDuringTiming, rows }, null, 2));
} else {
  console.log(`node ${process.version}, ${ROUNDS} rounds x ${PASSES * LOOKUPS} decisions per setup; ns/decision: median over rounds; cost vs 10 paths: median of per-round ratios`);
  console.log("lookups  paths  entries  compile ms  ns/decision  decisions/s  cost vs 10 paths");
  for (const r of rows) {
    console.log(
      `${r.distribution.padEnd(7)}  ${String(r.paths).padStart(5)}  ${String(r.entries).padStart(7)}  ${String(r.compileMs).padStart(10)}  ${r.nsPerDecision.toFixed(1).padStart(11)}  ${r.decisionsPerSecond.toLocaleString("en-US").padStart(11)}  ${r.costVs10.toFixed(2).padStart(16)}x`,
    );
  }
  console.log(`garbage collections while timing: ${gcDuringTiming} (evaluate() allocates nothing)`);
}
if (sink === -1) console.log(sink);
