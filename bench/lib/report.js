/**
 * Turns rounds into medians and ratios, and prints them: aligned text tables
 * for the terminal, Markdown for RESULTS.md, JSON for everything raw.
 */

/**
 * One timed run: the load generator's figures plus the CPU readings around it.
 * @typedef {import("./load.js").RunResult & { cpuUsPerReq: number, upstreamCpuUsPerReq: number, proxyCpuPct: number, loaderCpuPct: number, logBytesPerReq?: number }} Round
 */
/** @typedef {ReturnType<typeof spread>} Spread */
/** @typedef {ReturnType<typeof pairedRatios>} Paired */
/** @typedef {ReturnType<typeof summarize> & { paired?: Paired }} Summary */
/**
 * One contender in one scenario: measured (rounds, then summary) or skipped with the reason.
 * @typedef {object} Entry
 * @property {string} name
 * @property {string} description
 * @property {string} [skipped]
 * @property {Round[]} [rounds]
 * @property {Summary} [summary]
 */
/**
 * @typedef {object} ScenarioRecord
 * @property {string} name
 * @property {string} title
 * @property {"throughput" | "latency"} metric
 * @property {string} [unit]
 * @property {boolean} [resumes]
 * @property {string} [baseline] the yardstick of this scenario's ratios when it is not meta.baseline
 * @property {Entry[]} entries
 * @property {number} [rate] offered rate of a latency scenario
 * @property {string} [rateSource]
 * @property {{ a: string, b: string, cpu: Spread }[]} [comparisons]
 */
/**
 * @typedef {object} Settings
 * @property {number} duration
 * @property {number} rounds
 * @property {number} warmup
 * @property {number} connections
 * @property {number} handshakeConcurrency
 * @property {number} pacedConnections
 * @property {number} sessions
 * @property {number} streams
 * @property {boolean} quick
 * @property {{ loader: number, proxy: number } | null} pinned
 * @property {string | null} notPinnedBecause
 * @property {{ path: string, version: string }} [contenderNode]
 */
/**
 * @typedef {object} Results
 * @property {{ command: string, date: string, machine: ReturnType<typeof import("./system.js").describeMachine>, versions: Record<string, string>, commit: string, guardpost?: { cli: string, version: string }, settings: Settings, baseline: string, elapsedSeconds?: number }} meta
 * @property {ScenarioRecord[]} scenarios
 */

/** @param {number[]} values */
export function median(values) {
  return quantile(values, 0.5);
}

/**
 * The q-quantile of the finite values, interpolated linearly between ranks; NaN when there are none.
 * @param {number[]} values
 * @param {number} q
 */
export function quantile(values, q) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const at = q * (v.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return v[lo] + (v[hi] - v[lo]) * (at - lo);
}

/**
 * Median, quartiles and extremes of a list of per-round figures.
 * @param {number[]} values
 */
export function spread(values) {
  const v = values.filter((x) => Number.isFinite(x));
  return {
    median: median(v),
    q1: quantile(v, 0.25),
    q3: quantile(v, 0.75),
    min: v.length ? Math.min(...v) : NaN,
    max: v.length ? Math.max(...v) : NaN,
    n: v.length,
  };
}

/**
 * Medians over a contender's rounds, for the absolute columns.
 * @param {Round[]} rounds
 */
export function summarize(rounds) {
  /** @param {(r: Round) => number} f */
  const pick = (f) => rounds.map(f);
  const rps = pick((r) => r.rps);
  const resumed = rounds.filter((r) => r.resumed !== undefined);
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
    resumedPct: resumed.length ? (100 * resumed.reduce((n, r) => n + (r.resumed ?? 0), 0)) / resumed.reduce((n, r) => n + r.requests + r.unexpected, 0) : undefined,
  };
}

/**
 * Per-round paired figures against the baseline: in round i, this
 * contender's CPU per request over the baseline's CPU per request in round i
 * (and the same for throughput; for latency, the p99 difference in ms). Both
 * ran seconds apart, so a slow minute of the VM divides out; the median of
 * those per-round ratios, with its spread, is the figure to read. A round in
 * which either side has no figure is left out.
 * @param {Round[]} rounds
 * @param {Round[]} baseRounds
 */
export function pairedRatios(rounds, baseRounds) {
  const n = Math.min(rounds.length, baseRounds.length);
  /** @type {number[]} */
  const cpu = [];
  /** @type {number[]} */
  const rps = [];
  /** @type {number[]} */
  const p99Added = [];
  /** @type {number[]} */
  const p50Added = [];
  /** @type {number[]} */
  const p99 = [];
  for (let i = 0; i < n; i++) {
    const r = rounds[i];
    const b = baseRounds[i];
    cpu.push(r.cpuUsPerReq / b.cpuUsPerReq);
    rps.push(r.rps / b.rps);
    p99Added.push(r.latencyMs.p99 - b.latencyMs.p99);
    p50Added.push(r.latencyMs.p50 - b.latencyMs.p50);
    p99.push(r.latencyMs.p99 / b.latencyMs.p99);
  }
  return { cpu: spread(cpu), rps: spread(rps), p50AddedMs: spread(p50Added), p99AddedMs: spread(p99Added), p99: spread(p99) };
}

