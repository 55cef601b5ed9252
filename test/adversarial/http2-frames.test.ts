/**
 * Hostile HTTP/2, written frame by frame over mTLS with ALPN h2 against the
 * real CLI (`guardpost serve` in its own process): rapid reset, CONTINUATION
 * floods, HPACK bombs, oversized header lists, PING and SETTINGS floods,
 * streams beyond maxConcurrentStreams. Each attack must end the offending
 * connection (GOAWAY, then the socket closes) within a bound, leave the
 * process up, and never starve a well-behaved client on another connection,
 * which keeps getting 200s while the attack runs.
 */
import { connect, type ClientHttp2Session } from "node:http2";
import { beforeAll, describe, expect, test } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import {
  block,
  continuation,
  ErrorCode,
  FrameType,
  getBlock,
  headers,
  indexed,
  literal,
  literalIndexed,
  ping,
  RawH2,
  rstStream,
  Setting,
  settings,
} from "../helpers/h2-frames.js";
import { metricValue } from "../helpers/metrics.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { serveProxy, type ServedProxy } from "../helpers/proxy.js";
import { residentBytes } from "../helpers/spawn.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const ACL = 'version: 1\npaths:\n  /**:\n    "*": [OU=web]\n';
/** Lower than the default (100), so the limit visibly comes from the config. */
const MAX_STREAMS = 20;
const MAX_HEADER_SIZE = 16 * 1024;
/** How long an attack may run before guardpost must have ended its connection. */
const END_WITHIN_MS = 10_000;
/** The slowest a well-behaved request may be while an attack runs. */
const GOOD_LATENCY_MS = 3000;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: ServedProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream();
  proxy = await serveProxy({ ca, acl: ACL, upstream: upstream.url, limits: { maxConcurrentStreams: MAX_STREAMS, maxHeaderSize: "16KiB" } });
});

interface GoodClient {
  /** Stops the loop; resolves with what the well-behaved client saw. */
  stop(): Promise<{ ok: number; failures: string[]; maxLatencyMs: number }>;
}

/** A well-behaved HTTP/2 client on its own connection, sending GETs one after another until stopped. */
async function goodClient(): Promise<GoodClient> {
  const session: ClientHttp2Session = connect(`https://localhost:${proxy.port}`, { ca: ca.cert, cert: web.chain, key: web.key });
  onCleanup(() => session.destroy());
  session.on("error", () => undefined);
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const stream = session.request({ ":method": "GET", ":path": "/good" });
      let status = 0;
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("error", reject);
      stream.resume();
      stream.on("end", () => resolve(status));
    });
  expect(await get()).toBe(200);
  let running = true;
  let ok = 0;
  let maxLatencyMs = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      // A request that never comes back counts as the latency it reached.
      const status = await Promise.race([get().catch((err: Error) => err.message), new Promise<string>((r) => setTimeout(() => r("no answer within 10 s"), 10_000))]);
      maxLatencyMs = Math.max(maxLatencyMs, Date.now() - started);
      if (status === 200) ok++;
      else failures.push(String(status));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      session.close();
      return { ok, failures, maxLatencyMs };
    },
  };
}

interface AttackOutcome {
  readonly conn: RawH2;
  /** ms from the attack's start until GOAWAY or close. */
  readonly endedAfterMs: number | null;
  /** ms from the attack's start until the socket closed. */
  readonly closedAfterMs: number | null;
  /** Requests that reached the upstream from the attacker's paths. */
  readonly reachedUpstream: number;
}

/**
 * Runs `attack` on a fresh h2 connection (after the server's SETTINGS are
 * in and acknowledged) while a well-behaved client keeps calling on another
 * one, and checks what every attack must leave intact.
 */
async function underAttack(attack: (conn: RawH2) => Promise<unknown>, attackPath: RegExp): Promise<AttackOutcome> {
  const errorsBefore = await metricValue(proxy.adminUrl, "guardpost_http2_session_errors_total", { listener: "inbound" });
  const good = await goodClient();
  const mark = upstream.arrivals.length;
  const conn = await RawH2.open(proxy.port, ca, web);
  expect(await conn.until(() => conn.framesOf(FrameType.SETTINGS).length > 0, 2000)).toBe(true);
  // Let the server take our SETTINGS ACK, so its advertised limits are in force.
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  const attacking = attack(conn).catch(() => undefined);
  const endedAfterMs = (await conn.ended(END_WITHIN_MS)) === null ? null : Date.now() - started;
  const closed = await conn.until(() => conn.isClosed, 5000);
  const closedAfterMs = closed ? conn.closedAt! - started : null;
  conn.close();
  await attacking;
  // The well-behaved client goes on a little after the attack, then reports.
  await new Promise((r) => setTimeout(r, 200));
  const seen = await good.stop();
  expect(seen.failures, "the well-behaved client's failed requests").toEqual([]);
  expect(seen.ok, "the well-behaved client got answers while the attack ran").toBeGreaterThan(0);
  expect(seen.maxLatencyMs, "the well-behaved client's slowest request (ms)").toBeLessThan(GOOD_LATENCY_MS);
  expect(proxy.proc.child.exitCode, "guardpost is still running").toBeNull();
  const errorsAfter = await metricValue(proxy.adminUrl, "guardpost_http2_session_errors_total", { listener: "inbound" });
  expect(errorsAfter, "guardpost_http2_session_errors_total counts the ended session").toBeGreaterThan(errorsBefore);
  const reachedUpstream = upstream.arrivals.slice(mark).filter((a) => attackPath.test(a)).length;
  return { conn, endedAfterMs, closedAfterMs, reachedUpstream };
}

