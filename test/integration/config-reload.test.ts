/**
 * guardpost.yaml reloads on SIGHUP and when the file changes: routes, ACL
 * paths, modes, limits, log level, expect and upstream URLs take effect for
 * new requests; a listener whose address changed is rebound while the
 * connections on the old address finish; anything invalid keeps the running
 * config, logged with file:line:col and counted; `workers` is refused, saying
 * that it takes a restart. With workers, every worker reloads and a reload
 * counts once.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { parse, stringify } from "yaml";
import { mtlsClient } from "../helpers/client.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, writeFiles, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { freePort } from "../helpers/ports.js";
import { issueServerCert, serveProxy, startProxy, writeProxyFiles, type TestProxy } from "../helpers/proxy.js";
import { writeByRename } from "../helpers/rotate.js";
import { spawnCli } from "../helpers/spawn.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const ALLOW_X = "version: 1\npaths:\n  /x:\n    GET: [OU=web]\n";
const DENY_X = "version: 1\npaths:\n  /x:\n    GET: [OU=ops]\n";

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
});

// The parsed YAML of a config file, edited as a test needs.
// biome-ignore lint/suspicious/noExplicitAny: any shape of config, as a person would edit it
type ConfigObject = Record<string, any>;

/** Rewrites the proxy's config file the way an editor or a config map does: a new file renamed over the old. */
function editConfig(file: string, edit: (config: ConfigObject) => void): void {
  const config = parse(readFileSync(file, "utf8")) as ConfigObject;
  edit(config);
  writeByRename(file, stringify(config));
}

const reloads = (admin: string, kind: string, result: string) => metricValue(admin, "guardpost_reloads_total", { kind, result });


