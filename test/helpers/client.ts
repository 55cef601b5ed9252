/**
 * Real mTLS clients for tests: undici with a client certificate, and a raw
 * TLS socket for requests that an HTTP client would normalize or refuse to send.
 */
import { connect, type TLSSocket } from "node:tls";
import { Agent, request } from "undici";
import { onCleanup } from "./cleanup.js";
import type { CertificateAuthority, IssuedCertificate } from "./pki.js";

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

export interface MtlsClient {
  request(url: string, options?: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer }): Promise<Response>;
  readonly agent: Agent;
  close(): Promise<void>;
}

/** An undici client presenting `cert` (or no certificate) and trusting `ca` for the server. */
export function mtlsClient(ca: CertificateAuthority, cert: IssuedCertificate | null, options: { keepAlive?: boolean } = {}): MtlsClient {
  const agent = new Agent({
    connect: { ca: ca.cert, ...(cert ? { cert: cert.chain, key: cert.key } : {}), servername: "localhost", rejectUnauthorized: true },
    ...(options.keepAlive === false ? { pipelining: 0 } : {}),
  });
  const client: MtlsClient = {
    agent,
    async request(url, requestOptions = {}) {
      const res = await request(url, {
        dispatcher: agent,
        method: (requestOptions.method ?? "GET") as "GET",
        headers: requestOptions.headers,
        body: requestOptions.body,
      });
      const body = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
    },
    close: () => agent.close(),
  };
  onCleanup(() => agent.destroy());
  return client;
}

/**
 * Sends `raw` bytes over one mTLS connection and returns everything the
 * server wrote until it closed the connection (or `waitMs` passed).
 */
export function rawExchange(port: number, ca: CertificateAuthority, cert: IssuedCertificate, raw: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: cert.chain, key: cert.key }, () => socket.write(raw));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString("latin1"));
      else reject(err);
    });
  });
}

export interface RawConnection {
  readonly socket: TLSSocket;
  /** Everything the server wrote so far, latin1. */
  output(): string;
  write(data: string | Buffer): Promise<void>;
  /** Resolves with the output once it matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the connection is closed, by either side; with ms since `closedSince` (default: connected). */
  readonly closed: Promise<number>;
  isClosed(): boolean;
  /** Marks the moment `closed` counts from. */
  markTime(): void;
  destroy(): void;
}

/**
 * One mTLS connection held open for a test to drive byte by byte: slow
 * writers, pipelining, keep-alive timing, aborts.
 */
export function openRaw(port: number, ca: CertificateAuthority, cert: IssuedCertificate): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: cert.chain, key: cert.key });
    onCleanup(() => socket.destroy());
    const chunks: Buffer[] = [];
    const waiters = new Set<() => void>();
    let since = 0;
    let closedFlag = false;
    const closed = new Promise<number>((resolveClosed) =>
      socket.on("close", () => {
        closedFlag = true;
        for (const waiter of waiters) waiter();
        resolveClosed(Date.now() - since);
      }),
    );
    const output = () => Buffer.concat(chunks).toString("latin1");
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      for (const waiter of waiters) waiter();
    });
    socket.on("error", (err) => {
      if (since === 0) reject(err);
    });
    socket.once("secureConnect", () => {
      since = Date.now();
      resolve({
        socket,
        output,
        write: (data) => new Promise((done) => (socket.writable ? socket.write(data, () => done()) : done())),
        waitFor: (pattern, timeoutMs = 5000) =>
          new Promise((done, fail) => {
            const check = () => {
              const text = output();
              if (pattern.test(text)) {
                cleanup();
                done(text);
              } else if (closedFlag) {
                cleanup();
                fail(new Error(`connection closed before ${String(pattern)}; got ${JSON.stringify(text.slice(0, 500))}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              fail(new Error(`no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(output().slice(0, 500))}`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          }),
        closed,
        isClosed: () => closedFlag,
        markTime: () => {
          since = Date.now();
        },
        destroy: () => socket.destroy(),
      });
    });
  });
}

/** The status code of the first response in raw HTTP/1.1 output. */
export function rawStatus(output: string): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(output);
  return match ? Number(match[1]) : 0;
}

export interface Handshake {
  readonly serial: string;
  readonly resumed: boolean;
  readonly authorized: boolean;
  /** The TLS session to resume with, once the server sent one. */
  readonly session: Buffer | undefined;
  /** True when the server answered a request on the connection (a refused client certificate shows here in TLS 1.3). */
  readonly served: boolean;
}

/**
 * One TLS connection to `port` presenting `cert`: which server certificate
 * was presented, whether a session was resumed, and whether a request got an
 * answer. In TLS 1.3 the client finishes its handshake before the server has
 * judged the client certificate, so "served" is the reliable signal.
 */
export function handshake(port: number, ca: CertificateAuthority | string, cert: IssuedCertificate | null, options: { session?: Buffer; maxVersion?: "TLSv1.2" | "TLSv1.3" } = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let served = false;
    let serial = "";
    let resumed = false;
    let authorized = false;
    const socket = connect(
      {
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: typeof ca === "string" ? ca : ca.cert,
        ...(cert ? { cert: cert.chain, key: cert.key } : {}),
        ...(options.session ? { session: options.session } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      },
      () => {
        serial = socket.getPeerCertificate().serialNumber ?? "";
        resumed = socket.isSessionReused();
        authorized = socket.authorized;
        socket.write("GET /handshake-probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      },
    );
    socket.on("session", (s: Buffer) => (session = s));
    socket.on("data", (chunk: Buffer) => {
      if (chunk.toString("latin1").startsWith("HTTP/1.1 ")) served = true;
    });
    const finish = () => resolve({ serial, resumed, authorized, session, served });
    socket.on("close", finish);
    socket.on("error", () => undefined);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}
