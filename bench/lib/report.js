/**
 * Turns rounds into medians and ratios, and prints them: aligned text tables
 * for the terminal, Markdown for RESULTS.md, JSON for everything raw.
 */

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Medians over a contender's rounds. */
export function summarize(rounds) {
  const pick = (f) => rounds.map(f);
  const rps = pick((r) => r.rps);
  return {
    rps: median(rps),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    cpuUsPerReq: median(pick((r) => r.cpuUsPerReq)),
    upstreamCpuUsPerReq: median(pick((r) => r.upstreamCpuUsPerReq)),
    p50Ms: median(pick((r) => r.latencyMs.p50)),
    p99Ms: median(pick((r) => r.latencyMs.p99)),
    p99MsMin: Math.min(...pick((r) => r.latencyMs.p99)),
    p99MsMax: Math.max(...pick((r) => r.latencyMs.p99)),
    proxyCpuPct: median(pick((r) => r.proxyCpuPct)),
    loaderCpuPct: median(pick((r) => r.loaderCpuPct)),
    unexpected: rounds.reduce((n, r) => n + r.unexpected, 0),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    logBytesPerReq: median(pick((r) => r.logBytesPerReq ?? NaN)),
  };
}

/** Adds `ratio` to each measured entry: throughput over the baseline's, or p99 over the baseline's. */
export function addRatios(scenario, baselineName) {
  const base = scenario.entries.find((e) => e.name === baselineName && e.summary);
  for (const entry of scenario.entries) {
    if (!entry.summary) continue;
    if (!base) entry.summary.ratio = NaN;
    else if (scenario.metric === "latency") entry.summary.ratio = entry.summary.p99Ms / base.summary.p99Ms;
    else entry.summary.ratio = entry.summary.rps / base.summary.rps;
  }
}

/** A load generator this busy is at or near its own limit (one thread). */
const LOADER_BOUND_PCT = 85;

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const fixed = (digits) => (n) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const ms = (n) => (Number.isFinite(n) ? (n >= 10 ? n.toFixed(0) : n.toFixed(2)) : "-");

/** Column definitions per kind of scenario: [header, cell(entry summary)]. */
function columns(scenario, baselineName) {
  const unit = scenario.unit ?? "req/s";
  if (scenario.metric === "latency") {
    return [
      ["achieved req/s", (s) => int(s.rps)],
      ["p50 ms", (s) => ms(s.p50Ms)],
      ["p99 ms", (s) => ms(s.p99Ms)],
      [`p99 × ${baselineName}`, (s) => fixed(2)(s.ratio)],
      ["p99 range ms", (s) => `${ms(s.p99MsMin)}–${ms(s.p99MsMax)}`],
      ["CPU µs/req", (s) => fixed(1)(s.cpuUsPerReq)],
      ["proxy CPU %", (s) => int(s.proxyCpuPct)],
    ];
  }
  return [
    [`median ${unit}`, (s) => int(s.rps)],
    [`× ${baselineName}`, (s) => fixed(2)(s.ratio)],
    [`CPU µs/${unit === "conn/s" ? "conn" : "req"}`, (s) => fixed(1)(s.cpuUsPerReq)],
    ["p99 ms", (s) => ms(s.p99Ms)],
    ["range", (s) => `${int(s.rpsMin)}–${int(s.rpsMax)}`],
    ["proxy CPU %", (s) => int(s.proxyCpuPct)],
    ["loader CPU %", (s) => int(s.loaderCpuPct)],
  ];
}

function rows(scenario, baselineName) {
  const cols = columns(scenario, baselineName);
  const header = ["contender", ...cols.map(([h]) => h)];
  const body = scenario.entries.filter((e) => e.summary).map((e) => [e.name, ...cols.map(([, cell]) => cell(e.summary))]);
  return { header, body };
}

function notes(scenario) {
  const out = [];
  if (scenario.rate) out.push(`offered rate: ${int(scenario.rate)} req/s (half of ${int(scenario.rate * 2)}, ${scenario.rateSource})`);
  for (const e of scenario.entries) {
    if (e.skipped) out.push(`${e.name} skipped: ${e.skipped}`);
    else if (e.summary?.unexpected > 0) out.push(`${e.name}: ${e.summary.unexpected} of ${e.summary.requests} responses had the wrong status or failed`);
    if (e.summary && scenario.metric === "throughput" && e.summary.loaderCpuPct >= LOADER_BOUND_PCT) {
      out.push(`${e.name}: the load generator used ${Math.round(e.summary.loaderCpuPct)}% of a core, so it, not the proxy, may have set this rate; compare CPU per request`);
    }
    if (e.summary && Number.isFinite(e.summary.logBytesPerReq)) out.push(`${e.name}: ${e.summary.logBytesPerReq.toFixed(0)} bytes of stdout per request`);
  }
  return out;
}

export function textTable(scenario, baselineName) {
  const { header, body } = rows(scenario, baselineName);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const out = [`== ${scenario.name}: ${scenario.title}`];
  if (body.length > 0) out.push(line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line));
  else out.push("(nothing measured)");
  for (const note of notes(scenario)) out.push(`  note: ${note}`);
  return out.join("\n");
}

export function markdownTable(scenario, baselineName) {
  const { header, body } = rows(scenario, baselineName);
  const out = [`### ${scenario.name}: ${scenario.title}`, ""];
  if (body.length > 0) {
    out.push(`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
    for (const r of body) out.push(`| ${r.join(" | ")} |`);
  } else {
    out.push("Nothing measured.");
  }
  const n = notes(scenario);
  if (n.length > 0) out.push("", ...n.map((note) => `- ${note}`));
  return out.join("\n");
}

export function markdownReport(results) {
  const { meta } = results;
  const m = meta.machine;
  const versions = Object.entries(meta.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const s = meta.settings;
  return [
    `Command: \`${meta.command}\``,
    "",
    `- Date: ${meta.date}`,
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memGiB} GiB, ${m.os}, Linux ${m.kernel}`,
    `- Node ${m.node}; ${versions}`,
    `- Bench commit ${meta.commit}${meta.guardpost ? `; guardpost under test: \`${meta.guardpost.cli}\`, ${meta.guardpost.version}` : ""}`,
    `- Settings: ${s.rounds} round(s) of ${s.duration} s per contender, interleaved and rotated each round; ${s.warmup} s warm-up; ` +
      `${s.connections} autocannon connections; ${s.handshakeConcurrency} parallel handshake loops; ${s.pacedConnections} connections for paced latency`,
    `- Load generator, upstream and proxy share the machine; the proxy under test is one process (nginx: master + one worker) and its CPU is read from /proc.`,
    "",
    ...results.scenarios.flatMap((scenario) => [markdownTable(scenario, meta.baseline), ""]),
  ].join("\n");
}
