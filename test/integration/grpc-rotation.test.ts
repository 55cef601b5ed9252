/**
 * Rotation under gRPC load: a bidirectional call keeps exchanging messages
 * while the service certificate and the CA bundle are replaced again and
 * again (README, "Rotation and reload": open connections are not dropped;
 * a CA change judges open connections again, and this client stays
 * trusted). New calls during the soak succeed, and no message of the open
 * call is lost. GUARDPOST_SOAK_ROTATIONS sets the count (default 100).
 */
import { describe, expect, test } from "vitest";
import { grpc, grpcClient, say, startGrpcServer, type EchoMessage } from "../helpers/grpc.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, tempDir, writeFiles } from "../helpers/pki.js";
import { issueServerCert, startProxy } from "../helpers/proxy.js";
import { writeByRename } from "../helpers/rotate.js";

const ROTATIONS = Number(process.env.GUARDPOST_SOAK_ROTATIONS ?? 100);
const ACL = 'version: 1\npaths:\n  /guardpost.test.v1.Echo/**:\n    POST: [OU=web]\n';

describe("rotation soak under gRPC", () => {
  test(`a bidi call stays open and loses nothing across ${ROTATIONS} rotations of the certificate and CA bundle; new calls succeed`, { timeout: 120_000 }, async () => {
    const ca = await createCa();
    const web = await ca.issue({ cn: "web-01", ou: "web" });
    const first = await issueServerCert(ca);
    const tls = writeFiles(tempDir(), { "s.crt": first.chain, "s.key": first.key, "ca.crt": ca.cert });
    const server = await startGrpcServer();
    const proxy = await startProxy({ ca, acl: ACL, upstream: server.url, tlsPaths: { cert: tls["s.crt"], key: tls["s.key"], ca: tls["ca.crt"] } });

    // The open call: a message every 20 ms, each echoed back in order.
    const chat = grpcClient(ca, web, proxy.port).Chat();
    let sent = 0;
    const replies: string[] = [];
    const errors: string[] = [];
    chat.on("data", (m: EchoMessage) => replies.push(m.text));
    chat.on("error", (err: Error) => errors.push(err.message));
    const ticker = setInterval(() => chat.write({ text: `m${sent++}` }), 20);

    const newCalls: Array<number | undefined> = [];
    let reloads = await metricValue(proxy.adminUrl, "guardpost_reloads_total", { kind: "tls", result: "success" });
    const started = Date.now();
    for (let i = 0; i < ROTATIONS; i++) {
      const next = await issueServerCert(ca);
      // The bundle changes every time (a CA comes and goes beside ours): a trust change, judged on the open connection too.
      const bundle = i % 2 === 0 ? ca.cert + (await createCa({ cn: `passing CA ${i}` })).cert : ca.cert;
      writeByRename(tls["ca.crt"], bundle);
      writeByRename(tls["s.crt"], next.chain);
      writeByRename(tls["s.key"], next.key);
      const before = reloads;
      await expect.poll(async () => (reloads = await metricValue(proxy.adminUrl, "guardpost_reloads_total", { kind: "tls", result: "success" })), { timeout: 3000, interval: 25 }).toBeGreaterThan(before);
      // A new call (a new connection, a new handshake) every tenth rotation.
      if (i % 10 === 9) newCalls.push((await say(grpcClient(ca, web, proxy.port), `call ${i}`, { deadline: Date.now() + 5000 })).error?.code);
    }
    const soakMs = Date.now() - started;

    clearInterval(ticker);
    await expect.poll(() => replies.length, { timeout: 5000 }).toBe(sent);
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      chat.on("status", resolve);
      chat.end();
    });
    expect(errors).toEqual([]);
    expect(status.code).toBe(grpc.status.OK);
    expect(replies).toEqual(Array.from({ length: sent }, (_, i) => `re: m${i}`));
    // Messages kept flowing for the whole soak, not just before it.
    expect(sent).toBeGreaterThan(soakMs / 20 / 2);
    expect(newCalls).toEqual(Array.from({ length: Math.floor(ROTATIONS / 10) }, () => undefined));
    expect(proxy.logs.find({ event: "connection_untrusted" })).toEqual([]);
    expect(await metricValue(proxy.adminUrl, "guardpost_reloads_total", { kind: "tls", result: "error" })).toBe(0);
  });
});
