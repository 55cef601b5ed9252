/**
 * Child processes for the contenders and the upstream: start, wait until they
 * listen, read their CPU time from /proc, stop. Every contender runs in its own
 * process so the load generator (this process) is never charged for its work.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";

/**
 * A port the kernel just handed out and released; used for configs that need the number up front.
 * @returns {Promise<number>}
 */
export function freePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();

/**
 * Signals the child's whole process group: each child leads its own group
 * (spawned detached), so nginx's worker goes down with its master even when
 * the master is killed outright.
 * @param {import("node:child_process").ChildProcess} child
 * @param {NodeJS.Signals} signal
 */
function signalGroup(child, signal) {
  try {
    // a child whose spawn failed has no pid and no group
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// A crashed or interrupted harness must not leave proxies behind holding ports and CPU.
process.on("exit", () => {
  for (const child of running) signalGroup(child, "SIGKILL");
});
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.once(signal, () => {
    for (const child of running) signalGroup(child, "SIGKILL");
    process.exit(130);
  });
}

/** @type {(cpu: number | null | undefined, command: string, args: string[]) => { command: string, args: string[] }} */
const pinned = (cpu, command, args) => (cpu === undefined || cpu === null ? { command, args } : { command: "taskset", args: ["-c", String(cpu), command, ...args] });

/**
 * @typedef {object} StartOptions
 * @property {string} name names the log files
 * @property {string} command
 * @property {string[]} args
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env] added to this process's environment
 * @property {string} logDir
 * @property {number | null} [cpu]
 * @property {{ cpu?: number | null }} [stdoutPipe]
 */

/** @typedef {ReturnType<typeof startProcess>} Proc */

/**
 * Spawns `command args` with stdout and stderr appended to files in logDir
 * (a pipe back to this process would make the load generator pay for a
 * proxy's access log, and a full pipe would stall the proxy).
 * With `cpu`, the process runs pinned to that CPU (taskset execs the command,
 * so the pid is the command's own).
 * With `stdoutPipe: {cpu}`, stdout is a pipe, as under a container runtime,
 * drained into the file by `cat` on that CPU: what a sidecar's log costs
 * depends on what its stdout is, and in a pod it is a pipe.
 * @param {StartOptions} options
 */
export function startProcess({ name, command, args, cwd, env, logDir, cpu, stdoutPipe }) {
  ({ command, args } = pinned(cpu, command, args));
  const stdoutFile = join(logDir, `${name}.stdout.log`);
  const stderrFile = join(logDir, `${name}.stderr.log`);
  let out = openSync(stdoutFile, "a");
  const err = openSync(stderrFile, "a");
  if (stdoutPipe) {
    const fifo = join(logDir, `${name}.stdout.fifo`);
    execFileSync("mkfifo", [fifo]);
    const drain = pinned(stdoutPipe.cpu, "cat", [fifo]);
    const drainer = spawn(drain.command, drain.args, { stdio: ["ignore", out, err], detached: true });
    running.add(drainer);
    drainer.once("exit", () => running.delete(drainer));
    closeSync(out);
    // Read-write: opening a FIFO this way never blocks, whether or not cat has opened it yet.
    out = openSync(fifo, "r+");
  }
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", out, err], detached: true });
  closeSync(out);
  closeSync(err);
  running.add(child);
  /** @type {{ code: number | null, signal: NodeJS.Signals | null } | null} */
  let exit = null;
  /** @type {Error | null} */
  let spawnError = null;
  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => {
    child.once("error", (error) => {
      spawnError = error;
      running.delete(child);
      resolve();
    });
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      running.delete(child);
      resolve();
    });
  });
  return {
    name,
    child,
    get pid() {
      return child.pid;
    },
    get exit() {
      return exit;
    },
    get spawnError() {
      return spawnError;
    },
    exited,
    stdoutFile,
    stderrFile,
    /** Why the process is not running, with the end of its output, or null while it runs. */
    failure() {
      if (spawnError) return `could not start ${command}: ${spawnError.message}`;
      if (!exit) return null;
      const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      const said = [tail(stderrFile), tail(stdoutFile)].filter(Boolean).join(" | ");
      return `exited with ${how}${said ? `: ${said}` : ""}`;
    },
    /** Bytes written to stdout so far (the access log, for proxies that log). */
    stdoutBytes() {
      return statSync(stdoutFile).size;
    },
    /** Empties the stdout file so access logs do not pile up across rounds. */
    truncateStdout() {
      truncateSync(stdoutFile, 0);
    },
    async stop(graceMs = 3000) {
      if (exit || spawnError) return;
      signalGroup(child, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** @param {string} file */
function tail(file, max = 400) {
  try {
    const text = readFileSync(file, "utf8").trim();
    const cut = text.length > max ? `...${text.slice(-max)}` : text;
    return cut.replace(/\s*\n\s*/g, " / ");
  } catch {
    return "";
  }
}

/**
 * Resolves once `port` accepts TCP connections; rejects if `proc` exits first or time runs out.
 * @param {number} port
 * @param {{ host?: string, proc?: Proc, timeoutMs?: number }} [options]
 */
export async function waitForPort(port, { host = "127.0.0.1", proc, timeoutMs = 10_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = proc?.failure();
    if (failure) throw new Error(failure);
    if (await canConnect(host, port)) return;
    if (Date.now() > deadline) throw new Error(`not listening on ${host}:${port} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * @param {string} host
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function canConnect(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** @type {number | undefined} */
let ticksPerSecond;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User + system CPU time, in microseconds, of `pid` and every process below
 * it (nginx's worker is a child of its master). Fields 14 and 15 of
 * /proc/<pid>/stat, in clock ticks (proc(5)); the command name in field 2 may
 * hold spaces, so fields are counted from the closing parenthesis.
 * NaN when the process is gone (or never started, so has no pid).
 * @param {number | undefined} pid
 */
export function cpuMicros(pid) {
  /** @type {Map<number, Stat[]>} */
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid)?.push(stat);
  }
  const root = pid === undefined ? null : readStat(pid);
  if (!root) return NaN;
  let ticks = 0;
  const queue = [root];
  while (queue.length > 0) {
    const stat = /** @type {Stat} */ (queue.pop());
    ticks += stat.ticks;
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return (ticks * 1e6) / clockTicks();
}

/** @typedef {{ pid: number, ppid: number, ticks: number }} Stat */

/**
 * @param {number} pid
 * @returns {Stat | null}
 */
function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // gone between readdir and read
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { pid, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** True when /proc/<pid>/stat is readable (Linux); CPU columns are left empty otherwise. */
export function canReadCpu() {
  return Number.isFinite(cpuMicros(process.pid));
}
