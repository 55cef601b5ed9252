/**
 * `guardpost demo` (what `npm start` runs): a throwaway CA and certificates in
 * a temp dir, a sample upstream, and the real proxy with acl/example.yaml;
 * makes a few allowed and denied calls, prints them, and keeps running with
 * curl lines to try until Ctrl-C.
 */
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect as connectHttp2 } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { stringify } from "yaml";
import { loadAcl } from "../acl/compile.js";
import { diffAcls, formatDiff } from "../acl/diff.js";
import { loadConfig } from "../config/load.js";
import { createLogger } from "../log/logger.js";
import { createCa, type IssuedCertificate } from "../pki/authority.js";
import { Guardpost } from "../runtime/guardpost.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command, CommandIo } from "./io.js";

const EXAMPLE_ACL = fileURLToPath(new URL("../../acl/example.yaml", import.meta.url));
/** The example's next version, to show what `acl diff` makes of a change. */
const EXAMPLE_ACL_V2 = fileURLToPath(new URL("../../acl/example.v2.yaml", import.meta.url));

interface DemoCaller {
  readonly name: string;
  readonly ou: string;
  readonly cn: string;
}

const CALLERS: readonly DemoCaller[] = [
  { name: "web", ou: "web", cn: "web-01" },
  { name: "payments", ou: "payments", cn: "api-7" },
  { name: "batch", ou: "payments", cn: "batch-1" },
  { name: "marketing", ou: "marketing", cn: "mkt-01" },
];

interface DemoCall {
  readonly caller: string | null;
  readonly method: string;
  readonly path: string;
  readonly expect: number | "refused";
  /** Made over HTTP/2 (ALPN h2 on the same port) instead of HTTP/1.1. */
  readonly http2?: boolean;
}

const CALLS: readonly DemoCall[] = [
  { caller: "web", method: "GET", path: "/user", expect: 200 },
  { caller: "web", method: "GET", path: "/user", expect: 200, http2: true },
  { caller: "web", method: "DELETE", path: "/user", expect: 200 },
  { caller: "payments", method: "GET", path: "/user/42", expect: 200 },
  { caller: "batch", method: "GET", path: "/user/42", expect: 403 },
  { caller: "marketing", method: "DELETE", path: "/user", expect: 403 },
  { caller: "marketing", method: "GET", path: "/static/logo.png", expect: 200 },
  { caller: "web", method: "GET", path: "/admin/users", expect: 403 },
  { caller: "web", method: "GET", path: "/static/../admin/users", expect: 403 },
  { caller: "web", method: "GET", path: "/user%2F42", expect: 400 },
  { caller: null, method: "GET", path: "/user", expect: "refused" },
];

