/**
 * A broken upstream and a vanishing client: guardpost answers what it can
 * with its own JSON error, cuts what it cannot finish so the client can
 * tell, passes a client's abort on to the upstream, and keeps serving.
 */
import type { ServerResponse } from "node:http";
import { beforeAll, describe, expect, test } from "vitest";
import { RawConnection, rawExchange } from "../helpers/raw-connection.js";
import { get, HOSTILE_ACL } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startBrokenUpstream, startUpstream, type RawUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { expectErrorResponse, parseResponses } from "../helpers/wire.js";

let ca: CertificateAuthority;
let web: IssuedCertificate;
let broken: RawUpstream;
let brokenProxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  broken = await startBrokenUpstream();
  brokenProxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: broken.url, limits: { upstreamBodyTimeout: "500ms", upstreamResponseTimeout: "2s" } });
});

async function exchange(proxy: TestProxy, target: string) {
  const started = Date.now();
  const output = await rawExchange(proxy.port, ca, web, get(target), 5000);
  return { ...parseResponses(output), ms: Date.now() - started };
}

/** guardpost still answers normally afterwards. */
async function stillServing(): Promise<void> {
  expect((await exchange(brokenProxy, "/public/ok")).responses.map((r) => [r.status, r.body])).toEqual([[200, "ok"]]);
}

describe.concurrent("adversarial faults: the upstream fails", () => {
  test("an upstream that is down gives 502 upstream_unreachable JSON within 1 s", async () => {
    const dead = await startUpstream();
    await dead.close();
    const proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: dead.url });
    const { responses, ms } = await exchange(proxy, "/public/x");
    expect(ms).toBeLessThan(1000);
    expectErrorResponse(responses[0], 502, { error: "upstream_unreachable", method: "GET", path: "/public/x" });
  });

  test.each([
    ["resets the connection before answering", "/public/reset-before"],
    ["closes the connection before answering", "/public/close-before"],
    ["answers with bytes that are not HTTP", "/public/garbage"],
    ["answers with a malformed status line", "/public/bad-status"],
    ["answers with Content-Length and Transfer-Encoding together", "/public/cl-te"],
    ["answers with two differing Content-Lengths", "/public/two-lengths"],
    ["answers with a bare CR hiding a Set-Cookie", "/public/bare-cr"],
  ])("an upstream that %s gives 502 JSON, passes nothing of its answer on, and guardpost keeps serving", async (_what, path) => {
    const { responses, trailing } = await exchange(brokenProxy, path);
    expect(responses).toHaveLength(1);
    expectErrorResponse(responses[0], 502, { error: "upstream_unreachable", method: "GET", path });
    expect(responses[0]!.headers["set-cookie"]).toBeUndefined();
    expect(trailing).toBe("");
    await stillServing();
  });

  test.each([
    ["a Content-Length body", "/public/reset-mid"],
    ["a chunked body", "/public/reset-mid-chunked"],
  ])("an upstream that resets in the middle of %s: the client gets a visibly incomplete response, never a complete one", async (_what, path) => {
    const { responses } = await exchange(brokenProxy, path);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.body).toBe("x".repeat(10));
    expect(responses[0]!.complete).toBe(false);
    await stillServing();
  });

  test("an upstream that stalls mid-body beyond upstreamBodyTimeout (500ms): the response is cut within 3 s, not left hanging", async () => {
    const { responses, ms } = await exchange(brokenProxy, "/public/stall-mid");
    expect(ms).toBeLessThan(3000);
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.complete).toBe(false);
    await stillServing();
  });

  test("an upstream slower than upstreamResponseTimeout (1s) gives 504 upstream_timeout JSON, not a hang", async () => {
    const slow = await startUpstream();
    slow.respond((_req, res) => setTimeout(() => res.end("late"), 10_000).unref());
    const proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: slow.url, limits: { upstreamResponseTimeout: "1s" } });
    const { responses, ms } = await exchange(proxy, "/public/slow");
    expect(ms).toBeLessThan(3000);
    expectErrorResponse(responses[0], 504, { error: "upstream_timeout", method: "GET", path: "/public/slow" });
  });
});

describe("adversarial faults: the client goes away", () => {
  let upstream: RecordingUpstream;
  let proxy: TestProxy;
  /** How each upstream request ended, by url: its body, and its response. */
  const requestEnded = new Map<string, "complete" | "aborted">();
  const responseEnded = new Map<string, "finished" | "closed">();
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    upstream = await startUpstream({ streaming: true });
    upstream.respond((req, res) => {
      req.on("close", () => requestEnded.set(req.url!, req.complete ? "complete" : "aborted"));
      res.on("close", () => responseEnded.set(req.url!, res.writableFinished ? "finished" : "closed"));
      req.resume();
      // /public/hold never answers on its own.
      req.on("end", () => (req.url === "/public/hold" ? held.push(res) : res.end("ok")));
    });
    proxy = await startProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url });
  });

  test("a client that aborts mid-upload: the upstream sees its request aborted within 2 s", async () => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(`POST /public/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${1024 * 1024}\r\n\r\n${"u".repeat(64 * 1024)}`);
    await expect.poll(() => upstream.arrivals).toContain("POST /public/upload");
    conn.destroy();
    await expect.poll(() => requestEnded.get("/public/upload"), { timeout: 2000 }).toBe("aborted");
  });

  test("a client that goes away while waiting for the answer: the upstream sees its response closed, unfinished, within 2 s", async () => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(get("/public/hold"));
    await expect.poll(() => held.length).toBe(1);
    conn.destroy();
    await expect.poll(() => responseEnded.get("/public/hold"), { timeout: 2000 }).toBe("closed");
  });

  test("after an aborted upload, the next request reaches the upstream on its own: the pooled connection never carries the rest of a body", async () => {
    const conn = await RawConnection.open(proxy.port, ca, web);
    await conn.write(`POST /public/cut HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n${"c".repeat(10)}`);
    await expect.poll(() => upstream.arrivals).toContain("POST /public/cut");
    conn.destroy();
    await expect.poll(() => requestEnded.get("/public/cut")).toBe("aborted");
    const mark = upstream.arrivals.length;
    const { responses } = parseResponses(await rawExchange(proxy.port, ca, web, `POST /public/after HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nafter`));
    expect(responses.map((r) => [r.status, r.body])).toEqual([[200, "ok"]]);
    expect(upstream.arrivals.slice(mark)).toEqual(["POST /public/after"]);
    expect(requestEnded.get("/public/after")).toBe("complete");
  });
});