/**
 * Paired CPU ratios between two contenders other than the baseline, e.g.
 * guardpost over guardpost-noaccess: what the access log costs. Added to
 * `scenario.comparisons` when both were measured.
 * @param {ScenarioRecord} scenario
 * @param {string[][]} pairs [a, b]: a over b
 */
export function addComparisons(scenario, pairs) {
  scenario.comparisons = [];
  for (const [a, b] of pairs) {
    const ea = scenario.entries.find((e) => e.name === a && e.summary);
    const eb = scenario.entries.find((e) => e.name === b && e.summary);
    if (ea && eb) scenario.comparisons.push({ a, b, cpu: pairedRatios(ea.rounds ?? [], eb.rounds ?? []).cpu });
  }
}

/**
 * Adds `paired` (see pairedRatios) to every measured entry; NaN figures when the baseline was not measured.
 * @param {ScenarioRecord} scenario
 * @param {string} baselineName
 */
export function addPairedRatios(scenario, baselineName) {
  const base = scenario.entries.find((e) => e.name === baselineName && e.summary);
  for (const entry of scenario.entries) {
    if (!entry.summary) continue;
    entry.summary.paired = pairedRatios(entry.rounds ?? [], base?.rounds ?? []);
  }
}

/** A load generator this busy is at or near its own limit (one thread). */
const LOADER_BOUND_PCT = 85;

/** @typedef {(n: number) => string} Format */
/** @typedef {(s: Summary) => string} Cell */

/** @type {Format} */
const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
/** @type {(digits: number) => Format} */
const fixed = (digits) => (n) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
/** @type {Format} */
const ms = (n) => (Number.isFinite(n) ? (n >= 10 ? n.toFixed(0) : n.toFixed(2)) : "-");

/** @type {(f: keyof Paired, fmt: Format) => Cell} */
const range = (f, fmt) => (s) => (s.paired && s.paired[f].n > 0 ? `${fmt(s.paired[f].min)}–${fmt(s.paired[f].max)}` : "-");
/** @type {(f: keyof Paired, fmt: Format) => Cell} */
const iqr = (f, fmt) => (s) => (s.paired && s.paired[f].n > 0 ? `${fmt(s.paired[f].q1)}–${fmt(s.paired[f].q3)}` : "-");
/** @type {(f: keyof Paired, fmt: Format) => Cell} */
const paired = (f, fmt) => (s) => (s.paired ? fmt(s.paired[f].median) : "-");
/** @type {Format} */
const signedMs = (n) => (Number.isFinite(n) ? `${n >= 0 ? "+" : ""}${n.toFixed(2)}` : "-");

/**
 * Column definitions per kind of scenario: [header, cell(entry summary)].
 * @param {ScenarioRecord} scenario
 * @param {string} baselineName
 * @returns {[string, Cell][]}
 */
function columns(scenario, baselineName) {
  const unit = scenario.unit ?? "req/s";
  const per = unit === "conn/s" ? "conn" : "req";
  const x = fixed(2);
  if (scenario.metric === "latency") {
    return [
      ["achieved req/s", (s) => int(s.rps)],
      ["p50 ms", (s) => ms(s.p50Ms)],
      ["p50 added ms", paired("p50AddedMs", signedMs)],
      ["p99 ms", (s) => ms(s.p99Ms)],
      [`p99 added ms`, paired("p99AddedMs", signedMs)],
      ["added range", range("p99AddedMs", signedMs)],
      ["CPU µs/req", (s) => fixed(1)(s.cpuUsPerReq)],
      [`CPU × ${baselineName}`, paired("cpu", x)],
      ["CPU × range", range("cpu", x)],
      ["proxy CPU %", (s) => int(s.proxyCpuPct)],
    ];
  }
  /** @type {[string, Cell][]} */
  const cols = [
    [`CPU µs/${per}`, (s) => fixed(1)(s.cpuUsPerReq)],
    [`CPU × ${baselineName}`, paired("cpu", x)],
    ["CPU × IQR", iqr("cpu", x)],
    ["CPU × range", range("cpu", x)],
    [`median ${unit}`, (s) => int(s.rps)],
    [`${unit} × ${baselineName}`, paired("rps", x)],
    [`${unit} × range`, range("rps", x)],
    ["p99 ms", (s) => ms(s.p99Ms)],
    ["proxy CPU %", (s) => int(s.proxyCpuPct)],
    ["loader CPU %", (s) => int(s.loaderCpuPct)],
  ];
  if (scenario.entries.some((e) => e.summary?.resumedPct !== undefined)) cols.splice(1, 0, ["resumed %", (s) => (s.resumedPct === undefined ? "-" : int(s.resumedPct))]);
  return cols;
}

