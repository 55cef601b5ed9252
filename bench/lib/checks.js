/**
 * Before anything is timed, each contender must answer correctly: the right
 * status and body for allowed calls, 403 (not forwarded) for denied ones, and
 * no service at all without a client certificate. A contender that fails is
 * skipped with the reason instead of being timed doing the wrong thing.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { h2Session, wsConnect } from "./load.js";
import { GRPC_PATHS, PATHS, POST_BYTES, SMALL_BODY, WS_MESSAGE, WS_PATHS } from "./wire.js";

/** @typedef {import("./load.js").Target} Target */
/** @typedef {import("./pki.js").Pki} Pki */

/**
 * An answer over HTTP/1.1 or HTTP/2 (whose headers carry ":status" too).
 * @typedef {{ status: number, headers: import("node:http").IncomingHttpHeaders, body: string, error?: undefined }
 *   | { error: NodeJS.ErrnoException }} Reply
 */

/**
 * One HTTP/1.1 request on a fresh connection. Resolves {status, headers, body} or {error}.
 * @param {Target} target
 * @param {{ method?: string, path: string, body?: Buffer, tls: import("./load.js").ClientTls }} request
 * @returns {Promise<Reply>}
 */
export function fetchOnce(target, { method = "GET", path, body, tls }) {
  const send = target.protocol === "https" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        agent: false,
        timeout: 5000,
        headers: body ? { "content-type": "application/octet-stream", "content-length": body.length } : {},
        ...(target.protocol === "https" ? tls : {}),
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        // a response to a client request always has a status code
        res.on("end", () => resolve({ status: /** @type {number} */ (res.statusCode), headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (error) => resolve({ error }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
    req.on("error", (error) => resolve({ error }));
    req.end(body);
  });
}

/**
 * One GET over a fresh HTTP/2 session (ALPN h2). Resolves {status, headers, body} or {error}.
 * @param {Target} target
 * @param {{ path: string, tls: import("./load.js").ClientTls }} request
 * @returns {Promise<Reply>}
 */
export async function fetchOnceH2(target, { path, tls }) {
  /** @type {import("node:http2").ClientHttp2Session} */
  let session;
  try {
    session = await h2Session(target, tls);
  } catch (error) {
    return { error: /** @type {NodeJS.ErrnoException} */ (error) };
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => session.destroy(new Error("timed out after 5 s")), 5000);
    const req = session.request({ ":method": "GET", ":path": path }, { endStream: true });
    /** @type {Buffer[]} */
    const chunks = [];
    /** @type {import("node:http2").IncomingHttpHeaders & import("node:http2").IncomingHttpStatusHeader} */
    let headers = {};
    req.on("response", (h) => (headers = h));
    req.on("data", (chunk) => chunks.push(chunk));
    // status 0: the stream ended without a response head
    req.on("end", () => resolve({ status: headers[":status"] ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") }));
    req.on("error", (error) => resolve({ error }));
    // a server that refuses the certificate after a TLS 1.3 handshake ends the session instead
    session.on("close", () => resolve({ error: new Error("session closed before an answer") }));
    req.on("close", () => {
      clearTimeout(timer);
      session.close();
    });
  });
}

/**
 * A WebSocket handshake as a Reply: an open tunnel is status 101 (and is closed here).
 * @param {Target} target
 * @param {{ path: string, tls: import("./load.js").ClientTls }} request
 * @returns {Promise<Reply>}
 */
export async function fetchOnceWs(target, { path, tls }) {
  const h = await wsConnect(target, tls, path);
  if (h.error) return { error: h.error };
  if (h.ws) {
    h.ws.terminate();
    return { status: 101, headers: h.headers, body: "" };
  }
  return { status: h.status, headers: h.headers, body: h.body };
}

/** @param {Reply} res */
function describe(res) {
  if (res.error) return `error ${res.error.code ?? res.error.message}`;
  return `${res.status} ${JSON.stringify(res.body.slice(0, 80))}`;
}

/**
 * null when `res` is a 200 with exactly `body`, else what was wrong.
 * @param {string} what
 * @param {Reply} res
 * @param {string} body
 */
function expectOk(what, res, body) {
  if (!res.error && res.status === 200 && res.body === body) return null;
  return `${what}: expected 200 ${JSON.stringify(body.slice(0, 80))}, got ${describe(res)}`;
}

/**
 * null when `res` is a 403 produced by the proxy itself (the upstream never answered).
 * @param {string} what
 * @param {Reply} res
 */
function expectDenied(what, res) {
  if (!res.error && res.status === 403 && res.headers["x-upstream"] === undefined) return null;
  if (!res.error && res.status === 403) return `${what}: the 403 came from the upstream, so the request was forwarded`;
  return `${what}: expected 403 from the proxy, got ${describe(res)}`;
}

/**
 * Checks every contender passes once, right after it starts (over HTTP/2, or
 * as WebSocket handshakes, for a contender that speaks only that).
 * @param {Target} target
 * @param {{ tls: boolean, acl: boolean, speaks?: string[] }} contender
 * @param {Pki} pki
 */
export async function admissionCheck(target, contender, pki) {
  const speaks = contender.speaks ?? ["http1"];
  const get = speaks.includes("http1") ? fetchOnce : speaks.includes("h2") ? fetchOnceH2 : fetchOnceWs;
  if (contender.tls) {
    const anonymous = await get(target, { path: PATHS.small, tls: pki.anonymous });
    // nginx completes the handshake and answers 400; the others refuse the handshake.
    if (!anonymous.error && (anonymous.status < 400 || anonymous.headers["x-upstream"] !== undefined)) {
      return `a client without a certificate was served: ${describe(anonymous)}`;
    }
  }
  if (contender.acl) {
    const other = await get(target, { path: PATHS.small, tls: pki.other });
    const failure = expectDenied("GET /small as OU=marketing", other);
    if (failure) return failure;
  }
  return null;
}

/** Each resolves null when the contender answered right, else what was wrong. */
export const expectations = {
  /** @param {Target} target @param {Pki} pki */
  async small(target, pki) {
    return expectOk("GET /small", await fetchOnce(target, { path: PATHS.small, tls: pki.client }), SMALL_BODY);
  },
  /** @param {Target} target @param {Pki} pki */
  async upload(target, pki) {
    const body = Buffer.alloc(POST_BYTES, 0x61);
    const res = await fetchOnce(target, { method: "POST", path: PATHS.upload, body, tls: pki.client });
    return expectOk("POST /upload 64 KB", res, `{"received":${POST_BYTES}}\n`);
  },
  /** @param {Target} target @param {Pki} pki */
  async denied(target, pki) {
    return expectDenied("GET /admin as OU=web", await fetchOnce(target, { path: PATHS.admin, tls: pki.client }));
  },
  /**
   * Every path the load will cycle through is served, and a path outside the ACL is not.
   * @param {Target} target
   * @param {Pki} pki
   * @param {string[]} paths
   */
  async bigAcl(target, pki, paths) {
    for (const path of paths) {
      const failure = expectOk(`GET ${path}`, await fetchOnce(target, { path, tls: pki.client }), SMALL_BODY);
      if (failure) return failure;
    }
    return expectDenied("GET /svc/99999 (not in the ACL)", await fetchOnce(target, { path: "/svc/99999", tls: pki.client }));
  },
};

/**
 * A client without a certificate gets no service: a refused handshake, or an answer of 400 or more from the proxy.
 * @param {string} what
 * @param {Reply} res
 */
function expectRefused(what, res) {
  if (res.error || (res.status >= 400 && res.headers["x-upstream"] === undefined)) return null;
  return `${what}: a client without a certificate was served: ${describe(res)}`;
}

/**
 * Over HTTP/2 (ALPN h2): allowed, denied by path, denied by identity, no certificate.
 * @param {Target} target
 * @param {Pki} pki
 */
export async function h2Expectations(target, pki) {
  return (
    expectOk("h2 GET /small", await fetchOnceH2(target, { path: PATHS.small, tls: pki.client }), SMALL_BODY) ??
    expectDenied("h2 GET /admin as OU=web", await fetchOnceH2(target, { path: PATHS.admin, tls: pki.client })) ??
    expectDenied("h2 GET /small as OU=marketing", await fetchOnceH2(target, { path: PATHS.small, tls: pki.other })) ??
    expectRefused("h2 GET /small", await fetchOnceH2(target, { path: PATHS.small, tls: pki.anonymous }))
  );
}

/**
 * gRPC with grpc-js: Say as OU=web answers OK with the text echoed; a method
 * OU=web is not granted, and Say as OU=marketing, end in status 7 without
 * reaching the service; a client without a certificate gets no OK answer.
 * @param {Target} target
 * @param {Pki} pki
 */
export async function grpcExpectations(target, pki) {
  const { echoClient, grpc, unaryCall } = await import("./grpc.js");
  /**
   * @param {import("./load.js").ClientTls} tls
   * @param {string} path
   */
  const call = async (tls, path) => {
    const client = echoClient(target, tls);
    try {
      return await unaryCall(client, path, "check");
    } finally {
      client.close();
    }
  };
  /** @param {import("./grpc.js").UnaryReply} r */
  const show = (r) => (r.error ? `status ${r.error.code} ${JSON.stringify(r.error.details)}` : `OK ${JSON.stringify(r.response)}`);
  const ok = await call(pki.client, GRPC_PATHS.say);
  if (ok.error || ok.response?.text !== "check" || !ok.upstream) return `Say as OU=web: expected OK "check" from the service, got ${show(ok)}`;
  /** @type {[string, import("./load.js").ClientTls, string][]} */
  const refusals = [
    [`${GRPC_PATHS.denied} as OU=web`, pki.client, GRPC_PATHS.denied],
    ["Say as OU=marketing", pki.other, GRPC_PATHS.say],
  ];
  for (const [what, tls, path] of refusals) {
    const r = await call(tls, path);
    if (r.upstream) return `${what}: the call reached the service`;
    if (r.error?.code !== grpc.status.PERMISSION_DENIED) return `${what}: expected status 7 PERMISSION_DENIED, got ${show(r)}`;
  }
  const anonymous = await call(pki.anonymous, GRPC_PATHS.say);
  if (!anonymous.error || anonymous.upstream) return `Say without a client certificate was served: ${show(anonymous)}`;
  return null;
}

/**
 * WebSocket through the proxy: the handshake allowed for OU=web opens (101
 * from the service) and a message comes back as sent; the denied path, and
 * the allowed one as OU=marketing, are 403 from the proxy; a client without a
 * certificate gets no tunnel.
 * @param {Target} target
 * @param {Pki} pki
 */
export async function wsExpectations(target, pki) {
  const open = await wsConnect(target, pki.client, WS_PATHS.echo);
  if (!open.ws) return `WS ${WS_PATHS.echo} as OU=web: expected 101 from the service, got ${open.error ? `error ${open.error.code ?? open.error.message}` : `${open.status} ${JSON.stringify(open.body.slice(0, 80))}`}`;
  const ws = open.ws;
  if (open.headers["x-upstream"] === undefined) {
    ws.terminate();
    return `WS ${WS_PATHS.echo} as OU=web: the 101 did not come from the service`;
  }
  /** @type {string} */
  const echoed = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve("no answer within 5 s"), 5000);
    ws.once("message", (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
    ws.once("close", () => resolve("the tunnel closed"));
    ws.send(WS_MESSAGE);
  });
  ws.terminate();
  if (echoed !== WS_MESSAGE) return `WS ${WS_PATHS.echo} as OU=web: sent ${JSON.stringify(WS_MESSAGE)}, got ${JSON.stringify(echoed)}`;
  return (
    expectDenied(`WS ${WS_PATHS.denied} as OU=web`, await fetchOnceWs(target, { path: WS_PATHS.denied, tls: pki.client })) ??
    expectDenied(`WS ${WS_PATHS.echo} as OU=marketing`, await fetchOnceWs(target, { path: WS_PATHS.echo, tls: pki.other })) ??
    expectRefused(`WS ${WS_PATHS.echo}`, await fetchOnceWs(target, { path: WS_PATHS.echo, tls: pki.anonymous }))
  );
}

/**
 * A resumed connection must still be served as the certificate's identity
 * (the session carries it): connections in a row, each offering the last
 * session, must all get 200. A server that never resumes is still timed
 * (its full handshakes are the cost its clients pay); the table's resumed %
 * column shows it.
 * @param {Target} target
 * @param {Pki} pki
 * @param {import("./load.js").ResumeMode} resume
 */
export async function resumptionCheck(target, pki, resume) {
  const { handshakeRun } = await import("./load.js");
  const run = await handshakeRun(target, { concurrency: 1, duration: 0.3, tls: pki.client, resume });
  if (run.requests === 0 || run.unexpected > 0) return `${run.unexpected} of ${run.requests + run.unexpected} connections were not answered 200`;
  return null;
}
