/**
 * The machine a run happened on, and the Debian packages for the native
 * contenders. Figures from one machine only compare with figures from the
 * same run, so every report carries this description.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, release } from "node:os";

/**
 * @param {string} command
 * @param {string[]} args
 */
function run(command, args) {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return null;
  }
}

/** @param {string} name */
export function hasCommand(name) {
  return run("sh", ["-c", `command -v ${name}`]) !== null;
}

/**
 * Version line of a native contender, or null when it is not installed.
 * @param {string} name
 */
export function nativeVersion(name) {
  // both print their version on stderr
  const result = spawnSync(name, ["-v"], { encoding: "utf8" });
  if (result.error) return null;
  const text = `${result.stdout}${result.stderr}`.split("\n")[0].trim();
  return text || null;
}

export function describeMachine() {
  const cpuinfo = safeRead("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const osName = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(safeRead("/etc/os-release"))?.[1] ?? "unknown";
  return {
    node: process.version,
    // --all: the machine's CPUs, not the ones this (pinned) process may use
    nproc: Number(run("nproc", ["--all"])) || availableParallelism(),
    cpuModel: model,
    os: osName,
    kernel: release(),
    memGiB: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(safeRead("/proc/meminfo"))?.[1] ?? 0) / 1024 / 1024),
  };
}

/** @param {string} file */
function safeRead(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * Makes sure the named Debian packages' commands exist: installs them with
 * apt-get when running as root, retrying once after `apt-get update` (a fresh
 * container has no package lists). Returns the names that are still missing,
 * each with the reason, so the caller can skip those contenders with a note.
 * @param {string[]} names
 * @param {(message: string) => void} log
 * @returns {Map<string, string>}
 */
export function ensureDebianPackages(names, log) {
  const missing = names.filter((name) => !hasCommand(name));
  if (missing.length === 0) return new Map();
  const reasons = new Map();
  if (process.getuid?.() !== 0) {
    for (const name of missing) reasons.set(name, `${name} is not installed and the bench is not running as root (apt-get install -y ${name})`);
    return reasons;
  }
  if (!hasCommand("apt-get")) {
    for (const name of missing) reasons.set(name, `${name} is not installed and apt-get is not available`);
    return reasons;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, encoding: "utf8", timeout: 300_000 });
  log(`installing ${missing.join(", ")} with apt-get ...`);
  let result = install();
  if (result.status !== 0) {
    log("apt-get install failed; running apt-get update and trying again ...");
    spawnSync("apt-get", ["update"], { env, encoding: "utf8", timeout: 300_000 });
    result = install();
  }
  for (const name of missing) {
    if (hasCommand(name)) continue;
    const why = (result.stderr || result.error?.message || "").trim().split("\n").slice(-1)[0];
    reasons.set(name, `${name} could not be installed with apt-get${why ? `: ${why}` : ""}`);
  }
  return reasons;
}

/**
 * The Node binary for the Node contenders: this one when `spec` is null, a
 * path as given, or a major version ("24", "node@24") installed from the npm
 * registry's `node` package through npx (what .ci/run does too).
 * @param {string | null | undefined} spec
 */
export function resolveNode(spec) {
  if (!spec) return process.execPath;
  const major = /^(?:node@)?(\d+(?:\.\d+){0,2})$/.exec(spec)?.[1];
  if (!major) return spec;
  const result = spawnSync("npx", ["--yes", "--package", `node@${major}`, "--", "node", "-p", "process.execPath"], { encoding: "utf8", timeout: 300_000 });
  const path = result.stdout?.trim().split("\n").pop();
  if (result.status !== 0 || !path) throw new Error(`could not get Node ${major} with npx: ${(result.stderr || result.error?.message || "").trim().split("\n").slice(-1)[0]}`);
  return path;
}

/**
 * `node --version` of a binary.
 * @param {string} binary
 */
export function nodeVersion(binary) {
  return run(binary, ["--version"]) ?? "unknown";
}

/**
 * Which CPUs the run uses. With taskset and at least two CPUs: the proxy
 * under test alone on the last CPU, this process (the load generator) and the
 * upstream on CPU 0, so the proxy's rate is not set by how the scheduler
 * happens to share cores with the loader. Other work on the machine still
 * lands anywhere; per-round paired ratios absorb that.
 * Returns null when pinning is off or not possible, with the reason.
 * @param {boolean} wanted
 * @returns {{ plan: { loader: number, proxy: number }, why: null } | { plan: null, why: string }}
 */
export function cpuPlan(wanted) {
  if (!wanted) return { plan: null, why: "--no-pin" };
  const cpus = Number(run("nproc", [])) || availableParallelism();
  if (cpus < 2) return { plan: null, why: "one CPU" };
  if (!hasCommand("taskset")) return { plan: null, why: "taskset not found (apt-get install util-linux)" };
  const plan = { loader: 0, proxy: cpus - 1 };
  // -a: every thread this process already has (libuv's pool, V8's helpers); new ones inherit.
  if (run("taskset", ["-a", "-p", "-c", String(plan.loader), String(process.pid)]) === null) return { plan: null, why: "taskset -p failed" };
  return { plan, why: null };
}
