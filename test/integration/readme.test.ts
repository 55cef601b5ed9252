/**
 * The README's commands work when pasted. "A sidecar in five minutes" is
 * run line by line in one shell, in an empty project that has guardpost
 * (node_modules/guardpost is this repository, as after an install), each
 * line's output compared with what the README shows; lines that show no
 * output must succeed. The GitHub Actions snippet of "Policy tests in CI"
 * runs on this repository as written.
 *
 * The walkthrough's fixed ports (8443, 8080, 9901, 9001) are replaced by
 * free ones, the same way in every line, so that two runs on one machine
 * cannot collide; nothing else is changed.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import { tempDir } from "../helpers/pki.js";
import { freePort } from "../helpers/ports.js";
import { consoleSteps, fencedBlocks, matchesShown, readmeSection } from "../helpers/readme.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));


/**
 * One bash process that runs the lines it is given in order, like a
 * terminal: `cd`, variables and background jobs (`&`, `kill %1`) carry over,
 * and job control is on as in an interactive shell, so `kill %2` signals the
 * job's whole process group (npx, the shell npm starts, and guardpost).
 * Each line's stdout, stderr and exit code go to files the test reads.
 */
class Shell {
  private count = 0;
  private readonly child;
  /** Where the step scripts and their results go: never the folder the commands run in. */
  private readonly scratch = tempDir("guardpost-shell-");

  constructor(cwd: string) {
    this.child = spawn("bash", ["--noprofile", "--norc"], { cwd, stdio: ["pipe", "ignore", "ignore"], env: { ...process.env, NO_COLOR: "1" } });
    this.child.stdin!.write("set -m\n");
    // Jobs still running when the file ends (a test that failed half-way) are stopped by their process groups.
    onCleanup(async () => {
      await this.run('for job in $(jobs -p); do kill -KILL -- "-$job"; done', 5000).catch(() => undefined);
      this.child.kill("SIGKILL");
    });
  }

  async run(command: string, timeoutMs = 60_000): Promise<{ code: number; output: string; errors: string }> {
    const n = ++this.count;
    const out = join(this.scratch, `step-${n}.out`);
    const err = join(this.scratch, `step-${n}.err`);
    const rc = join(this.scratch, `step-${n}.rc`);
    const script = join(this.scratch, `step-${n}.sh`);
    // Braces keep it in this shell (so `&` makes a job of this shell); the newline before } ends a heredoc.
    writeFileSync(script, `{ ${command}\n} > ${out} 2> ${err}\necho $? > ${rc}.tmp && mv ${rc}.tmp ${rc}\n`);
    this.child.stdin!.write(`source ${script}\n`);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(rc)) {
      if (Date.now() > deadline) throw new Error(`no result within ${timeoutMs} ms for: ${command}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { code: Number(readFileSync(rc, "utf8").trim()), output: readFileSync(out, "utf8"), errors: readFileSync(err, "utf8") };
  }
}

describe("the README, as pasted", () => {
  test("A sidecar in five minutes works line by line from guardpost pki init to kill", { timeout: 180_000 }, async () => {
    const steps = fencedBlocks(readmeSection("A sidecar in five minutes"))
      .filter((block) => block.lang === "console")
      .flatMap((block) => consoleSteps(block.body));
    expect(steps[0]!.command).toMatch(/listen\(8080/);
    expect(steps.some((s) => s.command.startsWith("npx guardpost pki init"))).toBe(true);

    const ports = new Map<string, number>();
    for (const fixed of ["8443", "8080", "9901", "9001"]) ports.set(fixed, await freePort());
    const withPorts = (text: string) => text.replace(/\b(8443|8080|9901|9001)\b/g, (port) => String(ports.get(port)));

    // An empty project that has guardpost installed.
    const project = tempDir("guardpost-readme-");
    writeFileSync(join(project, "package.json"), '{ "name": "my-service", "private": true }\n');
    mkdirSync(join(project, "node_modules/.bin"), { recursive: true });
    symlinkSync(REPO, join(project, "node_modules/guardpost"), "dir");
    symlinkSync("../guardpost/dist/cli/main.js", join(project, "node_modules/.bin/guardpost"));

    const shell = new Shell(project);
    for (const step of steps) {
      // What the README shows is the program's output (stdout); curl's progress meter, for one, goes to stderr
      // only when stdout is not a terminal, so stderr is reported but not compared.
      const { code, output, errors } = await shell.run(withPorts(step.command)).catch((error: Error) => {
        // A step that hangs says what guardpost logged meanwhile.
        const log = existsSync(join(project, "guardpost.log")) ? readFileSync(join(project, "guardpost.log"), "utf8") : "(no guardpost.log)";
        throw new Error(`${error.message}\n--- guardpost.log ---\n${log}`);
      });
      const lines = output === "" ? [] : output.replace(/\n$/, "").split("\n");
      const context = `README step: $ ${step.command}\n--- stdout (exit ${code}) ---\n${output}--- stderr ---\n${errors}`;
      if (step.output.length === 0) {
        expect(code, context).toBe(0);
        continue;
      }
      const shown = step.output.map(withPorts);
      expect(lines.length, context).toBe(shown.length);
      for (const [i, expected] of shown.entries()) expect(matchesShown(lines[i]!, expected), `${context}\n--- expected line ${i + 1} ---\n${expected}`).toBe(true);
    }

    // The last step stopped guardpost: it drained and logged that it stopped.
    await expect.poll(() => readFileSync(join(project, "guardpost.log"), "utf8"), { timeout: 15_000 }).toMatch(/"event":"stopped"/);
    const log = readFileSync(join(project, "guardpost.log"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.filter((l) => l.msg === "request").map((l) => [l.method, l.path, l.status])).toEqual([
      ["GET", "/user", 200],
      ["DELETE", "/user", 403],
    ]);
  });

  test("the GitHub Actions snippet of 'Policy tests in CI' passes on this repository as written", { timeout: 60_000 }, async () => {
    const workflow = fencedBlocks(readmeSection("Policy tests in CI")).find((block) => block.lang === "yaml" && block.body.includes("jobs:"));
    expect(workflow, "no workflow block").toBeDefined();
    const runs = [...workflow!.body.matchAll(/^\s*- run: (.*)$/gm)].map((m) => m[1]!);
    // npm ci installs what the repository already has here; the rest runs exactly as CI would run it (bash, from the root).
    expect(runs[0]).toBe("npm ci");
    const commands = runs.slice(1);
    expect(commands.length).toBeGreaterThanOrEqual(2);
    const shell = new Shell(REPO);
    for (const command of commands) {
      const { code, output, errors } = await shell.run(command);
      expect(code, `$ ${command}\n${output}${errors}`).toBe(0);
    }
  });
});
