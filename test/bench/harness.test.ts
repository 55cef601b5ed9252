/**
 * The benchmark harness: the paired-ratio arithmetic on a known input, and a
 * quick run against minimal-node (its HTTP/1.1 and HTTP/2 variants) and the
 * bare upstream only (no haproxy, nginx or guardpost needed) that must check,
 * time and report every scenario they take part in, in the report's shape.
 * Nothing here asserts a speed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  n: number;
}
interface Paired {
  cpu: Spread;
  rps: Spread;
  p99AddedMs: Spread;
  p99: Spread;
}
interface Round {
  rps: number;
  cpuUsPerReq: number;
  latencyMs: { p99: number };
}
interface Entry {
  name: string;
  skipped?: string;
  rounds?: Round[];
  summary?: { rps: number; requests: number; unexpected: number; cpuUsPerReq: number; p99Ms: number; paired: Paired; resumedPct?: number };
}
interface Results {
  meta: { command: string; machine: { node: string; nproc: number }; settings: { quick: boolean; rounds: number; contenderNode: { version: string } } };
  scenarios: { name: string; baseline: string; entries: Entry[] }[];
}
interface ReportModule {
  pairedRatios(rounds: Round[], baseRounds: Round[]): Paired;
  quantile(values: number[], q: number): number;
}

const repoRoot = resolve(import.meta.dirname, "../..");
// A path in a variable: the harness is plain JavaScript outside the TypeScript project.
const reportModule = pathToFileURL(join(repoRoot, "bench/lib/report.js")).href;

describe("paired ratios", () => {
  const round = (cpuUsPerReq: number, rps: number, p99: number): Round => ({ cpuUsPerReq, rps, latencyMs: { p99 } });

  it("divide each round by the baseline's same round, then take the median, so a slow round divides out", async () => {
    const { pairedRatios } = (await import(reportModule)) as ReportModule;
    // The machine runs at full speed, half speed, then full speed again: both sides slow down together.
    const base = [round(100, 1000, 2), round(200, 500, 4), round(100, 1000, 2), round(100, 1000, 3)];
    const contender = [round(110, 900, 2.5), round(240, 400, 5), round(105, 1000, 2.25), round(130, 800, 3)];
    const paired = pairedRatios(contender, base);
    // per-round CPU ratios 1.1, 1.2, 1.05, 1.3: median (1.1 + 1.2) / 2
    expect(paired.cpu.median).toBeCloseTo(1.15, 10);
    expect(paired.cpu.min).toBeCloseTo(1.05, 10);
    expect(paired.cpu.max).toBeCloseTo(1.3, 10);
    // quartiles interpolate between ranks: sorted 1.05, 1.1, 1.2, 1.3
    expect(paired.cpu.q1).toBeCloseTo(1.0875, 10);
    expect(paired.cpu.q3).toBeCloseTo(1.225, 10);
    expect(paired.cpu.n).toBe(4);
    // throughput ratios 0.9, 0.8, 1.0, 0.8
    expect(paired.rps.median).toBeCloseTo(0.85, 10);
    // p99 differences +0.5, +1, +0.25, 0 ms
    expect(paired.p99AddedMs.median).toBeCloseTo(0.375, 10);
    expect(paired.p99AddedMs.min).toBe(0);
    // A ratio of medians would say 117.5 / 100 = 1.175: not what is reported.
    expect(paired.cpu.median).not.toBeCloseTo(1.175, 3);
  });

  it("leave out a round in which either side has no figure", async () => {
    const { pairedRatios, quantile } = (await import(reportModule)) as ReportModule;
    const paired = pairedRatios([round(100, 10, 1), round(NaN, 10, 1), round(300, 10, 1)], [round(100, 10, 1), round(100, 10, 1), round(100, 10, 1)]);
    expect(paired.cpu.n).toBe(2);
    expect(paired.cpu.median).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

const outDir = mkdtempSync(join(tmpdir(), "guardpost-bench-smoke-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ["bench/run.js", ...args], { cwd: repoRoot, timeout: 85_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe("npm run bench --quick", () => {
  it("measures minimal-node, minimal-node-h2 and direct in every scenario they take part in and writes the JSON report", async () => {
    const run = await runBench(["--quick", "--contenders", "minimal-node,direct", "--rounds", "2", "--duration", "0.3", "--warmup", "0.1", "--no-install", "--out", outDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("== get:");

    const results = JSON.parse(readFileSync(join(outDir, "bench-results.json"), "utf8")) as Results;
    expect(results.meta.settings.quick).toBe(true);
    expect(results.meta.settings.rounds).toBe(2);
    expect(results.meta.settings.contenderNode.version).toBe(process.version);
    expect(results.meta.machine.nproc).toBeGreaterThan(0);

    const names = results.scenarios.map((s) => s.name);
    // ws-echo is a hook (opt-in) and stays out of a default run
    expect(names).toEqual(["get", "post64k", "denied", "acl10k", "handshake", "resume13", "resume12", "latency", "h2get", "grpc-unary"]);
    for (const scenario of results.scenarios) {
      expect(scenario.baseline).toBe(["h2get", "grpc-unary"].includes(scenario.name) ? "minimal-node-h2" : "minimal-node");
      const baseline = scenario.entries.find((e) => e.name === scenario.baseline);
      expect(baseline?.skipped, `${scenario.name}: ${baseline?.skipped}`).toBeUndefined();
      for (const entry of scenario.entries) {
        expect(entry.summary?.rps, `${scenario.name}/${entry.name}`).toBeGreaterThan(0);
        expect(entry.summary?.unexpected, `${scenario.name}/${entry.name} wrong responses`).toBe(0);
        expect(entry.rounds, `${scenario.name}/${entry.name}`).toHaveLength(2);
        // The baseline against itself: every per-round ratio is exactly 1. /proc counts CPU in
        // 10 ms ticks, so in a 0.3 s round on a busy machine a proxy can show 0 ticks (0 / 0, left
        // out): every round with a figure must say 1.
        if (entry.name === scenario.baseline) {
          const cpuRounds = entry.rounds!.filter((r) => r.cpuUsPerReq > 0).length;
          expect(cpuRounds, `${scenario.name}: no round with a CPU figure`).toBeGreaterThan(0);
          expect(entry.summary?.paired.cpu).toMatchObject({ median: 1, min: 1, max: 1, n: cpuRounds });
          expect(entry.summary?.paired.p99AddedMs.median).toBe(0);
        }
      }
    }
    // TLS 1.3 tickets: minimal-node (plain Node https) resumes after the first connection of each loop.
    const resume13 = results.scenarios.find((s) => s.name === "resume13")!.entries.find((e) => e.name === "minimal-node")!;
    expect(resume13.summary?.resumedPct).toBeGreaterThan(50);
    const full = results.scenarios.find((s) => s.name === "handshake")!.entries.find((e) => e.name === "minimal-node")!;
    expect(full.summary?.resumedPct).toBe(0);
    const get = results.scenarios.find((s) => s.name === "get")!;
    expect(get.entries.map((e) => e.name)).toEqual(["minimal-node", "direct"]);
    // HTTP/2 and gRPC: only the contender that speaks them, with its own baseline
    for (const name of ["h2get", "grpc-unary"]) expect(results.scenarios.find((s) => s.name === name)!.entries.map((e) => e.name)).toEqual(["minimal-node-h2"]);
    // ten scenarios and a gRPC service to start: about 25 s on an idle 2-core VM, twice that on a busy one
  }, 90_000);

  it("runs the opt-in ws-echo scenario when named: minimal-node-ws checked, timed and paired with itself", async () => {
    const wsOut = join(outDir, "ws");
    const run = await runBench(["--quick", "--only", "ws-echo", "--contenders", "minimal-node", "--rounds", "2", "--duration", "0.3", "--warmup", "0.1", "--no-install", "--out", wsOut]);
    expect(run.code, run.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(wsOut, "bench-results.json"), "utf8")) as Results;
    expect(results.scenarios.map((s) => s.name)).toEqual(["ws-echo"]);
    const [scenario] = results.scenarios;
    expect(scenario.baseline).toBe("minimal-node-ws");
    expect(scenario.entries.map((e) => e.name)).toEqual(["minimal-node-ws"]);
    const [entry] = scenario.entries;
    expect(entry.skipped, entry.skipped).toBeUndefined();
    expect(entry.summary?.requests).toBeGreaterThan(0);
    expect(entry.summary?.unexpected).toBe(0);
  }, 60_000);

  it("refuses an unknown scenario name instead of running nothing", async () => {
    const run = await runBench(["--quick", "--only", "nope"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown scenario "nope"');
  });
});

interface Pki {
  paths: { cert: string; key: string; ca: string };
  client: object;
}
interface Target {
  protocol: string;
  host: string;
  port: number;
}
interface ChecksModule {
  h2Expectations(target: Target, pki: Pki): Promise<string | null>;
  grpcExpectations(target: Target, pki: Pki): Promise<string | null>;
  wsExpectations(target: Target, pki: Pki): Promise<string | null>;
}

/**
 * The HTTP/2, gRPC and WebSocket checks must fail a proxy that forwards what
 * the ACL denies; the quick runs show they pass the baselines that do not.
 */
