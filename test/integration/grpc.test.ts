/**
 * gRPC through guardpost with the real grpc-js on both sides: a client with
 * its certificate in front, a grpc-js server on h2c behind. ACL paths are
 * gRPC method paths, method POST.
 */
import { connect, constants } from "node:http2";
import { beforeAll, describe, expect, test } from "vitest";
import { chatThree, grpc, grpcClient, insecureClient, say, startGrpcServer, type EchoMessage } from "../helpers/grpc.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "../helpers/proxy.js";
import { metricValue } from "../helpers/metrics.js";

const ACL = `
version: 1
paths:
  /guardpost.test.v1.Echo/**:
    POST: [OU=web]
  /guardpost.test.v1.Echo/Chat:
    POST: [OU=ops]
`;

let ca: CertificateAuthority;
let web: IssuedCertificate;
let proxy: TestProxy;

beforeAll(async () => {
  ca = await createCa();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  const upstream = await startGrpcServer();
  proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
});

describe("gRPC through guardpost", () => {
  test("a unary call is allowed and forwarded, with the caller's identity, and metadata and trailers intact both ways", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-forwarded-client-cert", "Hash=forged");
    const { response, error, initial, trailing } = await say(grpcClient(ca, web, proxy.port), "hi", {}, metadata);
    expect(error).toBeUndefined();
    expect(response!.text).toMatch(/^echo: hi; xfcc: Hash=[0-9a-f]{64};Subject="/);
    expect(response!.text).not.toContain("forged");
    expect(initial?.get("x-initial")).toEqual(["from-upstream"]);
    expect(trailing?.get("x-trailer")).toEqual(["from-upstream"]);
    await expect.poll(() => metricValue(proxy.adminUrl, "guardpost_requests_total", { protocol: "grpc", decision: "allow", method: "POST" })).toBe(1);
    expect(proxy.logs.find({ msg: "request", protocol: "grpc", path: "/guardpost.test.v1.Echo/Say", entry: "POST /guardpost.test.v1.Echo/**" })).toHaveLength(1);
  });

  test("a denied method gets PERMISSION_DENIED from guardpost, naming the method, and never reaches the server", async () => {
    const chat = grpcClient(ca, web, proxy.port).Chat();
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      chat.on("status", resolve);
      chat.on("error", () => undefined);
      chat.on("data", () => undefined);
      chat.write({ text: "hello" });
      chat.end();
    });
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain("POST /guardpost.test.v1.Echo/Chat");
  });

  test("each call kind works: server streaming, client streaming and bidirectional", async () => {
    const allowAll = await startProxy({ ca, acl: "version: 1\npaths:\n  /guardpost.test.v1.Echo/**:\n    POST: [\"*\"]\n", upstream: (await startGrpcServer()).url });
    const client = grpcClient(ca, web, allowAll.port);
    const repeated: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.Repeat({ text: "x" });
      call.on("data", (m: EchoMessage) => repeated.push(m.text));
      call.on("end", resolve);
      call.on("error", reject);
    });
    expect(repeated).toEqual(["x #0", "x #1", "x #2"]);

    const collected = await new Promise<EchoMessage>((resolve, reject) => {
      const call = client.Collect(new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res!)));
      for (const text of ["a", "b", "c"]) call.write({ text });
      call.end();
    });
    expect(collected.text).toBe("a,b,c");

    expect(await chatThree(client)).toEqual(["re: m0", "re: m1", "re: m2"]);
  });

  test("a gRPC call to a route whose upstream speaks HTTP/1.1 gets UNIMPLEMENTED; a denied one still gets PERMISSION_DENIED", async () => {
    const http1 = await startProxy({ ca, acl: ACL, upstream: "http://127.0.0.1:9" });
    const allowed = await say(grpcClient(ca, web, http1.port), "hi");
    expect(allowed.error?.code).toBe(grpc.status.UNIMPLEMENTED);
    const marketing = await ca.issue({ cn: "mkt", ou: "marketing" });
    const denied = await say(grpcClient(ca, marketing, http1.port), "hi");
    expect(denied.error?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  test("an unreachable upstream gives UNAVAILABLE", async () => {
    const down = await startProxy({ ca, acl: ACL, upstream: "h2c://127.0.0.1:9" });
    expect((await say(grpcClient(ca, web, down.port), "hi")).error?.code).toBe(grpc.status.UNAVAILABLE);
  });

  test("guardpost holds a call to its grpc-timeout: a slower upstream gets cancelled and the client DEADLINE_EXCEEDED from guardpost", async () => {
    let cancelled = false;
    const slow = await startGrpcServer({
      Say: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
        call.on("cancelled", () => {
          cancelled = true;
        });
        setTimeout(() => callback(null, { text: "late" }), 3000);
      },
    });
    const slowProxy = await startProxy({ ca, acl: ACL, upstream: slow.url });
    // A raw HTTP/2 client, which, unlike grpc-js, does not enforce the deadline itself.
    const started = Date.now();
    const answer = await rawGrpcCall(slowProxy.port, "/guardpost.test.v1.Echo/Say", { "grpc-timeout": "300m" });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(answer).toMatchObject({ status: 200, trailersOnly: true, grpcStatus: String(grpc.status.DEADLINE_EXCEEDED) });
    expect(answer.grpcMessage).toContain("grpc-timeout 300m");
    await expect.poll(() => cancelled).toBe(true);
  });
});