describe("config reload in one process", () => {
  let proxy: TestProxy;
  let client: ReturnType<typeof mtlsClient>;

  beforeAll(async () => {
    proxy = await startProxy({ ca, acl: ALLOW_X, upstream: upstream.url });
    writeFiles(proxy.dir, { "deny.yaml": DENY_X, "allow.yaml": ALLOW_X });
    client = mtlsClient(ca, web);
  });

  test("the kind=config series exist from start-up, at 0", async () => {
    expect(await reloads(proxy.adminUrl, "config", "success")).toBe(0);
    expect(await reloads(proxy.adminUrl, "config", "error")).toBe(0);
  });

  test("a new inbound.acl applies to the next request, on the same keep-alive connection", async () => {
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    const before = await reloads(proxy.adminUrl, "config", "success");
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "deny.yaml";
    });
    // No signal: the watcher sees the config file change.
    await expect.poll(() => reloads(proxy.adminUrl, "config", "success"), { timeout: 5000 }).toBe(before + 1);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(403);
    expect(proxy.logs.find({ event: "config_applied" }).at(-1)?.changes).toContain("routes, ACLs, modes or upstreams");
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "allow.yaml";
    });
    await expect.poll(async () => (await client.request(`${proxy.url}/x`)).status, { timeout: 5000 }).toBe(200);
  });

  test("mode: audit on reload forwards what the ACL denies, as would_deny", async () => {
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "deny.yaml";
      c.inbound.mode = "audit";
    });
    await proxy.guardpost.reload(true);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    expect(proxy.logs.find({ msg: "request" }).at(-1)?.decision).toBe("would_deny");
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "allow.yaml";
      delete c.inbound.mode;
    });
    await proxy.guardpost.reload(true);
  });

  test("a config that does not parse keeps the running one, logged with file:line:col and counted", async () => {
    const errors = await reloads(proxy.adminUrl, "config", "error");
    const good = readFileSync(proxy.files.config, "utf8");
    writeByRename(proxy.files.config, `${good}limits:\n  headersTimeout: soon\n`);
    await expect.poll(() => reloads(proxy.adminUrl, "config", "error"), { timeout: 5000 }).toBe(errors + 1);
    const [failure] = proxy.logs.find({ event: "reload_failed", kind: "config" }).slice(-1);
    expect(failure?.level).toBe("error");
    expect(failure?.code).toBe("GP_ERR_CONFIG_VALUE");
    expect(String(failure?.error)).toMatch(new RegExp(`^${proxy.files.config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: limits\\.headersTimeout must be a duration`));
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    writeByRename(proxy.files.config, good);
  });

  test("a config naming a missing ACL keeps the running one; the error points at the config line", async () => {
    const errors = await reloads(proxy.adminUrl, "config", "error");
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "missing.yaml";
    });
    await proxy.guardpost.reload(true);
    expect(await reloads(proxy.adminUrl, "config", "error")).toBe(errors + 1);
    const [failure] = proxy.logs.find({ event: "reload_failed", kind: "config" }).slice(-1);
    expect(String(failure?.error)).toMatch(/guardpost\.yaml:\d+:\d+: inbound\.acl names .*missing\.yaml, which does not exist\. Expected there: an ACL file/);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    editConfig(proxy.files.config, (c) => {
      c.inbound.acl = "allow.yaml";
    });
    await proxy.guardpost.reload(true);
  });

  test("a smaller limits.maxHeaderSize applies to new connections", async () => {
    const big = { "x-big": "a".repeat(3000) };
    expect((await client.request(`${proxy.url}/x`, { headers: big })).status).toBe(200);
    editConfig(proxy.files.config, (c) => {
      c.limits = { maxHeaderSize: "2KiB" };
    });
    await proxy.guardpost.reload(true);
    const fresh = mtlsClient(ca, web);
    expect((await fresh.request(`${proxy.url}/x`, { headers: big })).status).toBe(431);
    expect((await fresh.request(`${proxy.url}/x`)).status).toBe(200);
    editConfig(proxy.files.config, (c) => {
      delete c.limits;
    });
    await proxy.guardpost.reload(true);
  });

  test("log.level: warn silences the access lines; info brings them back", async () => {
    editConfig(proxy.files.config, (c) => {
      c.log.level = "warn";
    });
    await proxy.guardpost.reload(true);
    const before = proxy.logs.find({ msg: "request" }).length;
    expect((await mtlsClient(ca, web).request(`${proxy.url}/x`)).status).toBe(200);
    expect(proxy.logs.find({ msg: "request" }).length).toBe(before);
    editConfig(proxy.files.config, (c) => {
      c.log.level = "debug";
    });
    await proxy.guardpost.reload(true);
    expect((await mtlsClient(ca, web).request(`${proxy.url}/x`)).status).toBe(200);
    await expect.poll(() => proxy.logs.find({ msg: "request" }).length).toBe(before + 1);
  });

  test("a new upstream URL takes the next request", async () => {
    const other = await startUpstream();
    other.respond((_req, res) => res.end("other"));
    editConfig(proxy.files.config, (c) => {
      c.inbound.upstream = other.url;
    });
    await proxy.guardpost.reload(true);
    expect((await client.request(`${proxy.url}/x`)).body).toBe("other");
    editConfig(proxy.files.config, (c) => {
      c.inbound.upstream = upstream.url;
    });
    await proxy.guardpost.reload(true);
    expect((await client.request(`${proxy.url}/x`)).body).not.toBe("other");
  });

  test("workers cannot change without a restart: the reload is refused, saying so, and nothing else changes", async () => {
    const errors = await reloads(proxy.adminUrl, "config", "error");
    editConfig(proxy.files.config, (c) => {
      c.workers = 2;
      c.inbound.acl = "deny.yaml";
    });
    await proxy.guardpost.reload(true);
    expect(await reloads(proxy.adminUrl, "config", "error")).toBe(errors + 1);
    const [failure] = proxy.logs.find({ event: "reload_failed", kind: "config" }).slice(-1);
    expect(String(failure?.error)).toBe(`${proxy.files.config}: workers changed from 1 to 2, which takes a restart; the new config was not applied (restart guardpost to change workers)`);
    expect((await client.request(`${proxy.url}/x`)).status).toBe(200);
    editConfig(proxy.files.config, (c) => {
      delete c.workers;
      c.inbound.acl = "allow.yaml";
    });
    await proxy.guardpost.reload(true);
  });

  test("protocols on a listener that keeps its address cannot change without a restart", async () => {
    const errors = await reloads(proxy.adminUrl, "config", "error");
    editConfig(proxy.files.config, (c) => {
      c.inbound.protocols = ["http/1.1"];
    });
    await proxy.guardpost.reload(true);
    expect(await reloads(proxy.adminUrl, "config", "error")).toBe(errors + 1);
    const [failure] = proxy.logs.find({ event: "reload_failed", kind: "config" }).slice(-1);
    expect(String(failure?.error)).toContain("changes its protocols (h2, http/1.1 to http/1.1), which takes a restart or a new listen address");
    editConfig(proxy.files.config, (c) => {
      delete c.inbound.protocols;
    });
    await proxy.guardpost.reload(true);
  });

  test("tls paths in the config: a new certificate file is served after the reload", async () => {
    const next = await issueServerCert(ca);
    writeFiles(proxy.dir, { "next.crt": next.chain, "next.key": next.key });
    editConfig(proxy.files.config, (c) => {
      c.tls.cert = "next.crt";
      c.tls.key = "next.key";
    });
    await proxy.guardpost.reload(true);
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: proxy.port, servername: "localhost", ca: ca.cert, cert: web.chain, key: web.key }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      });
      socket.on("error", reject);
    });
    expect(served).toBe(next.serial);
  });
});