export const demoCommand: Command = {
  name: "demo",
  summary: "run the proxy on a throwaway PKI with a sample upstream (what `npm start` runs)",
  usage: `usage: guardpost demo [--once]

Makes a throwaway CA and certificates in a temp dir, starts a sample upstream
and the real proxy with acl/example.yaml, makes a few allowed and denied calls
and prints what happened, then keeps running with curl lines to try until
Ctrl-C. The temp dir is removed on exit.

  --once   exit after the calls: 0 if every call got the expected answer, else 1
`,
  async run(args, io) {
    const parsed = parseCommandArgs("demo", args, { once: { type: "boolean" } });
    if (parsed.positionals.length > 0) throw usageError("demo", `unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    const once = parsed.values.once ?? false;
    const dir = mkdtempSync(join(tmpdir(), "guardpost-demo-"));
    let upstream: Server | undefined;
    let guardpost: Guardpost | undefined;
    try {
      io.stdout.write("guardpost demo: making a throwaway CA and certificates...\n");
      const pki = await writePki(dir);
      upstream = await startSampleUpstream();
      const upstreamPort = (upstream.address() as { port: number }).port;
      const configFile = join(dir, "guardpost.yaml");
      writeFileSync(
        configFile,
        stringify({
          tls: { cert: "service.crt", key: "service.key", ca: "ca.crt" },
          inbound: { listen: "127.0.0.1:0", upstream: `http://127.0.0.1:${upstreamPort}`, acl: EXAMPLE_ACL },
          admin: { listen: "127.0.0.1:0" },
          log: { level: "info", access: true },
          drainTimeout: "2s",
        }),
      );
      const logFile = join(dir, "guardpost.log");
      const logger = createLogger({ level: "info", destination: createWriteStream(logFile) });
      guardpost = await Guardpost.start(loadConfig(configFile), { logger });
      const port = [...guardpost.addresses.inbound.values()][0]!.port;
      const adminPort = guardpost.addresses.admin!.port;
      io.stdout.write(`guardpost is listening on https://localhost:${port} (admin http://127.0.0.1:${adminPort}), ACL ${EXAMPLE_ACL}\n\n`);

      const failures = await makeCalls(io, port, pki);
      const diff = formatDiff(diffAcls(loadAcl(EXAMPLE_ACL), loadAcl(EXAMPLE_ACL_V2)));
      io.stdout.write(`
A proposed next version of the ACL, as a reviewer reads it (guardpost acl diff acl/example.yaml acl/example.v2.yaml):

${diff.replaceAll(/^/gm, "  ").trimEnd()}
`);
      io.stdout.write(`
Try it yourself (certificates in ${dir}):

  curl --cacert ${dir}/ca.crt --cert ${dir}/web.crt --key ${dir}/web.key https://localhost:${port}/user
  curl --http2 --cacert ${dir}/ca.crt --cert ${dir}/web.crt --key ${dir}/web.key https://localhost:${port}/user/42
  curl --cacert ${dir}/ca.crt --cert ${dir}/marketing.crt --key ${dir}/marketing.key -X DELETE https://localhost:${port}/user
  npx guardpost acl explain acl/example.yaml --peer-cert ${dir}/batch.crt --request "GET /user/42"
  npx guardpost acl suggest --from ${logFile}   # the least-privilege ACL for the calls above
  curl http://127.0.0.1:${adminPort}/metrics | grep guardpost_requests_total

Access log: ${logFile}
`);
      if (once) return failures === 0 ? 0 : 1;
      io.stdout.write("\nRunning until Ctrl-C.\n");
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop).off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop).on("SIGTERM", stop);
      });
      io.stdout.write("\nstopping...\n");
      await guardpost.drain();
      return 0;
    } finally {
      await guardpost?.stop();
      upstream?.closeAllConnections();
      upstream?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

interface DemoPki {
  readonly caCert: string;
  readonly callers: ReadonlyMap<string, IssuedCertificate>;
}

async function writePki(dir: string): Promise<DemoPki> {
  const ca = await createCa({ cn: "guardpost demo CA" });
  const server = await ca.issue({ cn: "demo-service", ou: "demo", sans: { dns: ["localhost"], ip: ["127.0.0.1", "::1"] } });
  writeFileSync(join(dir, "ca.crt"), ca.cert);
  writeFileSync(join(dir, "service.crt"), server.chain);
  writeFileSync(join(dir, "service.key"), server.key, { mode: 0o600 });
  const certs = new Map<string, IssuedCertificate>();
  for (const caller of CALLERS) {
    const cert = await ca.issue({ cn: caller.cn, ou: caller.ou, eku: ["clientAuth"] });
    writeFileSync(join(dir, `${caller.name}.crt`), cert.chain);
    writeFileSync(join(dir, `${caller.name}.key`), cert.key, { mode: 0o600 });
    certs.set(caller.name, cert);
  }
  return { caCert: ca.cert, callers: certs };
}

/** Answers every request with what it saw, including the identity guardpost forwarded. */
function startSampleUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const body = JSON.stringify({ service: "demo upstream", method: req.method, path: req.url, caller: req.headers["x-forwarded-client-cert"] ?? null });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function makeCalls(io: CommandIo, port: number, pki: DemoPki): Promise<number> {
  const rows: string[][] = [["caller", "request", "result", "expected"]];
  let failures = 0;
  for (const call of CALLS) {
    const caller = call.caller === null ? null : CALLERS.find((c) => c.name === call.caller)!;
    const cert = call.caller === null ? undefined : pki.callers.get(call.caller);
    const tls = { ca: pki.caCert, ...(cert ? { cert: cert.chain, key: cert.key } : {}) };
    const result = call.http2 ? await callOverHttp2(port, call, tls) : await callOverHttp1(port, call, tls);
    if (result !== call.expect) failures++;
    const who = caller ? `OU=${caller.ou},CN=${caller.cn}` : "(no client certificate)";
    const request = `${call.method} ${call.path}${call.http2 ? " (HTTP/2)" : ""}`;
    rows.push([who, request, describeResult(result), result === call.expect ? "yes" : `NO (expected ${describeResult(call.expect)})`]);
  }
  io.stdout.write(formatTable(rows));
  return failures;
}

interface ClientTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

async function callOverHttp1(port: number, call: DemoCall, tls: ClientTls): Promise<number | "refused"> {
  const agent = new Agent({ connect: { ...tls, servername: "localhost" } });
  try {
    const res = await request(`https://localhost:${port}${call.path}`, { method: call.method as "GET", dispatcher: agent });
    const body = await res.body.text();
    // A connection without a verified client certificate is refused before HTTP, with this answer.
    return res.statusCode === 403 && body.includes('"client_certificate_refused"') ? "refused" : res.statusCode;
  } catch {
    return "refused";
  } finally {
    await agent.destroy();
  }
}

function callOverHttp2(port: number, call: DemoCall, tls: ClientTls): Promise<number | "refused"> {
  return new Promise((resolve) => {
    const session = connectHttp2(`https://localhost:${port}`, tls);
    session.on("error", () => resolve("refused"));
    const stream = session.request({ ":method": call.method, ":path": call.path });
    stream.on("response", (headers) => {
      resolve(Number(headers[":status"]));
      stream.resume();
      stream.on("end", () => session.close());
    });
    stream.on("error", () => resolve("refused"));
  });
}

function describeResult(result: number | "refused"): string {
  if (result === "refused") return "connection refused (no client certificate)";
  const names: Record<number, string> = { 200: "200 allowed", 400: "400 bad request", 403: "403 denied" };
  return names[result] ?? String(result);
}

function formatTable(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row, index) => {
    const line = row.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd();
    return index === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n` : `${line}\n`;
  }).join("");
}