describe("gRPC: who may call, cancels, and the outbound side", () => {
  /** An Echo server whose Say counts the calls that reach it. */
  async function countingServer(): Promise<{ url: string; calls: () => number }> {
    let calls = 0;
    const server = await startGrpcServer({
      Say: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
        calls++;
        callback(null, { text: `echo: ${call.request.text}` });
      },
    });
    return { url: server.url, calls: () => calls };
  }

  // The README ("Security notes"): a refused client certificate is answered, not reset; a gRPC client gets
  // 16 UNAUTHENTICATED naming the TLS alert and the reason, where a bare handshake failure would give 14 UNAVAILABLE.
  test("an expired client certificate fails the call with UNAUTHENTICATED naming certificate_expired, and never reaches the server", async () => {
    const counting = await countingServer();
    const front = await startProxy({ ca, acl: ACL, upstream: counting.url });
    const expired = await ca.issue({ cn: "web-old", ou: "web", notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 60_000) });
    const { error } = await say(grpcClient(ca, expired, front.port), "hi", { deadline: Date.now() + 5000 });
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(error?.details).toMatch(/^certificate_expired: the client certificate \(.*CN=web-old.*\) expired at /);
    // The same call with a valid certificate goes through: the refusal is the certificate's.
    expect((await say(grpcClient(ca, web, front.port), "hi")).response?.text).toBe("echo: hi");
    expect(counting.calls()).toBe(1);
    expect(front.logs.find({ event: "tls_handshake_failed", reason: "expired" }).length).toBeGreaterThan(0);
  });

  test("a client certificate the CRL revokes fails the call with UNAUTHENTICATED naming certificate_revoked, and never reaches the server", async () => {
    const counting = await countingServer();
    const revoked = await ca.issue({ cn: "web-revoked", ou: "web" });
    const front = await startProxy({ ca, acl: ACL, upstream: counting.url, crl: await ca.crl([revoked]) });
    const { error } = await say(grpcClient(ca, revoked, front.port), "hi", { deadline: Date.now() + 5000 });
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(error?.details).toMatch(/^certificate_revoked: /);
    expect((await say(grpcClient(ca, web, front.port), "hi")).response?.text).toBe("echo: hi");
    expect(counting.calls()).toBe(1);
    expect(front.logs.find({ event: "tls_handshake_failed", reason: "revoked" }).length).toBeGreaterThan(0);
  });

  test("a client that cancels a server-streaming call has the call cancelled at the server", async () => {
    let cancelled = false;
    let started = false;
    const server = await startGrpcServer({
      Repeat: (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
        started = true;
        call.on("cancelled", () => {
          cancelled = true;
        });
        // One message, then the stream stays open until the client goes away.
        call.write({ text: `${call.request.text} #0` });
      },
    });
    const front = await startProxy({ ca, acl: ACL, upstream: server.url });
    const call = grpcClient(ca, web, front.port).Repeat({ text: "x" });
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      call.on("data", () => call.cancel());
      call.on("error", () => undefined);
      call.on("status", resolve);
    });
    expect(status.code).toBe(grpc.status.CANCELLED);
    expect(started).toBe(true);
    await expect.poll(() => cancelled, { timeout: 3000 }).toBe(true);
  });

  test("outbound: a local grpc-js client speaking h2c to an outbound listener reaches a gRPC server behind another guardpost over mTLS", async () => {
    const server = await startGrpcServer();
    // The callee's sidecar: mTLS in, h2c to its gRPC server; it grants the caller's sidecar (OU=sidecar).
    const callee = await startProxy({ ca, acl: "version: 1\npaths:\n  /guardpost.test.v1.Echo/**:\n    POST: [OU=sidecar]\n", upstream: server.url });
    // The caller's sidecar: an outbound listener to the callee's.
    const caller = await startProxy({
      ca,
      acl: ACL,
      upstream: "http://127.0.0.1:9",
      extra: { outbound: [{ listen: "127.0.0.1:0", upstream: `https://127.0.0.1:${callee.port}`, serverName: "localhost", expect: ["OU=sidecar"] }] },
    });
    const outboundPort = [...caller.guardpost.addresses.outbound.values()][0]!.port;
    const client = insecureClient(outboundPort);
    const { response, error, trailing } = await say(client, "via outbound");
    expect(error).toBeUndefined();
    // The callee's sidecar added its XFCC naming the caller's sidecar certificate.
    expect(response!.text).toMatch(/^echo: via outbound; xfcc: Hash=[0-9a-f]{64};Subject="[^"]*OU=sidecar/);
    expect(trailing?.get("x-trailer")).toEqual(["from-upstream"]);
    // Streaming works the same way.
    expect(await chatThree(client)).toEqual(["re: m0", "re: m1", "re: m2"]);
    expect(caller.logs.find({ msg: "request", protocol: "grpc", path: "/guardpost.test.v1.Echo/Say" }).length).toBe(1);
    expect(callee.logs.find({ msg: "request", protocol: "grpc", path: "/guardpost.test.v1.Echo/Say", decision: "allow" }).length).toBe(1);
  });
});

/** One gRPC request over a plain node:http2 client with a client certificate: what came back, frame by frame. */
async function rawGrpcCall(port: number, path: string, extra: Record<string, string>): Promise<{ status: number; trailersOnly: boolean; grpcStatus?: string; grpcMessage?: string }> {
  const session = connect(`https://localhost:${port}`, { ca: ca.cert, cert: web.chain, key: web.key });
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...extra });
      stream.on("response", (headers, flags) => {
        const trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        const status = Number(headers[":status"]);
        if (trailersOnly) resolve({ status, trailersOnly, grpcStatus: String(headers["grpc-status"]), grpcMessage: decodeURI(String(headers["grpc-message"])) });
        stream.on("trailers", (t) => resolve({ status, trailersOnly, grpcStatus: String(t["grpc-status"]), grpcMessage: decodeURI(String(t["grpc-message"])) }));
      });
      stream.on("error", reject);
      stream.resume();
      // An empty Message: no compression flag, zero length.
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  } finally {
    session.close();
  }
}
