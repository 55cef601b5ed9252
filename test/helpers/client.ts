/**
 * Real mTLS clients for tests: undici with a client certificate, and a bare
 * TLS handshake probe. Raw HTTP bytes go through raw-connection.ts.
 */
import { constants } from "node:crypto";
import { connect } from "node:tls";
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

export interface Handshake {
  readonly serial: string;
  readonly resumed: boolean;
  readonly authorized: boolean;
  /** The TLS session to resume with, once the server sent one. */
  readonly session: Buffer | undefined;
  /** True when the server served a request on the connection. */
  readonly served: boolean;
  /** The TLS alert guardpost named when it refused the client certificate (its answer before closing); null when not refused. */
  readonly refusal: string | null;
}

/**
 * One TLS connection to `port` presenting `cert`: which server certificate
 * was presented, whether a session was resumed, and whether a request got an
 * answer. In TLS 1.3 the client finishes its handshake before the server has
 * judged the client certificate, so "served" is the reliable signal.
 */
export function handshake(port: number, ca: CertificateAuthority | string, cert: IssuedCertificate | null, options: { session?: Buffer; maxVersion?: "TLSv1.2" | "TLSv1.3"; tickets?: boolean } = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
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
        // Without the ticket extension a TLS 1.2 client can resume only by session id.
        ...(options.tickets === false ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
      },
      () => {
        serial = socket.getPeerCertificate().serialNumber ?? "";
        resumed = socket.isSessionReused();
        authorized = socket.authorized;
        socket.write("GET /handshake-probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      },
    );
    socket.on("session", (s: Buffer) => (session = s));
    let answer = "";
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
    });
    const finish = () => {
      const refusal = /"error":"client_certificate_refused","alert":"([a-z_]+)"/.exec(answer)?.[1] ?? null;
      resolve({ serial, resumed, authorized, session, served: answer.startsWith("HTTP/1.1 ") && refusal === null, refusal });
    };
    socket.on("close", finish);
    socket.on("error", () => undefined);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}
