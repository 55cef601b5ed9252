#!/usr/bin/env node
/**
 * `npm run bench`: guardpost against its baselines, in one run, on one machine.
 *
 * 1. One throwaway PKI (ECDSA P-256), one upstream process, the ACLs.
 * 2. Each contender starts as its own process and must answer correctly
 *    (allowed, denied, no client certificate) before it is timed; one that
 *    fails to start or to answer is skipped with the reason.
 * 3. The proxy under test runs alone on one CPU (taskset), this process (the
 *    load generator) and the upstream on another.
 * 4. Per scenario: a warm-up per contender, then many short rounds in which
 *    the contenders take turns (order rotated each round), each run bracketed
 *    by CPU readings of the proxy's process tree from /proc.
 * 5. Each contender's figures divided by minimal-node's from the same round;
 *    the report gives the median of those paired ratios and their spread,
 *    never a ratio of medians. Raw rounds in JSON.
 *
 * Progress goes to stderr, tables to stdout. See `--help` and bench/RESULTS.md.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BASELINE, CONTENDERS, guardpost, speaks } from "./contenders.js";
import { toHaproxyList, toNginxMap, toYaml, bigRules, grpcRules, smallRules, wsRules } from "./lib/acl.js";
import { admissionCheck } from "./lib/checks.js";
import { autocannonRun } from "./lib/load.js";
import { parseOptions, USAGE } from "./lib/options.js";
import { makePki } from "./lib/pki.js";
import { canReadCpu, cpuMicros, freePort, startProcess, waitForPort } from "./lib/processes.js";
import { addComparisons, addPairedRatios, markdownReport, summarize, textTable } from "./lib/report.js";
import { cpuPlan, describeMachine, ensureDebianPackages, hasCommand, nativeVersion, nodeVersion, resolveNode } from "./lib/system.js";
import { PATHS } from "./lib/wire.js";
import { SCENARIOS } from "./scenarios.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, "..");
const HANDSHAKE_CONCURRENCY = 8;
const PACED_CONNECTIONS = 32;

/** @typedef {import("./contenders.js").Contender} Contender */
/** @typedef {import("./contenders.js").Ctx} Ctx */
/** @typedef {import("./scenarios.js").Scenario} Scenario */
/** @typedef {import("./scenarios.js").Load} Load */
/** @typedef {import("./lib/processes.js").Proc} Proc */
/** @typedef {import("./lib/report.js").Entry} Entry */
/** @typedef {import("./lib/report.js").Round} Round */
/** @typedef {ReturnType<typeof parseOptions>} Options */
/** @typedef {{ target: import("./lib/load.js").Target, proc: Proc, shared?: boolean }} Ready a started contender that passed its admission check */
/** @typedef {(Ready & { failure?: undefined }) | { failure: string, proc?: Proc, shared?: boolean }} Instance */
/** @typedef {Entry & { inst?: Ready }} RunEntry */
/** @typedef {Entry & { inst: Ready, rounds: Round[] }} Timed an entry ready to be timed */

/** @param {string} message */
const log = (message) => process.stderr.write(`${message}\n`);
/**
 * A contender takes part in a scenario when it speaks the scenario's protocol and the scenario wants it.
 * @param {Scenario} scenario
 * @param {Contender} contender
 */
const takesPart = (scenario, contender) => speaks(contender, scenario.protocol ?? "http1") && scenario.eligible(contender);
/** @param {Scenario} scenario */
const baselineOf = (scenario) => scenario.baseline ?? BASELINE;

