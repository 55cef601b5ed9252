/**
 * The proxy the wire fuzzers talk to: a real guardpost (startProxy) in front
 * of a recording upstream, with an ACL that grants the test peer (OU=web)
 * GET on /public/** and /users/{id} and keeps /admin/** for OU=ops; plus
 * incremental indexes of what the upstream received and what guardpost
 * logged, and the invariant every upstream request must satisfy.
 */
import { expect } from "vitest";
import { compileAcl, type CompiledAcl } from "../../src/acl/compile.js";
import { normalizeTarget } from "../../src/http/path.js";
import type { LogRecord } from "../helpers/log-sink.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";
import { ReconnectingClient, type RawResponse } from "../helpers/raw-connection.js";

export const ACL = `version: 1
paths:
  /public/**:
    GET: [OU=web]
  /users/{id}:
    GET: [OU=web]
  /admin/**:
    "*": [OU=ops]
`;
export const PEER = { OU: "web", CN: "fuzz-client" } as const;

export interface WireFixture {
  readonly ca: CertificateAuthority;
  readonly client: IssuedCertificate;
  readonly upstream: RecordingUpstream;
  readonly proxy: TestProxy;
  /** The same ACL, compiled here: the oracle. */
  readonly acl: CompiledAcl;
  connect(): ReconnectingClient;
  /** URLs the upstream received with this x-request-id. */
  received(id: string): string[];
  /** Access lines guardpost wrote for this request id. */
  accessLines(id: string): LogRecord[];
  /** Every request the upstream ever saw has a normalized path the peer was granted, outside /admin. */
  expectOnlyGrantedNormalizedPaths(): void;
}

export async function startWireFixture(): Promise<WireFixture> {
  const ca = await createCa();
  const client = await ca.issue({ cn: PEER.CN, ou: PEER.OU });
  const upstream = await startUpstream();
  const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
  const acl = compileAcl("acl.yaml", ACL);

  // Read incrementally: parsing the whole log for each of thousands of requests would make the test quadratic.
  const received = new Map<string, string[]>();
  const access = new Map<string, LogRecord[]>();
  let receivedSeen = 0;
  let linesSeen = 0;
  const catchUp = () => {
    for (; receivedSeen < upstream.received.length; receivedSeen++) {
      const r = upstream.received[receivedSeen]!;
      const id = String(r.headers["x-request-id"]);
      received.set(id, [...(received.get(id) ?? []), r.url]);
    }
    const lines = proxy.logs.lines;
    for (; linesSeen < lines.length; linesSeen++) {
      const record = JSON.parse(lines[linesSeen]!) as LogRecord;
      if (record.msg !== "request" || typeof record.requestId !== "string") continue;
      access.set(record.requestId, [...(access.get(record.requestId) ?? []), record]);
    }
  };

  return {
    ca,
    client,
    upstream,
    proxy,
    acl,
    connect: () => new ReconnectingClient(proxy.port, ca, client),
    received(id) {
      catchUp();
      return received.get(id) ?? [];
    },
    accessLines(id) {
      catchUp();
      return access.get(id) ?? [];
    },
    expectOnlyGrantedNormalizedPaths() {
      for (const { url, method } of upstream.received) {
        const q = url.indexOf("?");
        const path = q === -1 ? url : url.slice(0, q);
        expect(normalizeTarget(path), `upstream got a path that is not in normalized form: ${JSON.stringify(url)}`).toEqual({ ok: true, path, query: "" });
        expect(acl.decide({ method, path, peer: PEER }).allow, `upstream got a path the peer was not granted: ${method} ${JSON.stringify(url)}`).toBe(true);
        expect(path === "/admin" || path.startsWith("/admin/"), `upstream got ${JSON.stringify(url)}`).toBe(false);
      }
    },
  };
}

/**
 * A 400 written by the raw-error path, for requests Node's HTTP parser
 * refused before guardpost saw them: it closes the connection, and its
 * request id is a fresh one because no request (and no header) was read.
 */
export function isParserRefusal(response: RawResponse, id: string): boolean {
  return response.status === 400 && response.headers.connection === "close" && response.headers["x-request-id"] !== id;
}
