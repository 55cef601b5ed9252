/** Runs the built CLI (`node dist/cli/main.js`) as a real process, as users do. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
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

export function spawnCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  const proc: CliProcess = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
    async waitForLog(match, timeoutMs = 15_000) {
      let found: Record<string, unknown> | undefined;
      await expect
        .poll(
          () => {
            for (const line of proc.stdout.split("\n")) {
              if (!line.startsWith("{")) continue;
              const record = JSON.parse(line) as Record<string, unknown>;
              if (Object.entries(match).every(([k, v]) => record[k] === v)) {
                found = record;
                return true;
              }
            }
            return false;
          },
          { timeout: timeoutMs, interval: 50 },
        )
        .toBe(true);
      return found!;
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