async function main() {
  /** @type {Options} */
  let options;
  /** @type {Scenario[]} */
  let scenarios;
  /** @type {Contender[]} */
  let chosen;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
    scenarios = options.only ? pick(SCENARIOS, options.only, (s, name) => s.name === name, "scenario") : SCENARIOS.filter((s) => !s.optIn);
    const all = [...CONTENDERS, ...options.also.map(({ name, file }) => guardpost(name, { cli: resolve(file), description: `default config, the CLI at ${file}` }))];
    chosen = options.contenders ? pick(all, options.contenders, (c, name) => c.name === name || (c.family === name && !c.optIn), "contender") : all.filter((c) => !c.optIn);
    // `all` holds every --also contender, so find() finds one
    for (const extra of options.also) if (!chosen.some((c) => c.name === extra.name)) chosen.push(/** @type {Contender} */ (all.find((c) => c.name === extra.name)));
  } catch (error) {
    log(`bench: ${/** @type {Error} */ (error).message}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const contenders = chosen.filter((c) => scenarios.some((s) => takesPart(s, c)));
  for (const s of scenarios.filter((s) => !contenders.some((c) => takesPart(s, c)))) log(`[${s.name}] left out: none of the chosen contenders takes part in it`);
  scenarios = scenarios.filter((s) => contenders.some((c) => takesPart(s, c)));
  if (!canReadCpu()) log("note: /proc/<pid>/stat is not readable here; CPU columns will be empty");
  let node;
  try {
    node = resolveNode(options.node);
  } catch (error) {
    log(`bench: ${/** @type {Error} */ (error).message}`);
    return 2;
  }
  const pinning = cpuPlan(options.pin);
  log(pinning.plan ? `pinned: proxy under test on CPU ${pinning.plan.proxy}, load generator and upstream on CPU ${pinning.plan.loader}` : `not pinned: ${pinning.why}`);

  const unavailable = new Map(); // contender name -> why it cannot run at all
  const natives = [...new Set(contenders.flatMap((c) => c.native ?? []))];
  if (natives.length > 0) {
    const missing = options.install
      ? ensureDebianPackages(natives, log)
      : new Map(natives.filter((n) => !hasCommand(n)).map((n) => [n, `${n} is not installed (--no-install)`]));
    // keyed by contender: haproxy and haproxy-h2 share one command
    for (const c of contenders) {
      const why = c.native === undefined ? undefined : missing.get(c.native);
      if (why) unavailable.set(c.name, why);
    }
  }

  const tmpDir = mkdtempSync(join(tmpdir(), "guardpost-bench-"));
  // also on Ctrl-C, which ends the process without running `finally`
  if (!options.keepTmp) process.on("exit", () => rmSync(tmpDir, { recursive: true, force: true }));
  const logDir = join(tmpDir, "logs");
  mkdirSync(logDir);
  /** @type {Map<string, Promise<Instance>>} */
  const instances = new Map(); // "name/aclKind" -> Promise<{target, proc} | {failure}>
  /** @type {Ctx["upstream"] | undefined} */
  let upstream;
  /** @type {Ctx["upstream"] | undefined} the gRPC service, when a scenario needs it */
  let grpcUpstream;
  /** @type {Ctx["upstream"] | undefined} the WebSocket echo service, when a scenario needs it */
  let wsUpstream;
  try {
    log(`temp dir ${tmpDir}`);
    const pki = await makePki(tmpDir);
    /** @type {Ctx["acl"]} */
    const acl = { small: writeAcl(tmpDir, "small", smallRules()) };
    if (scenarios.some((s) => s.aclKind === "big")) acl.big = writeAcl(tmpDir, "big", bigRules());
    if (scenarios.some((s) => s.aclKind === "grpc")) acl.grpc = writeAcl(tmpDir, "grpc", grpcRules());
    if (scenarios.some((s) => s.aclKind === "ws")) acl.ws = writeAcl(tmpDir, "ws", wsRules());

    const upstreamPort = await freePort();
    const upstreamProc = startProcess({
      name: "upstream",
      command: process.execPath,
      args: [join(benchDir, "servers", "upstream.js"), JSON.stringify({ host: "127.0.0.1", port: upstreamPort })],
      cwd: repoRoot,
      logDir,
      cpu: pinning.plan?.loader,
    });
    await waitForPort(upstreamPort, { proc: upstreamProc });
    upstream = { proc: upstreamProc, host: "127.0.0.1", port: upstreamPort, url: `http://127.0.0.1:${upstreamPort}` };
    /**
     * A bench service from bench/servers/, on the loader's CPU; kept before it is waited for, so that it is stopped either way.
     * @param {string} name
     * @param {string} scheme of its URL as guardpost's upstream
     */
    const startService = async (name, scheme) => {
      const port = await freePort();
      const proc = startProcess({
        name,
        command: process.execPath,
        args: [join(benchDir, "servers", `${name}.js`), JSON.stringify({ host: "127.0.0.1", port })],
        cwd: repoRoot,
        logDir,
        cpu: pinning.plan?.loader,
      });
      return { proc, host: "127.0.0.1", port, url: `${scheme}://127.0.0.1:${port}` };
    };
    // The gRPC service (h2c) behind the "grpc" ACL kind and the WebSocket echo service behind "ws", only when a scenario needs them.
    if (scenarios.some((s) => s.aclKind === "grpc")) {
      grpcUpstream = await startService("grpc-upstream", "h2c");
      await waitForPort(grpcUpstream.port, { proc: grpcUpstream.proc });
    }
    if (scenarios.some((s) => s.aclKind === "ws")) {
      wsUpstream = await startService("ws-upstream", "http");
      await waitForPort(wsUpstream.port, { proc: wsUpstream.proc });
    }
    /** @param {string} name */
    const nodeFlags = (name) => {
      if (!options.profile) return [];
      const dir = resolve(options.profile, name);
      mkdirSync(dir, { recursive: true });
      return ["--cpu-prof", "--cpu-prof-dir", dir];
    };
    /** @type {Ctx["upstreamFor"]} */
    const upstreamFor = (aclKind) => {
      const chosen = aclKind === "grpc" ? grpcUpstream : aclKind === "ws" ? wsUpstream : upstream;
      if (!chosen) throw new Error(`no upstream was started for the ${aclKind} ACL`);
      return chosen;
    };
    const ctx = { repoRoot, benchDir, tmpDir, logDir, pki, acl, upstream, upstreamFor, guardpostCli: guardpostCliPath(options), node, nodeFlags, proxyCpu: pinning.plan?.proxy, loaderCpu: pinning.plan?.loader };

    /**
     * Starts a contender once per ACL and runs the checks every contender must pass.
     * @param {Contender} contender
     * @param {import("./contenders.js").AclKind} aclKind
     * @returns {Promise<Instance>}
     */
    const instance = (contender, aclKind) => {
      const key = `${contender.name}/${aclKind}`;
      if (!instances.has(key)) {
        instances.set(
          key,
          (async () => {
            const why = unavailable.get(contender.name);
            if (why !== undefined) return { failure: why };
            let started;
            try {
              started = await contender.start(ctx, aclKind);
            } catch (error) {
              return { failure: `did not start: ${/** @type {Error} */ (error).message}` };
            }
            const target = { protocol: started.protocol, host: started.host, port: started.port };
            const failure = await admissionCheck(target, contender, pki);
            if (failure) return { failure: `failed its check: ${failure}`, proc: started.proc, shared: started.shared };
            return { target, proc: started.proc, shared: started.shared };
          })(),
        );
      }
      return /** @type {Promise<Instance>} */ (instances.get(key));
    };

    const settings = {
      duration: options.duration,
      rounds: options.rounds,
      warmup: options.warmup,
      connections: options.connections,
      sessions: options.sessions,
      streams: options.streams,
      handshakeConcurrency: HANDSHAKE_CONCURRENCY,
      pacedConnections: PACED_CONNECTIONS,
      quick: options.quick,
      pinned: pinning.plan,
      notPinnedBecause: pinning.why,
      contenderNode: { path: node, version: nodeVersion(node) },
    };
    /** @type {Omit<Load, "duration">} */
    const loadBase = { connections: options.connections, sessions: options.sessions, streams: options.streams, tls: pki.client, handshakeConcurrency: HANDSHAKE_CONCURRENCY, pacedConnections: PACED_CONNECTIONS };
    /** @type {import("./lib/report.js").Results} */
    const results = {
      meta: {
        command: commandLine(),
        date: new Date().toISOString(),
        machine: describeMachine(),
        versions: versions(contenders),
        commit: gitCommit(),
        guardpost: contenders.some((c) => c.family === "guardpost") ? guardpostVersion(guardpostCliPath(options)) : undefined,
        settings,
        baseline: BASELINE,
      },
      scenarios: [],
    };
    const started = performance.now();

    for (const scenario of scenarios) {
      const entries = await checkedEntries(scenario, contenders.filter((c) => takesPart(scenario, c)), instance, pki);
      /** @type {import("./lib/report.js").ScenarioRecord} */
      const record = { name: scenario.name, title: scenario.title, metric: scenario.metric, unit: scenario.unit, resumes: scenario.resumes, baseline: baselineOf(scenario), entries };
      results.scenarios.push(record);
      const timed = entries.filter(isTimed);
      if (timed.length === 0) {
        log(`[${scenario.name}] nothing to time`);
        continue;
      }
      const load = { ...loadBase };
      if (scenario.needsRate) {
        const peak = await baselinePeak(results, instance, options, loadBase);
        if (!peak) {
          for (const e of timed) e.skipped = "no minimal-node peak rate to take half of";
          for (const e of timed) delete (/** @type {RunEntry} */ (e)).inst;
          continue;
        }
        record.rate = load.rate = Math.round(peak.rps / 2);
        record.rateSource = peak.source;
      }
      await timeRounds(scenario, timed, load, options, upstreamFor(scenario.aclKind).proc);
      addPairedRatios(record, baselineOf(scenario));
      // what the default's access log costs, measured the same way
      addComparisons(record, [["guardpost", "guardpost-noaccess"], ...options.also.map(({ name }) => [name, "guardpost-noaccess"])]);
      if (scenario.aclKind === "big") await stopInstances(instances, (key) => key.endsWith("/big"));
    }
    results.meta.elapsedSeconds = Math.round((performance.now() - started) / 1000);

    for (const scenario of results.scenarios) process.stdout.write(`\n${textTable(scenario, scenario.baseline ?? BASELINE)}\n`);
    const outDir = resolve(options.out ?? join(repoRoot, ".bench-tmp"));
    mkdirSync(outDir, { recursive: true });
    const markdown = markdownReport(results);
    writeFileSync(join(outDir, "bench-results.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(outDir, "bench-results.md"), markdown);
    log(`\nwrote ${relative(process.cwd(), join(outDir, "bench-results.json"))} and bench-results.md (${results.meta.elapsedSeconds} s)`);
    if (options.record) {
      const major = settings.contenderNode.version.replace(/^v(\d+).*/, "$1");
      recordResults(markdown, `node${major}`);
      writeFileSync(join(benchDir, `RESULTS-node${major}.json`), `${JSON.stringify(results, null, 2)}\n`);
      log(`updated the node${major} block of bench/RESULTS.md and bench/RESULTS-node${major}.json`);
    }
    return 0;
  } finally {
    await stopInstances(instances, () => true);
    await upstream?.proc.stop();
    await grpcUpstream?.proc.stop();
    await wsUpstream?.proc.stop();
    if (options.keepTmp) log(`kept ${tmpDir}`);
  }
}

/**
 * One entry per eligible contender: ready to time (`inst`), or `skipped`
 * with the reason it did not start or failed this scenario's check.
 * @param {Scenario} scenario
 * @param {Contender[]} contenders
 * @param {(contender: Contender, aclKind: import("./contenders.js").AclKind) => Promise<Instance>} instance
 * @param {import("./lib/pki.js").Pki} pki
 */
async function checkedEntries(scenario, contenders, instance, pki) {
  /** @type {RunEntry[]} */
  const entries = [];
  for (const contender of contenders) {
    /** @type {RunEntry} */
    const entry = { name: contender.name, description: contender.description };
    const inst = await instance(contender, scenario.aclKind);
    const failure = inst.failure ?? (await scenario.check(inst.target, pki));
    if (inst.failure !== undefined) entry.skipped = inst.failure;
    else if (failure) entry.skipped = `failed the ${scenario.name} check: ${failure}`;
    else Object.assign(entry, { inst, rounds: [] });
    entries.push(entry);
  }
  return entries;
}

/**
 * @param {RunEntry} e
 * @returns {e is Timed}
 */
function isTimed(e) {
  return e.inst !== undefined;
}

/**
 * A warm-up for each contender, then `rounds` timed runs each, taking turns; leaves a summary on each entry.
 * @param {Scenario} scenario
 * @param {Timed[]} timed
 * @param {Omit<Load, "duration">} load
 * @param {Options} options
 * @param {Proc} upstreamProc
 */
async function timeRounds(scenario, timed, load, options, upstreamProc) {
  log(`[${scenario.name}] warm-up: ${timed.map((e) => e.name).join(", ")}`);
  for (const entry of timed) await scenario.measure(entry.inst.target, { ...load, duration: options.warmup });
  // Only a round in which every contender ran is comparable; a failed run is recorded and the round kept.
  for (let round = 0; round < options.rounds; round++) {
    // rotate the order so that no contender always runs first
    const order = timed.map((_, i) => timed[(i + round) % timed.length]);
    for (const entry of order) {
      const r = await timedRun(scenario, entry.inst, upstreamProc, { ...load, duration: options.duration });
      entry.rounds.push(r);
      log(
        `[${scenario.name}] round ${round + 1}/${options.rounds} ${entry.name}: ${Math.round(r.rps)} ${scenario.unit ?? "req/s"}, ` +
          `${r.cpuUsPerReq.toFixed(1)} µs CPU/req, p99 ${r.latencyMs.p99.toFixed(2)} ms${r.resumed !== undefined ? `, ${r.resumed}/${r.requests + r.unexpected} resumed` : ""}`,
      );
    }
  }
  for (const entry of timed) {
    entry.summary = summarize(entry.rounds);
    delete (/** @type {RunEntry} */ (entry)).inst;
  }
}

/**
 * Filters `all` by a list of names; an unknown name is an error rather than an empty run.
 * @template {{ name: string }} T
 * @param {T[]} all
 * @param {string[] | null} names
 * @param {(item: T, name: string) => boolean} matches
 * @param {string} what
 */
function pick(all, names, matches, what) {
  if (!names) return all;
  for (const name of names) {
    if (!all.some((item) => matches(item, name))) throw new Error(`unknown ${what} "${name}" (expected one of: ${all.map((i) => i.name).join(", ")})`);
  }
  return all.filter((item) => names.some((name) => matches(item, name)));
}

/**
 * @param {string} dir
 * @param {import("./contenders.js").AclKind} kind
 * @param {import("./lib/acl.js").Rule[]} rules
 * @returns {import("./contenders.js").AclFiles}
 */
function writeAcl(dir, kind, rules) {
  const yaml = join(dir, `acl-${kind}.yaml`);
  const haproxy = join(dir, `acl-${kind}.haproxy.lst`);
  writeFileSync(yaml, toYaml(rules));
  writeFileSync(haproxy, toHaproxyList(rules));
  return { yaml, haproxy, nginxMap: toNginxMap(rules) };
}

/**
 * One timed run with CPU readings of the proxy, the upstream and this process around it.
 * @param {Scenario} scenario
 * @param {Ready} inst
 * @param {Proc} upstreamProc
 * @param {Load} load
 * @returns {Promise<Round>}
 */
async function timedRun(scenario, inst, upstreamProc, load) {
  const pid = inst.proc.pid;
  const logBefore = inst.shared ? 0 : inst.proc.stdoutBytes();
  const cpu0 = cpuMicros(pid);
  const up0 = cpuMicros(upstreamProc.pid);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await scenario.measure(inst.target, load);
  const wallUs = (performance.now() - t0) * 1000;
  const self = process.cpuUsage(self0);
  const proxyUs = cpuMicros(pid) - cpu0;
  const upstreamUs = cpuMicros(upstreamProc.pid) - up0;
  /** @type {Round} */
  const out = {
    ...result,
    cpuUsPerReq: proxyUs / result.requests,
    upstreamCpuUsPerReq: inst.proc === upstreamProc ? NaN : upstreamUs / result.requests,
    proxyCpuPct: (100 * proxyUs) / wallUs,
    loaderCpuPct: (100 * (self.user + self.system)) / wallUs,
  };
  if (!inst.shared) {
    const written = inst.proc.stdoutBytes() - logBefore;
    if (written > 0) out.logBytesPerReq = written / result.requests;
    inst.proc.truncateStdout();
  }
  return out;
}

/**
 * minimal-node's peak keep-alive GET rate: the median from this run's `get`
 * scenario when it ran, else a short probe now.
 * @param {import("./lib/report.js").Results} results
 * @param {(contender: Contender, aclKind: import("./contenders.js").AclKind) => Promise<Instance>} instance
 * @param {Options} options
 * @param {Omit<Load, "duration">} loadBase
 */
async function baselinePeak(results, instance, options, loadBase) {
  const fromGet = results.scenarios.find((s) => s.name === "get")?.entries.find((e) => e.name === BASELINE && e.summary)?.summary;
  if (fromGet) return { rps: fromGet.rps, source: "minimal-node's median in the get scenario above" };
  const baseline = /** @type {Contender} */ (CONTENDERS.find((c) => c.name === BASELINE));
  const inst = await instance(baseline, "small");
  if (inst.failure !== undefined) return null;
  const seconds = Math.max(options.duration, 1);
  log(`[latency] probing minimal-node's peak GET rate for ${seconds} s`);
  const probe = await autocannonRun(inst.target, { ...loadBase, duration: seconds, requests: [{ method: "GET", path: PATHS.small }], expectStatus: 200 });
  return { rps: probe.rps, source: `a ${seconds} s probe of minimal-node's GET rate` };
}

/**
 * @param {Map<string, Promise<Instance>>} instances
 * @param {(key: string) => boolean} matches
 */
async function stopInstances(instances, matches) {
  for (const [key, promise] of instances) {
    if (!matches(key)) continue;
    const inst = await promise;
    if (inst.proc && !inst.shared) await inst.proc.stop();
    instances.delete(key);
  }
}

/** @param {Contender[]} contenders */
function versions(contenders) {
  const require = createRequire(import.meta.url);
  /** @type {Record<string, string>} */
  const out = {
    autocannon: require("autocannon/package.json").version,
    undici: require("undici/package.json").version,
    "http-proxy": require("http-proxy/package.json").version,
    "@grpc/grpc-js": require("@grpc/grpc-js/package.json").version,
  };
  for (const c of contenders) {
    if (!c.native) continue;
    const line = nativeVersion(c.native);
    if (line) out[c.native] = /(\d+\.\d+\.\d+)/.exec(line)?.[1] ?? line;
  }
  return out;
}

/** @param {Options} options */
function guardpostCliPath(options) {
  return resolve(options.guardpost ?? join(repoRoot, "dist", "cli", "main.js"));
}

/**
 * `guardpost --version` of the build under test, so a report names what it measured.
 * @param {string} cli
 */
function guardpostVersion(cli) {
  const result = spawnSync(process.execPath, [cli, "--version"], { encoding: "utf8", timeout: 10_000 });
  return { cli: relative(repoRoot, cli) || cli, version: result.status === 0 ? result.stdout.trim() : `unavailable (${(result.stderr || result.error?.message || "").trim().split("\n")[0]})` };
}

/** The bench checkout's commit, with "-dirty" when it has uncommitted changes. */
function gitCommit() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" });
  if (head.status !== 0) return "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot, encoding: "utf8" });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? "-dirty" : ""}`;
}

function commandLine() {
  const args = process.argv.slice(2).join(" ");
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
  return `node bench/run.js${args ? ` ${args}` : ""}`;
}

/**
 * Replaces one generated block of bench/RESULTS.md (one per Node major), keeping the prose around it.
 * @param {string} markdown
 * @param {string} key
 */
function recordResults(markdown, key) {
  const file = join(benchDir, "RESULTS.md");
  const text = readFileSync(file, "utf8");
  const open = `<!-- bench:begin ${key} -->`;
  const close = `<!-- bench:end ${key} -->`;
  const begin = text.indexOf(open);
  const end = text.indexOf(close);
  if (begin === -1 || end < begin) throw new Error(`${file} has no ${open} ... ${close} block`);
  writeFileSync(file, `${text.slice(0, begin + open.length)}\n${markdown}\n${text.slice(end)}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    log(`bench: ${error.stack ?? error.message}`);
    process.exitCode = 1;
  },
);
