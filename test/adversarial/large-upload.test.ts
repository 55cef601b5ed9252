/**
 * A 1 GiB upload through the real CLI: the body streams with backpressure,
 * so guardpost's resident memory stays flat while the upstream counts
 * every byte. A proxy that buffers bodies grows by a gigabyte.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { RawConnection } from "../helpers/raw-connection.js";
import { HOSTILE_ACL } from "../helpers/hostile.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { serveProxy, type ServedProxy } from "../helpers/proxy.js";
import { residentBytes } from "../helpers/spawn.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { parseResponses } from "../helpers/wire.js";

const TOTAL = 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
const MAX_GROWTH = 100 * 1024 * 1024;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let upstream: RecordingUpstream;
let proxy: ServedProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  upstream = await startUpstream({ streaming: true });
  // Counts and discards: the upstream holds no more than one chunk either.
  upstream.respond((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => res.end(JSON.stringify({ bytes })));
  });
  proxy = await serveProxy({ ca, acl: HOSTILE_ACL, upstream: upstream.url });
});

async function upload(bytes: number, path: string): Promise<{ status: number; body: string }> {
  const conn = await RawConnection.open(proxy.port, ca, web);
  await conn.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n`);
  for (let sent = 0; sent < bytes; sent += CHUNK.length) await conn.write(sent + CHUNK.length <= bytes ? CHUNK : CHUNK.subarray(0, bytes - sent));
  await conn.closed;
  const [response] = parseResponses(conn.output()).responses;
  return { status: response?.status ?? 0, body: response?.body ?? "" };
}

describe("adversarial limits: memory stays flat under a huge upload", () => {
  test("a 1 GiB upload streams through guardpost serve in under 30 s with its RSS growing less than 100 MB", { timeout: 60_000 }, async () => {
    const pid = proxy.proc.child.pid!;
    // Warm up TLS, the upstream pool and the JIT, so the baseline is the steady state.
    expect(await upload(64 * 1024 * 1024, "/public/warm-up")).toEqual({ status: 200, body: JSON.stringify({ bytes: 64 * 1024 * 1024 }) });
    const baseline = residentBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid))), 50);
    const started = Date.now();
    try {
      expect(await upload(TOTAL, "/public/huge")).toEqual({ status: 200, body: JSON.stringify({ bytes: TOTAL }) });
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    peak = Math.max(peak, residentBytes(pid));
    // Typically 5-12 s alone; the bound leaves room for a loaded CI box.
    expect(seconds).toBeLessThan(30);
    expect(peak - baseline, `RSS grew from ${baseline >> 20} MiB to ${peak >> 20} MiB`).toBeLessThan(MAX_GROWTH);
    expect(proxy.proc.child.exitCode).toBeNull();
  });
});