/** Sends `make(i)` for i = 0, 1, ... up to `max` times, `batch` frames a write, while the connection is alive. */
async function flood(conn: RawH2, max: number, batch: number, make: (i: number) => Buffer): Promise<number> {
  let i = 0;
  while (i < max && conn.alive) {
    const frames: Buffer[] = [];
    for (let j = 0; j < batch && i < max; j++, i++) frames.push(make(i));
    if (!(await conn.send(...frames))) break;
  }
  return i;
}

/**
 * Like flood, without reading what the server sends back (its ACKs pile up
 * on its side, as in CVE-2019-9512/9515), each write given 2 s; then reads
 * again, so a GOAWAY or close is seen.
 */
async function floodUnread(conn: RawH2, batches: number, batch: Buffer): Promise<void> {
  conn.socket.pause();
  for (let i = 0; i < batches && !conn.socket.destroyed; i++) {
    const sent = await Promise.race([conn.send(batch), new Promise<"stalled">((r) => setTimeout(() => r("stalled"), 2000))]);
    if (sent !== true) break;
  }
  conn.socket.resume();
}

function expectEnded(outcome: AttackOutcome): void {
  expect(outcome.endedAfterMs, "GOAWAY or close within the bound").not.toBeNull();
  expect(outcome.closedAfterMs, "the socket closed within the bound (not left open until idleTimeout)").not.toBeNull();
  expect(outcome.closedAfterMs!).toBeLessThan(END_WITHIN_MS + 5000);
}

