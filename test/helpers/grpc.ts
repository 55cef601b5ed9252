/**
 * gRPC through guardpost with the real grpc-js: a server on h2c (how gRPC
 * services listen behind a sidecar) and clients that present a client
 * certificate to guardpost.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { onCleanup } from "./cleanup.js";
import type { CertificateAuthority, IssuedCertificate } from "./pki.js";

const PROTO = fileURLToPath(new URL("../fixtures/grpc/echo.proto", import.meta.url));

export interface EchoMessage {
  text: string;
}

/** The generated Echo client's methods, as the tests use them. */
export interface EchoClient extends grpc.Client {
  Say(request: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: EchoMessage) => void): grpc.ClientUnaryCall;
  Repeat(request: EchoMessage, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoMessage>;
  Collect(metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: EchoMessage) => void): grpc.ClientWritableStream<EchoMessage>;
  Chat(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
}

type EchoConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient;

function echoService(): { service: grpc.ServiceDefinition; Client: EchoConstructor } {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { guardpost: { test: { v1: { Echo: EchoConstructor & { service: grpc.ServiceDefinition } } } } };
  const Echo = loaded.guardpost.test.v1.Echo;
  return { service: Echo.service, Client: Echo };
}

export type EchoHandlers = grpc.UntypedServiceImplementation;

/** An Echo server on h2c 127.0.0.1, with `handlers` over the default echoing ones. */
export async function startGrpcServer(handlers: Partial<EchoHandlers> = {}): Promise<{ port: number; server: grpc.Server; url: string }> {
  const server = new grpc.Server();
  const defaults: EchoHandlers = {
    Say: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      const trailer = new grpc.Metadata();
      trailer.set("x-trailer", "from-upstream");
      const initial = new grpc.Metadata();
      initial.set("x-initial", "from-upstream");
      call.sendMetadata(initial);
      callback(null, { text: `echo: ${call.request.text}; xfcc: ${String(call.metadata.get("x-forwarded-client-cert")[0] ?? "")}` }, trailer);
    },
    Repeat: (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
      for (let i = 0; i < 3; i++) call.write({ text: `${call.request.text} #${i}` });
      call.end();
    },
    Collect: (call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      const texts: string[] = [];
      call.on("data", (m: EchoMessage) => texts.push(m.text));
      call.on("end", () => callback(null, { text: texts.join(",") }));
    },
    Chat: (call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) => {
      call.on("data", (m: EchoMessage) => call.write({ text: `re: ${m.text}` }));
      call.on("end", () => call.end());
    },
  };
  server.addService(echoService().service, { ...defaults, ...handlers } as EchoHandlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
  onCleanup(() => server.forceShutdown());
  return { port, server, url: `h2c://127.0.0.1:${port}` };
}

/** An Echo client to guardpost at `port`, presenting `cert` (issued by `ca`, which also signed guardpost's certificate). */
export function grpcClient(ca: CertificateAuthority, cert: IssuedCertificate, port: number): EchoClient {
  const credentials = grpc.credentials.createSsl(Buffer.from(ca.cert), Buffer.from(cert.key), Buffer.from(cert.chain));
  const client = new (echoService().Client)(`localhost:${port}`, credentials);
  onCleanup(() => client.close());
  return client;
}

/** An Echo client speaking h2c without TLS (a local service calling an outbound listener at `port`). */
export function insecureClient(port: number): EchoClient {
  const client = new (echoService().Client)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  onCleanup(() => client.close());
  return client;
}

/** A unary Say call as a promise: the answer, or the gRPC error. */
export function say(client: EchoClient, text: string, options: grpc.CallOptions = {}, metadata = new grpc.Metadata()): Promise<{ response?: EchoMessage; error?: grpc.ServiceError; initial?: grpc.Metadata; trailing?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let initial: grpc.Metadata | undefined;
    let trailing: grpc.Metadata | undefined;
    const call = client.Say({ text }, metadata, options, (error, response) => {
      // The status (with trailing metadata) arrives after the callback in some grpc-js versions; wait a tick.
      setImmediate(() => resolve({ ...(error ? { error } : { response }), initial, trailing }));
    });
    call.on("metadata", (m) => {
      initial = m;
    });
    call.on("status", (s) => {
      trailing = s.metadata;
    });
  });
}

/** A bidirectional Chat of three turns, each message sent after the previous reply: the replies. */
export function chatThree(client: EchoClient): Promise<string[]> {
  const replies: string[] = [];
  return new Promise((resolve, reject) => {
    const chat = client.Chat();
    chat.on("data", (m: EchoMessage) => {
      replies.push(m.text);
      if (replies.length < 3) chat.write({ text: `m${replies.length}` });
      else chat.end();
    });
    chat.on("end", () => resolve(replies));
    chat.on("error", reject);
    chat.write({ text: "m0" });
  });
}

export { grpc };
