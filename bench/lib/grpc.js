/**
 * gRPC for the bench: the Echo service of test/fixtures/grpc/echo.proto (the
 * one the gRPC tests use), its unary method as the timed call, and clients
 * that present the run's client certificate.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PROTO = fileURLToPath(new URL("../../test/fixtures/grpc/echo.proto", import.meta.url));

/** @typedef {{ text: string }} EchoMessage the Echo service's request and response */

/**
 * A generated Echo client: Say is the unary method the bench times.
 * @typedef {grpc.Client & { Say(message: EchoMessage, callback: grpc.requestCallback<EchoMessage>): grpc.ClientUnaryCall }} EchoClient
 */

/**
 * The generated constructor, and the method definitions (for calls by path).
 * @typedef {{ new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>): EchoClient, service: grpc.ServiceDefinition }} EchoConstructor
 */

/**
 * The result of one unary call.
 * @typedef {{ error: grpc.ServiceError | null, response: EchoMessage | undefined, upstream: boolean }} UnaryReply
 */

/** @type {EchoConstructor | undefined} */
let echo;
/**
 * The Echo service definition and client constructor, loaded once.
 * @returns {EchoConstructor}
 */
export function echoService() {
  if (!echo) {
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true }));
    // the package path is echo.proto's `package guardpost.test.v1`
    const v1 = /** @type {grpc.GrpcObject} */ (/** @type {grpc.GrpcObject} */ (/** @type {grpc.GrpcObject} */ (loaded.guardpost).test).v1);
    // loadPackageDefinition's types do not know the methods; EchoClient names the one the bench calls
    echo = /** @type {EchoConstructor} */ (/** @type {unknown} */ (v1.Echo));
  }
  return echo;
}

/**
 * A client on its own channel: grpc-js shares one connection between clients
 * of the same target and options unless each has a local subchannel pool, so
 * N clients are N TLS connections only with that option.
 * @param {import("./load.js").Target} target
 * @param {import("./load.js").ClientTls} tls
 * @returns {EchoClient}
 */
export function echoClient(target, tls) {
  const credentials =
    tls.cert && tls.key
      ? grpc.credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert))
      : grpc.credentials.createSsl(Buffer.from(tls.ca));
  const Echo = echoService();
  // the server certificate names localhost and 127.0.0.1; an IP as SNI is not allowed (RFC 6066)
  return new Echo(`${target.host}:${target.port}`, credentials, { "grpc.use_local_subchannel_pool": 1, "grpc.ssl_target_name_override": "localhost" });
}

/**
 * One unary call by path: {response, error, upstream (the x-upstream metadata was seen)}.
 * @param {grpc.Client} client
 * @param {string} path
 * @param {string} text
 * @returns {Promise<UnaryReply>}
 */
export function unaryCall(client, path, text, deadlineMs = 5000) {
  const say = echoService().service.Say;
  return new Promise((resolve) => {
    let upstream = false;
    /** @param {grpc.Metadata | undefined} metadata */
    const seen = (metadata) => {
      if (metadata && metadata.get("x-upstream").length > 0) upstream = true;
    };
    const call = client.makeUnaryRequest(
      path,
      /** @param {EchoMessage} m */ (m) => say.requestSerialize(m),
      /** @returns {EchoMessage} */ (b) => say.responseDeserialize(b),
      { text },
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => setImmediate(() => resolve({ error, response, upstream })),
    );
    call.on("metadata", seen);
    call.on("status", (s) => seen(s.metadata));
  });
}

/**
 * Resolves once the client's channel is connected, or rejects after `ms`.
 * @param {grpc.Client} client
 * @returns {Promise<void>}
 */
export function waitReady(client, ms = 5000) {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + ms, (error) => (error ? reject(error) : resolve())));
}

export { grpc };
