/**
 * Refusing a client whose certificate is missing or fails verification, so
 * that it learns why.
 *
 * What Node allows (Node 20 and 24): a TLS server cannot fail the handshake
 * over a client certificate with the alert OpenSSL would send
 * (certificate_expired, unknown_ca, ...). Node installs its own OpenSSL
 * verify callback, which accepts every chain and records the result; the
 * verdict is visible only after the handshake, as `socket.authorized` and
 * `authorizationError`, and the public API has no verify hook and no way to
 * send an alert. With `rejectUnauthorized: true` Node then destroys the
 * socket: the client sees a completed handshake (TLS 1.3) or a handshake cut
 * off (TLS 1.2), then a reset when its request bytes are still unread.
 *
 * So the inbound listener asks for a certificate without letting Node reject
 * (`rejectUnauthorized: false`) and judges `socket.authorized` itself, in the
 * one place a connection passes before HTTP is attached; a refused
 * connection is never handed to HTTP, so no request on it can reach the ACL
 * or the upstream. Here it gets, instead of a reset, a fixed answer that
 * names the alert a TLS server would have sent and the reason: an HTTP/1.1
 * 403 written at once (nothing the client sends is parsed), or, to a client
 * that chose h2, a 403 on its first stream (a gRPC call gets grpc-status 16,
 * UNAUTHENTICATED) from a session that serves nothing else. Then close_notify
 * and FIN; what the client still sends is read and dropped, so the close is
 * not a reset. A client without a certificate gets the same (with
 * rejectUnauthorized false OpenSSL no longer fails that handshake with
 * certificate_required).
 */
import type { X509Certificate } from "node:crypto";
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { answerInfo } from "../errors.js";
import { grpcMessage } from "../http/grpc-message.js";
import { verifyReason } from "./handshake-failure.js";

/** How long a refused connection is kept for the client to read its answer and close; then it is destroyed. */
const LINGER_MS = 2_000;
/** When a refused HTTP/1.1 client sends nothing, its connection is closed after this (see answerRefusal). */
const CLOSE_AFTER_MS = 200;

/**
 * OpenSSL's choice of alert for a verification error (ssl_verify_alarm_type
 * in ssl/statem/statem_lib.c), named as RFC 8446 section 6.2 names them.
 */
const ALERTS: ReadonlyMap<string, string> = new Map([
  ["CERT_HAS_EXPIRED", "certificate_expired"],
  ["CERT_NOT_YET_VALID", "bad_certificate"],
  ["CERT_REVOKED", "certificate_revoked"],
  ["INVALID_PURPOSE", "unsupported_certificate"],
  ["UNABLE_TO_GET_ISSUER_CERT", "unknown_ca"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unknown_ca"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unknown_ca"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "unknown_ca"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "unknown_ca"],
  ["CERT_UNTRUSTED", "unknown_ca"],
  ["UNABLE_TO_GET_CRL", "unknown_ca"],
  ["CERT_SIGNATURE_FAILURE", "decrypt_error"],
  ["CRL_SIGNATURE_FAILURE", "decrypt_error"],
  ["CRL_HAS_EXPIRED", "bad_certificate"],
  ["CRL_NOT_YET_VALID", "bad_certificate"],
  ["CERT_REJECTED", "bad_certificate"],
]);

/** What a refused client certificate says about itself, for the log line (never its PEM). */
export interface PresentedCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notAfter: string;
}

export interface Refusal {
  /** The metric's reason: no_certificate, expired, untrusted, revoked, bad_key_usage, ... */
  readonly reason: string;
  /** Node's verification code, e.g. CERT_HAS_EXPIRED. */
  readonly detail: string;
  /** The TLS alert an OpenSSL server would have sent. */
  readonly alert: string;
  /** What is wrong, in words, for the client and the log. */
  readonly message: string;
  /** Null when the client presented no certificate. */
  readonly presented: PresentedCertificate | null;
}