describe("the h2get, grpc-unary and ws-echo checks", () => {
  const load = async () => {
    const { makePki } = (await import(pathToFileURL(join(repoRoot, "bench/lib/pki.js")).href)) as { makePki(dir: string): Promise<Pki> };
    const checks = (await import(pathToFileURL(join(repoRoot, "bench/lib/checks.js")).href)) as ChecksModule;
    return { pki: await makePki(outDir), checks };
  };

  it("fail an HTTP/2 server that answers every path, as if from the service", async () => {
    const { createSecureServer } = await import("node:http2");
    const { pki, checks } = await load();
    const server = createSecureServer({ cert: readFileSync(pki.paths.cert), key: readFileSync(pki.paths.key), ca: readFileSync(pki.paths.ca), requestCert: true, rejectUnauthorized: false });
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200, "x-upstream": "1" });
      stream.end('{"ok":true,"from":"upstream"}\n');
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const port = (server.address() as { port: number }).port;
      const failure = await checks.h2Expectations({ protocol: "https", host: "127.0.0.1", port }, pki);
      expect(failure).toBe('h2 GET /admin as OU=web: expected 403 from the proxy, got 200 "{\\"ok\\":true,\\"from\\":\\"upstream\\"}\\n"');
    } finally {
      server.close();
    }
  });

  it("fail a gRPC server that serves every method to every certificate", async () => {
    const grpc = await import("@grpc/grpc-js");
    const { pki, checks } = await load();
    const { echoService } = (await import(pathToFileURL(join(repoRoot, "bench/lib/grpc.js")).href)) as { echoService(): { service: import("@grpc/grpc-js").ServiceDefinition } };
    const server = new grpc.Server();
    const marked = () => {
      const m = new grpc.Metadata();
      m.set("x-upstream", "1");
      return m;
    };
    const answer = (call: { sendMetadata(m: import("@grpc/grpc-js").Metadata): void; request?: { text: string } }, callback?: (e: null, r: { text: string }) => void) => {
      call.sendMetadata(marked());
      callback?.(null, { text: call.request?.text ?? "" });
    };
    server.addService(echoService().service, {
      Say: answer,
      Collect: answer,
      Repeat: (call: import("@grpc/grpc-js").ServerWritableStream<unknown, unknown>) => {
        call.sendMetadata(marked());
        call.end();
      },
      Chat: (call: import("@grpc/grpc-js").ServerDuplexStream<unknown, unknown>) => {
        call.sendMetadata(marked());
        call.end();
      },
    });
    const credentials = grpc.ServerCredentials.createSsl(readFileSync(pki.paths.ca), [{ private_key: readFileSync(pki.paths.key), cert_chain: readFileSync(pki.paths.cert) }], false);
    const port = await new Promise<number>((done, fail) => server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error ? fail(error) : done(bound))));
    try {
      const failure = await checks.grpcExpectations({ protocol: "https", host: "127.0.0.1", port }, pki);
      expect(failure).toBe("/guardpost.test.v1.Echo/Chat as OU=web: the call reached the service");
    } finally {
      server.forceShutdown();
    }
  });

  it("fail a WebSocket server that upgrades every path for every certificate, as the service", async () => {
    const { createServer } = await import("node:https");
    const { WebSocketServer } = await import("ws");
    const { pki, checks } = await load();
    const server = createServer({ cert: readFileSync(pki.paths.cert), key: readFileSync(pki.paths.key), ca: readFileSync(pki.paths.ca), requestCert: true, rejectUnauthorized: false });
    const wss = new WebSocketServer({ noServer: true });
    wss.on("headers", (headers) => headers.push("x-upstream: 1"));
    server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (data) => ws.send(String(data)))));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const port = (server.address() as { port: number }).port;
      const failure = await checks.wsExpectations({ protocol: "https", host: "127.0.0.1", port }, pki);
      expect(failure).toBe('WS /ws/admin as OU=web: expected 403 from the proxy, got 101 ""');
    } finally {
      for (const client of wss.clients) client.terminate();
      server.close();
    }
  });
});
