/**
 * The TLS 1.2 session-id cache: real handshakes decide what gets stored and
 * resumed; a clock decides expiry; the bound holds.
 */
import { constants } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SessionCache, sessionVersion } from "../../../src/tls/session-cache.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../../helpers/pki.js";
import { issueServerCert } from "../../helpers/proxy.js";

let ca: CertificateAuthority;
let serverCert: IssuedCertificate;
let client: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  serverCert = await issueServerCert(ca);
  client = await ca.issue({ cn: "web-01", ou: "web" });
});

async function serve(cache: SessionCache): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: serverCert.chain, key: serverCert.key, ca: ca.cert, requestCert: true, sessionIdContext: "test" }, (socket) => socket.end("ok"));
  cache.attach(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as { port: number }).port };
}

/** One connection; TLS 1.2 without tickets unless `tls13`. Resolves with the session to offer next and whether this one resumed. */
function connectOnce(port: number, options: { tls13?: boolean; session?: Buffer } = {}): Promise<{ session: Buffer | undefined; resumed: boolean }> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: ca.cert,
      cert: client.chain,
      key: client.key,
      ...(options.tls13 ? { minVersion: "TLSv1.3" as const } : { maxVersion: "TLSv1.2" as const, secureOptions: constants.SSL_OP_NO_TICKET }),
      ...(options.session ? { session: options.session } : {}),
    });
    socket.on("session", (s: Buffer) => (session = s));
    socket.on("error", reject);
    socket.resume();
    socket.on("end", () => resolve({ session, resumed: socket.isSessionReused() }));
  });
}

describe("SessionCache", () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  test("a TLS 1.2 client without tickets resumes by session id; after clear() it cannot", async () => {
    const cache = new SessionCache();
    const { server, port } = await serve(cache);
    servers.push(server);
    const first = await connectOnce(port);
    expect(first.resumed).toBe(false);
    expect(cache.size).toBe(1);
    expect((await connectOnce(port, { session: first.session! })).resumed).toBe(true);
    cache.clear();
    expect((await connectOnce(port, { session: first.session! })).resumed).toBe(false);
  });

  test("TLS 1.3 sessions are not stored: they come back as tickets", async () => {
    const cache = new SessionCache();
    const { server, port } = await serve(cache);
    servers.push(server);
    const first = await connectOnce(port, { tls13: true });
    expect((await connectOnce(port, { tls13: true, session: first.session! })).resumed).toBe(true);
    expect(cache.size).toBe(0);
  });

  test("a session past its lifetime is not resumed, and the oldest goes first past the bound", async () => {
    let now = 0;
    const cache = new SessionCache(2, 1000, () => now);
    const { server, port } = await serve(cache);
    servers.push(server);
    const a = await connectOnce(port);
    now = 999;
    expect((await connectOnce(port, { session: a.session! })).resumed).toBe(true);
    now = 1000;
    expect((await connectOnce(port, { session: a.session! })).resumed).toBe(false);
    const sessions = [await connectOnce(port), await connectOnce(port), await connectOnce(port)];
    expect(cache.size).toBe(2);
    expect((await connectOnce(port, { session: sessions[0]!.session! })).resumed).toBe(false);
    expect((await connectOnce(port, { session: sessions[2]!.session! })).resumed).toBe(true);
  });

  test("sessionVersion reads the protocol version, and null from bytes that are not a session", () => {
    const session = (version: number, longForm: boolean) => Buffer.from([0x30, ...(longForm ? [0x82, 0x01, 0x00] : [0x20]), 0x02, 0x01, 0x01, 0x02, 0x02, version >> 8, version & 0xff, 0x04, 0x02]);
    expect(sessionVersion(session(0x0303, true))).toBe(0x0303);
    expect(sessionVersion(session(0x0304, false))).toBe(0x0304);
    for (const bytes of [[], [0x30], [0x31, 0x20, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x04], [0x30, 0x20, 0x02, 0x01, 0x01, 0x04, 0x02, 0x03, 0x04], [0x30, 0x20, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03]]) {
      expect(sessionVersion(Buffer.from(bytes))).toBeNull();
    }
  });
});