/** Why this accepted TLS connection must be refused, or null when its client certificate verified. */
export function clientCertificateRefusal(socket: TLSSocket): Refusal | null {
  if (socket.authorized) return null;
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) {
    return { reason: "no_certificate", detail: "NO_CERTIFICATE", alert: "certificate_required", message: "no client certificate was presented; guardpost requires one from a CA it trusts", presented: null };
  }
  const detail = String(socket.authorizationError ?? "CERT_REJECTED");
  const presented = describe(cert);
  return { reason: verifyReason(detail), detail, alert: ALERTS.get(detail) ?? "certificate_unknown", message: explain(detail, presented), presented };
}

function describe(cert: X509Certificate): PresentedCertificate {
  const line = (name: string) => name.split("\n").filter((part) => part !== "").join(", ");
  return { subject: line(cert.subject), issuer: line(cert.issuer), serial: cert.serialNumber.toUpperCase(), notAfter: new Date(cert.validTo).toISOString() };
}

function explain(detail: string, cert: PresentedCertificate): string {
  switch (detail) {
    case "CERT_HAS_EXPIRED":
      return `the client certificate (${cert.subject}) expired at ${cert.notAfter}`;
    case "CERT_NOT_YET_VALID":
      return `the client certificate (${cert.subject}) is not valid yet`;
    case "CERT_REVOKED":
      return `the client certificate (${cert.subject}, serial ${cert.serial}) is revoked by guardpost's CRL`;
    case "INVALID_PURPOSE":
      return `the client certificate (${cert.subject}) is not for client authentication: its extended key usage lacks clientAuth`;
    default:
      return ALERTS.get(detail) === "unknown_ca"
        ? `the client certificate (${cert.subject}, issued by ${cert.issuer}) does not chain to a CA guardpost trusts (${detail})`
        : `the client certificate (${cert.subject}) failed verification (${detail})`;
  }
}

/**
 * Answers a refused connection (see above) and closes it. The socket must
 * not have been handed to HTTP: this is its only reader from now on.
 */
export function answerRefusal(socket: TLSSocket, refusal: Refusal): void {
  const info = answerInfo("GP_ERR_PEER_REFUSED");
  const body = `${JSON.stringify({ error: info.name, alert: refusal.alert, reason: refusal.message })}\n`;
  socket.on("error", () => undefined);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once("close", () => clearTimeout(linger));
  if (socket.alpnProtocol === "h2") {
    refusalSessions().emit("connection", Object.assign(socket, { [REFUSAL]: { body, refusal } }));
    return;
  }
  socket.write(`HTTP/1.1 ${info.httpStatus} Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  // The close waits for the client's first bytes (its request), or a moment: measured with OpenSSL 3 as the
  // client, a TLS 1.3 connection ended in the same tick as its handshake reaches the client without
  // close_notify ("unexpected eof"), one ended after the client's first record does not.
  const close = () => socket.end();
  const soon = setTimeout(close, CLOSE_AFTER_MS);
  soon.unref();
  socket.once("data", () => {
    clearTimeout(soon);
    setImmediate(close);
  });
  // Read and drop whatever the client sends: unread bytes would turn the close into a reset.
  socket.resume();
}

const REFUSAL = Symbol("guardpost.refusal");

let sessions: Http2Server | undefined;

/** One HTTP/2 server for refused h2 connections: it answers the first stream of each and serves nothing else. */
function refusalSessions(): Http2Server {
  if (sessions !== undefined) return sessions;
  const server = createHttp2Server({ settings: { maxConcurrentStreams: 1, maxHeaderListSize: 16 * 1024, enablePush: false }, maxSessionInvalidFrames: 10 });
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", () => undefined);
    const socket = stream.session?.socket as (TLSSocket & { [REFUSAL]?: { body: string; refusal: Refusal } }) | undefined;
    const answer = socket?.[REFUSAL];
    const info = answerInfo("GP_ERR_PEER_REFUSED");
    if (answer === undefined) {
      stream.close();
      return;
    }
    if (String(headers["content-type"] ?? "").startsWith("application/grpc")) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(info.grpcStatus), "grpc-message": grpcMessage(`${answer.refusal.alert}: ${answer.refusal.message}`) }, { endStream: true });
    } else {
      stream.respond({ ":status": info.httpStatus, "content-type": "application/json" });
      stream.end(answer.body);
    }
    stream.session?.close();
  });
  server.on("sessionError", () => undefined);
  sessions = server;
  return server;
}