/**
 * @param {ScenarioRecord} scenario
 * @param {string} baselineName
 */
function rows(scenario, baselineName) {
  const cols = columns(scenario, baselineName);
  const header = ["contender", ...cols.map(([h]) => h)];
  const body = scenario.entries.filter((e) => e.summary).map((e) => [e.name, ...cols.map(([, cell]) => cell(/** @type {Summary} */ (e.summary)))]);
  return { header, body };
}

/** @param {ScenarioRecord} scenario */
function notes(scenario) {
  const out = [];
  for (const c of scenario.comparisons ?? []) {
    const f = fixed(2);
    out.push(`CPU per ${scenario.unit === "conn/s" ? "connection" : "request"}, ${c.a} / ${c.b}, paired per round: ${f(c.cpu.median)} (IQR ${f(c.cpu.q1)}–${f(c.cpu.q3)}, range ${f(c.cpu.min)}–${f(c.cpu.max)})`);
  }
  if (scenario.rate) out.push(`offered rate: ${int(scenario.rate)} req/s (half of ${int(scenario.rate * 2)}, ${scenario.rateSource})`);
  for (const e of scenario.entries) {
    if (e.skipped) out.push(`${e.name} skipped: ${e.skipped}`);
    else if (e.summary && e.summary.unexpected > 0) out.push(`${e.name}: ${e.summary.unexpected} of ${e.summary.requests} responses had the wrong status or failed`);
    if (e.summary && scenario.metric === "throughput" && e.summary.loaderCpuPct >= LOADER_BOUND_PCT) {
      out.push(`${e.name}: the load generator used ${Math.round(e.summary.loaderCpuPct)}% of a core, so it, not the proxy, may have set this rate; compare CPU per request`);
    }
    if (scenario.resumes && e.summary?.resumedPct !== undefined && e.summary.resumedPct < 50) out.push(`${e.name}: only ${Math.round(e.summary.resumedPct)}% of connections resumed; the rest were full handshakes`);
    if (e.summary && Number.isFinite(e.summary.logBytesPerReq)) out.push(`${e.name}: ${e.summary.logBytesPerReq.toFixed(0)} bytes of stdout per request`);
  }
  return out;
}

/**
 * @param {ScenarioRecord} scenario
 * @param {string} baselineName
 */
export function textTable(scenario, baselineName) {
  const { header, body } = rows(scenario, baselineName);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  /** @param {string[]} cells */
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const out = [`== ${scenario.name}: ${scenario.title}`];
  if (body.length > 0) out.push(line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line));
  else out.push("(nothing measured)");
  for (const note of notes(scenario)) out.push(`  note: ${note}`);
  return out.join("\n");
}

/**
 * @param {ScenarioRecord} scenario
 * @param {string} baselineName
 */
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

/** @param {Results} results */
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
    `- Machine: ${m.nproc} CPUs (\`nproc --all\`), ${m.cpuModel}, ${m.memGiB} GiB, ${m.os}, Linux ${m.kernel}`,
    `- Node ${m.node}; ${versions}`,
    `- Bench commit ${meta.commit}${meta.guardpost ? `; guardpost under test: \`${meta.guardpost.cli}\`, ${meta.guardpost.version}` : ""}`,
    `- Node contenders ran on Node ${s.contenderNode?.version ?? m.node}; the load generator and upstream on ${m.node}`,
    `- Settings: ${s.rounds} round(s) of ${s.duration} s per contender, interleaved and rotated each round; ${s.warmup} s warm-up; ` +
      `${s.connections} autocannon connections; ${s.handshakeConcurrency} parallel handshake loops; ${s.pacedConnections} connections for paced latency`,
    s.pinned
      ? `- Pinned with taskset: the proxy under test alone on CPU ${s.pinned.proxy}; load generator and upstream on CPU ${s.pinned.loader}. Other work on the machine was not stopped.`
      : `- Not pinned (${s.notPinnedBecause}): load generator, upstream and proxy share the CPUs.`,
    ...(results.scenarios.some((sc) => sc.baseline && sc.baseline !== meta.baseline)
      ? [`- HTTP/2 and gRPC: ${s.sessions} sessions (gRPC channels) per run, ${s.streams} streams (calls) in flight on each; their ratios are against the baseline their tables name`]
      : []),
    `- CPU is user + system time of the proxy's process tree from /proc. "× ${meta.baseline}" is the median over rounds of (contender / ${meta.baseline} in the same round); IQR and range are over the same per-round ratios.`,
    "",
    ...results.scenarios.flatMap((scenario) => [markdownTable(scenario, scenario.baseline ?? meta.baseline), ""]),
  ].join("\n");
}
