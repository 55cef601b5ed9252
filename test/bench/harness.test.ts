/**
 * Smoke test of the benchmark harness: a quick run against minimal-node and
 * the bare upstream only (no haproxy, nginx or guardpost needed) must check,
 * time and report every scenario they take part in.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

interface Entry {
  name: string;
  skipped?: string;
  summary?: { rps: number; requests: number; unexpected: number; cpuUsPerReq: number; p99Ms: number };
}
interface Results {
  meta: { command: string; machine: { node: string; nproc: number }; settings: { quick: boolean } };
  scenarios: { name: string; entries: Entry[] }[];
}

const repoRoot = resolve(import.meta.dirname, "../..");
const outDir = mkdtempSync(join(tmpdir(), "guardpost-bench-smoke-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ["bench/run.js", ...args], { cwd: repoRoot, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe("npm run bench --quick", () => {
  it("measures minimal-node and direct in every scenario they take part in and writes the JSON report", async () => {
    const run = await runBench(["--quick", "--contenders", "minimal-node,direct", "--duration", "0.3", "--warmup", "0.1", "--no-install", "--out", outDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("== get:");

    const results = JSON.parse(readFileSync(join(outDir, "bench-results.json"), "utf8")) as Results;
    expect(results.meta.settings.quick).toBe(true);
    expect(results.meta.machine.nproc).toBeGreaterThan(0);

    const names = results.scenarios.map((s) => s.name);
    expect(names).toEqual(["get", "post64k", "denied", "acl10k", "handshake", "latency"]);
    for (const scenario of results.scenarios) {
      const baseline = scenario.entries.find((e) => e.name === "minimal-node");
      expect(baseline?.skipped, `${scenario.name}: ${baseline?.skipped}`).toBeUndefined();
      for (const entry of scenario.entries) {
        expect(entry.summary?.rps, `${scenario.name}/${entry.name}`).toBeGreaterThan(0);
        expect(entry.summary?.unexpected, `${scenario.name}/${entry.name} wrong responses`).toBe(0);
      }
    }
    const get = results.scenarios.find((s) => s.name === "get")!;
    expect(get.entries.map((e) => e.name)).toEqual(["minimal-node", "direct"]);
  });

  it("refuses an unknown scenario name instead of running nothing", async () => {
    const run = await runBench(["--quick", "--only", "nope"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown scenario "nope"');
  });
});
