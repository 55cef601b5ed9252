/**
 * The gRPC service behind the grpc-unary contenders: grpc-js on h2c (how a
 * gRPC service listens behind a sidecar), in its own process on the load
 * generator's CPU. Say echoes the text; every answer carries `x-upstream: 1`
 * in its initial metadata, so a check can tell a proxy's own refusal from one
 * that reached the service.
 *
 * argv[2]: JSON {"host": "127.0.0.1", "port": 50051}
 */
import { echoService, grpc } from "../lib/grpc.js";

const { host, port } = JSON.parse(process.argv[2] ?? "{}");
const marked = () => {
  const initial = new grpc.Metadata();
  initial.set("x-upstream", "1");
  return initial;
};
/** @typedef {import("../lib/grpc.js").EchoMessage} EchoMessage */
// The other methods only answer, marked, so that a call a proxy should have refused shows it was forwarded.
/** @param {grpc.ServerWritableStream<EchoMessage, EchoMessage> | grpc.ServerDuplexStream<EchoMessage, EchoMessage>} call */
const ended = (call) => {
  call.sendMetadata(marked());
  call.end();
};
const server = new grpc.Server();
/** @type {grpc.UntypedServiceImplementation} */
const handlers = {
  /**
   * @param {grpc.ServerUnaryCall<EchoMessage, EchoMessage>} call
   * @param {grpc.sendUnaryData<EchoMessage>} callback
   */
  Say(call, callback) {
    call.sendMetadata(marked());
    callback(null, { text: call.request.text });
  },
  Repeat: ended,
  /**
   * @param {grpc.ServerReadableStream<EchoMessage, EchoMessage>} _call
   * @param {grpc.sendUnaryData<EchoMessage>} callback
   */
  Collect: (_call, callback) => callback(null, { text: "" }, marked()),
  Chat: ended,
};
server.addService(echoService().service, handlers);
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    process.stderr.write(`grpc-upstream: cannot listen on ${host}:${port}: ${error.message}\n`);
    process.exit(1);
  }
});
process.on("SIGTERM", () => process.exit(0));