describe("hostile HTTP/2 frames: the attacker loses its connection, guardpost keeps serving", () => {
  test("guardpost advertises maxConcurrentStreams and maxHeaderSize in its SETTINGS", async () => {
    const conn = await RawH2.open(proxy.port, ca, web);
    expect(await conn.until(() => conn.framesOf(FrameType.SETTINGS).length > 0, 2000)).toBe(true);
    const payload = conn.framesOf(FrameType.SETTINGS)[0]!.payload;
    const advertised = new Map<number, number>();
    for (let i = 0; i + 6 <= payload.length; i += 6) advertised.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
    expect(advertised.get(Setting.MAX_CONCURRENT_STREAMS)).toBe(MAX_STREAMS);
    expect(advertised.get(Setting.MAX_HEADER_LIST_SIZE)).toBe(MAX_HEADER_SIZE);
    expect(advertised.get(Setting.ENABLE_PUSH)).toBe(0);
    conn.close();
  });

  test("rapid reset (CVE-2023-44487): thousands of HEADERS+RST_STREAM pairs end the connection, and the upstream sees no flood", async () => {
    let pairs = 0;
    const outcome = await underAttack(async (conn) => {
      pairs = await flood(conn, 10_000, 100, (i) => Buffer.concat([headers(2 * i + 1, getBlock(`/rapid-reset/${i}`)), rstStream(2 * i + 1, ErrorCode.CANCEL)]));
    }, /\/rapid-reset\//);
    expectEnded(outcome);
    const goAway = outcome.conn.goAway();
    // guardpost's own guard says ENHANCE_YOUR_CALM; a newer nghttp2 (Node 24) may stop the flood first, with INTERNAL_ERROR.
    expect([ErrorCode.ENHANCE_YOUR_CALM, ErrorCode.INTERNAL_ERROR]).toContain(goAway?.code);
    // Ended after a few hundred streams at most, whatever was still in flight.
    expect(goAway!.lastStreamId).toBeLessThan(2 * 2000);
    expect(pairs).toBeGreaterThan(100);
    // Streams reset before guardpost got to them are never forwarded; at most a handful raced ahead of their reset.
    expect(outcome.reachedUpstream).toBeLessThan(100);
  });

  test.each([
    ["empty CONTINUATION frames", () => Buffer.alloc(0)],
    ["CONTINUATION frames each adding a header field", (i: number) => literal(`x-c-${i}`, "v")],
  ] as const)("a CONTINUATION flood (%s, never END_HEADERS) ends the connection", async (_name, fragment) => {
    const outcome = await underAttack(async (conn) => {
      await conn.send(headers(1, getBlock("/continuation"), { endHeaders: false }));
      await flood(conn, 100_000, 500, (i) => continuation(1, fragment(i)));
    }, /\/continuation/);
    expectEnded(outcome);
    expect(outcome.reachedUpstream).toBe(0);
  });

  test("an HPACK bomb (a 4 KB field in the dynamic table, referenced thousands of times per stream) never reaches the upstream and, repeated, ends the connection", async () => {
    // Index 62 is the newest dynamic table entry: one byte per 4 KB of decoded header.
    const refs = Buffer.alloc(12_000, indexed(62)[0]!);
    const outcome = await underAttack(async (conn) => {
      await conn.send(headers(1, Buffer.concat([getBlock("/bomb"), literalIndexed("x-bomb", "a".repeat(4000)), refs])));
      await flood(conn, 5000, 10, (i) => headers(2 * i + 3, Buffer.concat([getBlock("/bomb"), refs])));
    }, /\/bomb/);
    const first = outcome.conn.answer(1);
    // Refused as guardpost's 431 or reset by the HTTP/2 layer; never 2xx.
    expect(first?.status === 431 || first?.reset === ErrorCode.ENHANCE_YOUR_CALM, JSON.stringify(first)).toBe(true);
    expectEnded(outcome);
    expect(outcome.reachedUpstream).toBe(0);
  });

  test("a header list over maxHeaderSize is refused and never forwarded; the connection serves on, and a client that keeps sending them loses it", async () => {
    const oversized = getBlock("/oversized", [["x-big", "b".repeat(MAX_HEADER_SIZE + 4000)]]);
    const sendOversized = (conn: RawH2, id: number) => conn.send(headers(id, oversized.subarray(0, 16_000), { endHeaders: false }), continuation(id, oversized.subarray(16_000), true));
    // One such stream costs the stream, not the connection.
    const single = await RawH2.open(proxy.port, ca, web);
    await single.until(() => single.framesOf(FrameType.SETTINGS).length > 0, 2000);
    await new Promise((r) => setTimeout(r, 50));
    const mark = upstream.arrivals.length;
    await sendOversized(single, 1);
    await single.send(headers(3, getBlock("/after-oversized")));
    expect(await single.until(() => single.answer(1) !== undefined && single.answer(3) !== undefined, 5000)).toBe(true);
    const first = single.answer(1)!;
    expect(first.status === 431 || first.reset === ErrorCode.ENHANCE_YOUR_CALM, JSON.stringify(first)).toBe(true);
    expect(single.answer(3)).toEqual({ status: 200 });
    expect(upstream.arrivals.slice(mark)).toEqual(["GET /after-oversized"]);
    single.close();

    const outcome = await underAttack((conn) => flood(conn, 5000, 1, (i) => Buffer.concat([headers(2 * i + 1, oversized.subarray(0, 16_000), { endHeaders: false }), continuation(2 * i + 1, oversized.subarray(16_000), true)])), /\/oversized/);
    expectEnded(outcome);
    expect(outcome.reachedUpstream).toBe(0);
  });

  test("a PING flood whose ACKs are never read ends the connection", async () => {
    const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => ping(Buffer.from(String(i).padStart(8, "0")))));
    expectEnded(await underAttack((conn) => floodUnread(conn, 1000, batch), /^$/));
  });

  test("a SETTINGS flood whose ACKs are never read ends the connection", async () => {
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => settings([[Setting.INITIAL_WINDOW_SIZE, 65_535]])));
    expectEnded(await underAttack((conn) => floodUnread(conn, 1000, batch), /^$/));
  });

  test(`opening more streams than maxConcurrentStreams (${MAX_STREAMS}) gets the excess refused and, persisted in, ends the connection`, async () => {
    const outcome = await underAttack(
      // Request bodies that never end: every stream stays open.
      (conn) => flood(conn, MAX_STREAMS + 500, 10, (i) => headers(2 * i + 1, block([[":method", "POST"], [":scheme", "https"], [":path", `/streams/${i}`], [":authority", "localhost"]]), { endStream: false })),
      /\/streams\//,
    );
    // nghttp2 ends the session at the first stream past the acknowledged limit (a protocol error); refusing
    // streams one by one (REFUSED_STREAM) until Node's rejected-stream limit would do too.
    expectEnded(outcome);
    // Streams over the limit are refused before they are requests: never more than the limit reach the upstream.
    expect(outcome.reachedUpstream).toBeLessThanOrEqual(MAX_STREAMS);
  });

  test("after every attack, guardpost's memory stayed bounded and it answers as before", async () => {
    expect(proxy.proc.child.exitCode).toBeNull();
    expect(residentBytes(proxy.proc.child.pid!)).toBeLessThan(400 * 1024 * 1024);
    const good = await goodClient();
    const seen = await good.stop();
    expect(seen.failures).toEqual([]);
    expect(proxy.proc.stderr).not.toMatch(/Error|uncaught/i);
  });
});