describe("a listener whose address changed", () => {
  test("is rebound: new connections go to the new address, a request in flight on the old one finishes", async () => {
    const slow = await startUpstream();
    slow.respond((req, res) => setTimeout(() => res.end(`done ${req.url}`), req.url === "/slow" ? 1500 : 0));
    const acl = "version: 1\npaths:\n  /**:\n    GET: [OU=web]\n";
    const [first, second] = [await freePort(), await freePort()];
    const proxy = await startProxy({ ca, acl, upstream: slow.url, extra: { inbound: { listen: `127.0.0.1:${first}`, upstream: slow.url, acl: "acl.yaml" } } });
    const oldClient = mtlsClient(ca, web);
    expect((await oldClient.request(`https://localhost:${first}/fast`)).status).toBe(200);
    const inFlight = oldClient.request(`https://localhost:${first}/slow`);
    await expect.poll(() => slow.received.some((r) => r.url === "/slow")).toBe(true);

    editConfig(proxy.files.config, (c) => {
      c.inbound.listen = `127.0.0.1:${second}`;
    });
    await proxy.guardpost.reload(true);
    expect(proxy.logs.find({ event: "listener_retired" }).at(-1)).toMatchObject({ listener: "inbound", listen: `127.0.0.1:${first}` });
    expect((await mtlsClient(ca, web).request(`https://localhost:${second}/fast`)).status).toBe(200);
    await expect(mtlsClient(ca, web).request(`https://localhost:${first}/fast`)).rejects.toThrow();
    // The request that was in flight on the old address is answered, not dropped.
    const res = await inFlight;
    expect(res).toMatchObject({ status: 200, body: "done /slow" });
    expect(proxy.guardpost.addresses.inbound.get("inbound")?.port).toBe(second);
  });

  test("a new address that cannot be bound refuses the reload; the old listener keeps serving", async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as AddressInfo).port;
    const proxy = await startProxy({ ca, acl: ALLOW_X, upstream: upstream.url });
    editConfig(proxy.files.config, (c) => {
      c.inbound.listen = `127.0.0.1:${taken}`;
    });
    await proxy.guardpost.reload(true);
    const [failure] = proxy.logs.find({ event: "reload_failed", kind: "config" });
    expect(failure?.code).toBe("GP_ERR_LISTEN");
    expect((await mtlsClient(ca, web).request(`${proxy.url}/x`)).status).toBe(200);
    blocker.close();
  });
});

