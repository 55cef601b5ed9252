#!/usr/bin/env node
/**
 * Where the time goes in a V8 CPU profile (`node --cpu-prof`, or the bench's
 * `--profile DIR`): self time grouped by where the code lives (a package
 * under node_modules, a file of guardpost's dist/, a Node internal module,
 * V8's own categories such as (garbage collector) and (program)), then the
 * heaviest functions. Shares are of the busy time, (idle) left out.
 *
 *   node bench/profile-summary.js FILE.cpuprofile [--top 30] [--json]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" }, json: { type: "boolean", default: false } } });
if (positionals.length === 0) {
  process.stderr.write("usage: node bench/profile-summary.js FILE.cpuprofile [--top N] [--json]\n");
  process.exit(2);
}

/** @typedef {import("node:inspector").Runtime.CallFrame} CallFrame */
/**
 * A .cpuprofile file: samples[i] is the id of the node that was running.
 * @typedef {{ nodes: import("node:inspector").Profiler.ProfileNode[], samples: number[], timeDeltas: number[] }} Profile
 */

/**
 * Where a function lives, coarse enough to add up: a package, a dist/ file, a Node internal, or V8's own label.
 * @param {CallFrame} frame
 */
export function place(frame) {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `guardpost:${dist[1]}`;
  if (url.startsWith("node:")) return url;
  return url.replace(/^file:\/\//, "").split("/").slice(-2).join("/");
}

/** @param {Profile} profile */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const selfUs = new Map();
  // samples[i] ran for timeDeltas[i + 1] (V8 records the delta before the next sample)
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
  }
  /** @type {Map<string, number>} */
  const byPlace = new Map();
  /** @type {Map<string, number>} */
  const byFunction = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    // every sample names a node of the same profile
    const frame = /** @type {import("node:inspector").Profiler.ProfileNode} */ (byId.get(id)).callFrame;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    const where = place(frame);
    byPlace.set(where, (byPlace.get(where) ?? 0) + us);
    const fn = `${frame.functionName || "(anonymous)"} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  /** @param {Map<string, number>} map */
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / busy }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, places: sorted(byPlace), functions: sorted(byFunction) };
}

const top = Number(values.top);
for (const file of positionals) {
  const s = summarize(JSON.parse(readFileSync(file, "utf8")));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ file, ...s, places: s.places.slice(0, top), functions: s.functions.slice(0, top) }, null, 2)}\n`);
    continue;
  }
  /** @param {{ name: string, ms: number, pct: number }} r */
  const line = (r) => `${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`;
  process.stdout.write(`${file}\nbusy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms\n\nby place (self time, share of busy):\n`);
  process.stdout.write(`${s.places.slice(0, top).map(line).join("\n")}\n\nheaviest functions (self time):\n${s.functions.slice(0, top).map(line).join("\n")}\n\n`);
}
