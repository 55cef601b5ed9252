/** Runs the built CLI (`node dist/cli/main.js`) as a real process, as users do. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { onCleanup } from "./cleanup.js";

export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface CliProcess {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Waits until stdout has a JSON log line matching every field of `match`; returns it. */
  waitForLog(match: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export function spawnCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; nodeArgs?: readonly string[] } = {}): CliProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  const proc: CliProcess = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
    // A plain poll rather than expect.poll, so it also works in beforeAll hooks.
    async waitForLog(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const line of proc.stdout.split("\n")) {
          if (!line.startsWith("{")) continue;
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue; // a line still being written
          }
          if (Object.entries(match).every(([k, v]) => record[k] === v)) return record;
        }
        if (Date.now() > deadline) throw new Error(`no log line matching ${JSON.stringify(match)} within ${timeoutMs} ms; stderr: ${proc.stderr.slice(0, 2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
  child.stdout!.on("data", (d: Buffer) => (proc.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (proc.stderr += d.toString()));
  // Killed when the test file ends, even if the test that started it failed half-way.
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return proc;
}

/** Runs the CLI to completion. */
export async function runCliProcess(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnCli(args, options);
  const code = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

/** Resident set size of a process, in bytes, from /proc. */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]) * 1024;
}
