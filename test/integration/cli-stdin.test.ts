/**
 * A guardpost process leaves the stdin it shares with its shell alone.
 * Opening process.stdin makes an inherited pipe non-blocking for every
 * process that holds it, so after `guardpost serve &` in a shell that reads
 * its commands from a pipe, the shell's next read failed with EAGAIN and it
 * ran nothing more (the README walkthrough hung on it).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect, test } from "vitest";
import { tempDir } from "../helpers/pki.js";
import { CLI } from "../helpers/spawn.js";

test("a shell reading commands from a pipe runs every later command while a guardpost command runs in its background", async () => {
  const fifo = join(tempDir(), "log");
  const shell = spawn("bash", ["--noprofile", "--norc"], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  shell.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  shell.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise((resolve) => shell.on("close", resolve));
  // acl suggest waits on a FIFO nobody writes: a long-running guardpost that has no reason to read stdin.
  shell.stdin.write(`set -m\nmkfifo '${fifo}'\n'${process.execPath}' '${CLI}' acl suggest --from '${fifo}' > /dev/null 2>&1 &\n`);
  // Each command arrives while the shell is already waiting for input, as typed or piped ones do.
  for (let step = 1; step <= 5; step++) {
    await sleep(300);
    shell.stdin.write(`echo step ${step}\n`);
  }
  await sleep(300);
  shell.stdin.end("kill %1\nexit 0\n");
  await closed;
  expect(stderr).not.toMatch(/Resource temporarily unavailable/);
  expect(stdout).toBe("step 1\nstep 2\nstep 3\nstep 4\nstep 5\n");
});
