import { join } from "node:path";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { mtlsClient } from "../helpers/client.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { runCliProcess, spawnCli } from "../helpers/spawn.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const ACL = `
version: 1
paths:
  /slow:
    GET: [OU=web]
  /fast:
    GET: [OU=web]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let dir: string;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  const server = await ca.issue({ cn: "svc", sans: { dns: ["localhost"] } });
  upstream = await startUpstream();
  upstream.respond((req, res) => {
    const delay = req.url === "/slow" ? 1500 : 0;
    setTimeout(() => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`done ${req.url}`);
    }, delay);
  });
  dir = tempDir();
  writeFiles(dir, { "service.crt": server.chain, "service.key": server.key, "ca.crt": ca.cert, "acl.yaml": ACL });
});

function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
  writeFiles(dir, {
    [name]: stringify({
      tls: { cert: "service.crt", key: "service.key", ca: "ca.crt" },
      inbound: { listen: "127.0.0.1:0", upstream: upstream.url, acl: "acl.yaml" },
      admin: { listen: "127.0.0.1:0" },
      drainTimeout: "5s",
      ...extra,
    }),
  });
  return join(dir, name);
}

async function startServe(configFile: string) {
  const proc = spawnCli(["serve", "--config", configFile]);
  const started = await proc.waitForLog({ event: "started" });
  const inbound = (started.inbound as Record<string, string>).inbound!;
  return { proc, url: `https://localhost:${inbound.split(":").pop()}`, admin: `http://${started.admin as string}` };
}

describe("guardpost serve", () => {
  test("serves from a config file and exports process metrics", async () => {
    const { proc, url, admin } = await startServe(writeConfig("basic.yaml"));
    expect((await mtlsClient(ca, web).request(`${url}/fast`)).status).toBe(200);
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    expect(metrics).toContain("process_cpu_user_seconds_total");
    expect(metrics).toContain("nodejs_eventloop_lag_seconds");
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });

  test("reads the config named by $GUARDPOST_CONFIG when --config is absent", async () => {
    const file = writeConfig("from-env.yaml");
    const proc = spawnCli(["serve"], { env: { GUARDPOST_CONFIG: file } });
    await proc.waitForLog({ event: "started" });
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });

  test("SIGTERM: readyz turns 503, in-flight requests finish, new connections are refused, exit 0", async () => {
    const { proc, url, admin } = await startServe(writeConfig("drain.yaml"));
    const client = mtlsClient(ca, web);
    const inFlight = client.request(`${url}/slow`);
    await expect.poll(() => upstream.received.some((r) => r.url === "/slow")).toBe(true);
    proc.child.kill("SIGTERM");
    await proc.waitForLog({ event: "draining" });
    const ready = await request(`${admin}/readyz`);
    expect(ready.statusCode).toBe(503);
    await ready.body.dump();
    await expect(mtlsClient(ca, web).request(`${url}/fast`)).rejects.toThrow();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toBe("done /slow");
    expect(await proc.exited).toBe(0);
  });

  test("SIGHUP re-validates everything, even files the watcher has already judged", async () => {
    const aclFile = join(dir, "hup-acl.yaml");
    writeFiles(dir, { "hup-acl.yaml": ACL });
    const { proc, url, admin } = await startServe(writeConfig("hup.yaml", { inbound: { listen: "127.0.0.1:0", upstream: upstream.url, acl: "hup-acl.yaml" } }));
    const errors = async () => metricValue(admin, "guardpost_reloads_total", { kind: "acl", result: "error" });
    writeFiles(dir, { "hup-acl.yaml": "version: 1\npaths:\n  /fast:\n    GET: [OUU=web]\n" });
    await expect.poll(errors, { timeout: 3000 }).toBe(1);
    // The watcher does not report the same bad content twice; a forced reload does.
    proc.child.kill("SIGHUP");
    await expect.poll(errors, { timeout: 3000 }).toBe(2);
    await expect.poll(() => proc.stdout).toContain(`${aclFile}:4:11: unknown attribute`);
    expect((await mtlsClient(ca, web).request(`${url}/fast`)).status).toBe(200);
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });

  test("an invalid config stops start-up with file:line:col and exit 2", async () => {
    writeFiles(dir, { "bad.yaml": "tls:\n  cert: service.crt\ninbound:\n  listen: 127.0.0.1:0\n  upstrem: http://127.0.0.1:1\n" });
    const result = await runCliProcess(["serve", "--config", join(dir, "bad.yaml")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${join(dir, "bad.yaml")}:5:3: unknown key "upstrem" in "inbound" (expected one of name, listen, protocols, upstream, acl, shadowAcl, mode, routes)\n`);
  });

  test("a missing certificate file stops start-up naming the file", async () => {
    const file = writeConfig("missing-cert.yaml", { tls: { cert: "nope.crt", key: "service.key", ca: "ca.crt" } });
    const result = await runCliProcess(["serve", "--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${join(dir, "nope.crt")}: cannot read certificate: ENOENT\n`);
  });

  test("serve --check validates config, material and ACL without listening", async () => {
    const file = writeConfig("check.yaml");
    const result = await runCliProcess(["serve", "--config", file, "--check"]);
    expect(result).toMatchObject({ code: 0, stdout: `${file}: ok\n` });
  });
});

describe("guardpost serve with workers", () => {
  test("two workers share the listener; metrics aggregate; SIGHUP reaches both; SIGTERM drains both and exits 0", async () => {
    const proc = spawnCli(["serve", "--config", writeConfig("cluster.yaml", { workers: 2, admin: { listen: "127.0.0.1:0" } })]);
    const started = await proc.waitForLog({ event: "started" });
    const port = (started.inbound as Record<string, string>).inbound!.split(":").pop();
    await expect.poll(() => proc.stdout.split("\n").filter((l) => l.includes('"event":"started"')).length, { timeout: 15_000 }).toBe(2);
    const cluster = await proc.waitForLog({ event: "cluster_started" });
    expect(cluster.workers).toBe(2);
    const pids = new Set(proc.stdout.split("\n").filter((l) => l.includes('"event":"started"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    expect(pids.size).toBe(2);

    // Each new connection may land on either worker; all are served.
    for (let i = 0; i < 10; i++) expect((await mtlsClient(ca, web, { keepAlive: false }).request(`https://localhost:${port}/fast`)).status).toBe(200);
    const admin = `http://${cluster.admin as string}`;
    await expect.poll(async () => (await request(`${admin}/readyz`)).statusCode).toBe(200);
    const metrics = await (await request(`${admin}/metrics`)).body.text();
    expect(metrics).toContain('guardpost_requests_total{listener="inbound",method="GET",decision="allow",code="200",protocol="http1"} 10');
    expect(metrics).toContain('guardpost_reloads_total{kind="tls",result="error"} 0');
    proc.child.kill("SIGHUP");
    await expect.poll(() => proc.stdout.split("\n").filter((l) => l.includes('"event":"signal"')).length).toBeGreaterThanOrEqual(1);
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(proc.stdout.split("\n").filter((l) => l.includes('"event":"draining"')).length).toBeGreaterThanOrEqual(3);
  });
});
