import { createServer, type Server } from "node:https";
import { connect as tcpConnect, type AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { request } from "undici";
import { beforeAll, describe, expect, test } from "vitest";
import { metricValue } from "../helpers/metrics.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { issueServerCert, startProxy, type TestProxy } from "../helpers/proxy.js";
import { writeByRename } from "../helpers/rotate.js";
import { startUpstream } from "../helpers/upstream.js";

interface SeenByServer {
  readonly url: string;
  readonly peerCn: string;
  readonly peerSerial: string;
  /** The name the client asked for in SNI. */
  readonly sni: string | false;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodyLength: number;
}

interface MtlsServer {
  readonly port: number;
  readonly seen: SeenByServer[];
  readonly server: Server;
}

/** A real mTLS service on 127.0.0.1 that requires a client certificate from `trust` and records who called. */
async function startMtlsServer(identity: IssuedCertificate, trust: CertificateAuthority): Promise<MtlsServer> {
  const seen: SeenByServer[] = [];
  const server = createServer({ cert: identity.chain, key: identity.key, ca: trust.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let bodyLength = 0;
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    req.on("data", (chunk: Buffer) => (bodyLength += chunk.length));
    req.on("end", () => {
      seen.push({ url: req.url!, peerCn: String(peer.subject?.CN), peerSerial: peer.serialNumber, sni: (req.socket as TLSSocket & { servername: string | false }).servername, headers: req.headers, bodyLength });
      if (req.url === "/big") {
        // Streams 8 MiB back in 64 KiB chunks.
        const chunk = Buffer.alloc(65536, 1);
        let sent = 0;
        res.writeHead(200, { "content-type": "application/octet-stream", "x-request-id": String(req.headers["x-request-id"]) });
        const pump = () => {
          while (sent < 128) {
            sent++;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      res.writeHead(200, { "content-type": "application/json", connection: "keep-alive", "keep-alive": "timeout=30" });
      res.end(JSON.stringify({ url: req.url, bodyLength, peerCn: peer.subject?.CN }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, seen, server };
}

let ca: CertificateAuthority;
let db: MtlsServer;

const INBOUND_ACL = "version: 1\npaths:\n  /**:\n    GET: [OU=web]\n";

beforeAll(async () => {
  ca = await createCa();
  db = await startMtlsServer(await ca.issue({ cn: "db-01", ou: "database", sans: { dns: ["db-01.internal"] } }), ca);
});

async function startWithOutbound(outbound: Record<string, unknown>, serverCert?: IssuedCertificate): Promise<{ proxy: TestProxy; url: string }> {
  const upstream = await startUpstream();
  const proxy = await startProxy({
    ca,
    acl: INBOUND_ACL,
    upstream: upstream.url,
    ...(serverCert ? { serverCert } : {}),
    extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${db.port}`, serverName: "db-01.internal", ...outbound }] },
  });
  const address = [...proxy.guardpost.addresses.outbound.values()][0]!;
  return { proxy, url: `http://127.0.0.1:${address.port}` };
}

async function call(url: string, options: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: Buffer } = {}) {
  const res = await request(url, { method: options.method ?? "GET", headers: options.headers, body: options.body });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

describe("outbound: originate mTLS for the local service", () => {
  test("a server with the expected OU is reached, and it sees guardpost's client certificate", async () => {
    const { url } = await startWithOutbound({ expect: ["OU=database"] });
    const res = await call(`${url}/rows?limit=5`, { headers: { "x-request-id": "out-1" } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ url: "/rows?limit=5", peerCn: "guardpost-under-test" });
    expect(db.seen.at(-1)?.headers["x-request-id"]).toBe("out-1");
  });

  test.each([
    ["a server whose certificate matches no expected principal", { expect: ["OU=payments", { OU: "database", CN: "db-99" }] }, "identity", /matches none of expect: \[OU=payments, \{OU: database, CN: db-99\}\]/],
    ["a server whose certificate is not valid for serverName", { serverName: "other.internal" }, "tls", /other\.internal/],
  ])("%s gets 502 naming the reason and receives no request", async (_name, outbound, kind, reason) => {
    const { proxy, url } = await startWithOutbound(outbound);
    const before = db.seen.length;
    const res = await call(`${url}/rows`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: "upstream_unverified", method: "GET", path: "/rows" });
    expect(String(res.json().reason)).toMatch(reason);
    expect(db.seen.length).toBe(before);
    expect(await metricValue(proxy.adminUrl, "guardpost_upstream_errors_total", { listener: "outbound-0", kind })).toBe(1);
    expect(proxy.logs.find({ event: "upstream_failed", kind }).length).toBe(1);
  });

  test("a server with a certificate from a foreign CA gets 502 and receives no request", async () => {
    const foreign = await createCa({ cn: "foreign" });
    const impostor = await startMtlsServer(await foreign.issue({ cn: "db-01", ou: "database", sans: { dns: ["db-01.internal"] } }), ca);
    const upstream = await startUpstream();
    const proxy = await startProxy({ ca, acl: INBOUND_ACL, upstream: upstream.url, extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${impostor.port}`, serverName: "db-01.internal", expect: ["OU=database"] }] } });
    const port = [...proxy.guardpost.addresses.outbound.values()][0]!.port;
    const res = await call(`http://127.0.0.1:${port}/rows`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: "upstream_unverified" });
    expect(impostor.seen).toHaveLength(0);
  });

  test("request and response bodies stream through", async () => {
    const { url } = await startWithOutbound({ expect: ["OU=database"] });
    const upload = Buffer.alloc(5 * 1024 * 1024, 2);
    const res = await call(`${url}/upload`, { method: "POST", body: upload });
    expect(res.json()).toMatchObject({ bodyLength: upload.length });
    const big = await request(`${url}/big`);
    let received = 0;
    for await (const chunk of big.body) received += (chunk as Buffer).length;
    expect(received).toBe(128 * 65536);
  });

  test("hop-by-hop headers are stripped and no certificate material is passed on", async () => {
    const { url } = await startWithOutbound({});
    const res = await call(`${url}/h`, { headers: { "x-forwarded-client-cert": "Hash=00;Subject=\"CN=root\"", te: "trailers", "x-keep": "1" } });
    expect(res.status).toBe(200);
    const seen = db.seen.at(-1)!;
    expect(seen.headers["x-forwarded-client-cert"]).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers["x-keep"]).toBe("1");
    expect(seen.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    // The upstream said timeout=30; what reaches the client is guardpost's own keep-alive header, if any.
    expect(res.headers["keep-alive"]).not.toBe("timeout=30");
  });

  test("the upstream receives its own authority as Host (serverName and port), not the local client's 127.0.0.1:port", async () => {
    const { url } = await startWithOutbound({});
    expect((await call(`${url}/host`)).status).toBe(200);
    expect(db.seen.at(-1)?.headers.host).toBe(`db-01.internal:${db.port}`);
  });

  test("a Host the local client sends, however many times, is replaced by the upstream's authority", async () => {
    const { url } = await startWithOutbound({});
    const port = Number(new URL(url).port);
    const raw = "GET /forged-host HTTP/1.1\r\nHost: evil.example\r\nHost: admin.internal\r\nConnection: close\r\n\r\n";
    const reply = await new Promise<string>((resolve, reject) => {
      let text = "";
      const socket = tcpConnect({ host: "127.0.0.1", port }, () => socket.write(raw));
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    const seen = db.seen.at(-1)!;
    expect(seen.url).toBe("/forged-host");
    expect(seen.headers.host).toBe(`db-01.internal:${db.port}`);
  });

  test("with preserveHost: true, the local client's Host is passed on, and serverName still decides SNI and the name verified", async () => {
    const { url } = await startWithOutbound({ preserveHost: true });
    expect((await call(`${url}/host`, { headers: { host: "orders.example:8080" } })).status).toBe(200);
    expect(db.seen.at(-1)).toMatchObject({ url: "/host", sni: "db-01.internal" });
    expect(db.seen.at(-1)?.headers.host).toBe("orders.example:8080");
  });

  test("after a rotation of our certificate, new connections present the new one and no request fails", async () => {
    const first = await issueServerCert(ca);
    const { proxy, url } = await startWithOutbound({ expect: ["OU=database"] }, first);
    expect((await call(`${url}/a`)).status).toBe(200);
    expect(db.seen.at(-1)?.peerSerial).toBe(first.serial);
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) statuses.push((await call(`${url}/during`)).status);
    })();
    const next = await issueServerCert(ca);
    writeByRename(proxy.files.cert, next.chain);
    writeByRename(proxy.files.key, next.key);
    await expect.poll(() => db.seen.at(-1)?.peerSerial, { timeout: 3000 }).toBe(next.serial);
    stop = true;
    await load;
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});