describe("outbound expect on reload", () => {
  test("a new expect applies to the next outbound connection", async () => {
    const db = await ca.issue({ cn: "db-01", ou: "database", sans: { dns: ["db-01.internal"] } });
    const server = createHttpsServer({ cert: db.chain, key: db.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end("db"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const dbPort = (server.address() as AddressInfo).port;
    const proxy = await startProxy({
      ca,
      acl: ALLOW_X,
      upstream: upstream.url,
      extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${dbPort}`, serverName: "db-01.internal", expect: ["OU=database"] }] },
    });
    const outbound = `http://127.0.0.1:${proxy.guardpost.addresses.outbound.values().next().value!.port}`;
    expect((await request(`${outbound}/q`)).statusCode).toBe(200);
    editConfig(proxy.files.config, (c) => {
      c.outbound[0].expect = ["OU=cache"];
    });
    await proxy.guardpost.reload(true);
    const refused = await request(`${outbound}/q`);
    expect(refused.statusCode).toBe(502);
    expect(((await refused.body.json()) as { reason: string }).reason).toContain("matches none of expect: [OU=cache]");
    server.close();
  });
});

describe("config reload through the CLI", () => {
  test("SIGHUP reloads guardpost.yaml: inbound.acl switched to another file applies", async () => {
    const served = await serveProxy({ ca, acl: ALLOW_X, upstream: upstream.url });
    writeFiles(join(served.files.config, ".."), { "deny.yaml": DENY_X });
    const client = mtlsClient(ca, web);
    expect((await client.request(`${served.url}/x`)).status).toBe(200);
    // Rewritten in place, as a person editing it would, then SIGHUP.
    const config = parse(readFileSync(served.files.config, "utf8")) as ConfigObject;
    config.inbound.acl = "deny.yaml";
    writeFiles(join(served.files.config, ".."), { "guardpost.yaml": stringify(config) });
    served.proc.child.kill("SIGHUP");
    await expect.poll(async () => (await client.request(`${served.url}/x`)).status, { timeout: 5000 }).toBe(403);
    expect(await metricValue(served.adminUrl, "guardpost_reloads_total", { kind: "config", result: "success" })).toBeGreaterThanOrEqual(1);
    served.proc.child.kill("SIGTERM");
    expect(await served.proc.exited).toBe(0);
  });

  test("with two workers, both apply the new config, and one reload counts once", async () => {
    const { files, dir } = await writeProxyFiles({ ca, acl: ALLOW_X, upstream: upstream.url, extra: { workers: 2 } }, { level: "info" });
    writeFiles(dir, { "deny.yaml": DENY_X });
    const proc = spawnCli(["serve", "--config", files.config]);
    const cluster = await proc.waitForLog({ event: "cluster_started" });
    const admin = `http://${cluster.admin as string}`;
    const lines = () =>
      proc.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await expect.poll(() => lines().filter((l) => l.event === "started").length, { timeout: 15_000 }).toBe(2);
    const port = ((lines().find((l) => l.event === "started")!.inbound as Record<string, string>).inbound ?? "").split(":").pop();
    const pids = new Set(lines().filter((l) => l.event === "started").map((l) => l.pid));

    editConfig(files.config, (c) => {
      c.inbound.acl = "deny.yaml";
    });
    proc.child.kill("SIGHUP");
    await expect.poll(() => new Set(lines().filter((l) => l.event === "config_applied").map((l) => l.pid)), { timeout: 10_000 }).toEqual(pids);
    // Every new connection, whichever worker takes it, gets the new ACL.
    for (let i = 0; i < 6; i++) expect((await mtlsClient(ca, web, { keepAlive: false }).request(`https://localhost:${port}/x`)).status).toBe(403);
    expect(await metricValue(admin, "guardpost_reloads_total", { kind: "config", result: "success" })).toBe(1);

    // A certificate rotation, seen by both workers, counts once too.
    const next = await issueServerCert(ca);
    writeByRename(files.key, next.key);
    writeByRename(files.cert, next.chain);
    await expect.poll(() => lines().filter((l) => l.event === "reloaded" && l.kind === "tls").length, { timeout: 10_000 }).toBe(2);
    expect(await metricValue(admin, "guardpost_reloads_total", { kind: "tls", result: "success" })).toBe(1);

    // The primary serves the admin endpoints: a new admin.listen moves them.
    const adminPort = await freePort();
    editConfig(files.config, (c) => {
      c.admin.listen = `127.0.0.1:${adminPort}`;
    });
    proc.child.kill("SIGHUP");
    await proc.waitForLog({ event: "admin_moved" });
    expect((await request(`http://127.0.0.1:${adminPort}/healthz`)).statusCode).toBe(200);
    await expect(request(`${admin}/healthz`)).rejects.toThrow();

    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });
});
