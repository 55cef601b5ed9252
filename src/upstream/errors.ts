/**
 * What went wrong with an upstream, in the terms users see: a status (502 for
 * unreachable or reset, 504 for timeouts), an `error` name in the JSON body,
 * and a `kind` label for guardpost_upstream_errors_total.
 */
import type { AnswerCode } from "../errors.js";

export type UpstreamErrorKind = "connect" | "connect_timeout" | "timeout" | "reset" | "protocol" | "tls" | "identity" | "other";

export interface UpstreamFailure {
  readonly code: AnswerCode;
  readonly kind: UpstreamErrorKind;
  /** A short reason for the response body and the log; never certificate or key content. */
  readonly reason: string;
}

/** Raised by an outbound connector when the server's certificate does not match `expect`; nothing has been sent. */
export class UpstreamIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamIdentityError";
  }
}

/** An HTTP/2 upstream did not connect, answer or go on answering in time (undici raises its own codes for HTTP/1.1). */
export class UpstreamTimeoutError extends Error {
  constructor(readonly phase: "connect" | "headers" | "body") {
    super(`the upstream timed out (${phase})`);
    this.name = "UpstreamTimeoutError";
  }
}

/** An HTTP/2 upstream reset the stream (RST_STREAM) or closed the session before the answer was complete. */
export class UpstreamResetError extends Error {
  constructor(readonly rstCode: number | undefined) {
    super(`the upstream reset the stream${rstCode === undefined ? "" : ` (RST_STREAM code ${rstCode})`}`);
    this.name = "UpstreamResetError";
  }
}

/** A request that needs HTTP/2 (a gRPC call) met an upstream that chose HTTP/1.1. */
export class UpstreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamProtocolError";
  }
}

const CONNECT_ERRORS: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ENOENT", "EACCES", "ECONNABORTED"]);
const RESET_ERRORS: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_INVALID_SESSION",
]);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamIdentityError) return { code: "GP_ERR_UPSTREAM_TLS", kind: "identity", reason: err.message };
  if (err instanceof UpstreamTimeoutError) {
    if (err.phase === "connect") return { code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "connect_timeout", reason: "connecting to the upstream timed out" };
    return { code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "timeout", reason: err.phase === "headers" ? "the upstream did not send response headers in time" : "the upstream stalled while sending the response body" };
  }
  if (err instanceof UpstreamProtocolError) return { code: "GP_ERR_GRPC_UPSTREAM", kind: "protocol", reason: err.message };
  if (err instanceof UpstreamResetError) return { code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "reset", reason: err.message };
  const error = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = error?.code ?? error?.cause?.code ?? "";
  if (code === "UND_ERR_CONNECT_TIMEOUT") return { code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "connect_timeout", reason: "connecting to the upstream timed out" };
  if (code === "UND_ERR_HEADERS_TIMEOUT") return { code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "timeout", reason: "the upstream did not send response headers in time" };
  if (code === "UND_ERR_BODY_TIMEOUT") return { code: "GP_ERR_UPSTREAM_TIMEOUT", kind: "timeout", reason: "the upstream stalled while sending the response body" };
  if (CONNECT_ERRORS.has(code)) return { code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "connect", reason: `cannot connect to the upstream (${code})` };
  if (RESET_ERRORS.has(code)) return { code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "reset", reason: "the upstream closed or reset the connection" };
  if (code.startsWith("HPE_") || code === "UND_ERR_INFO" || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH") {
    return { code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "protocol", reason: "the upstream sent an invalid HTTP response" };
  }
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code === "DEPTH_ZERO_SELF_SIGNED_CERT" || /CERT|UNABLE_TO_/.test(code)) {
    // Node's TLS messages name the mismatch ("Host: x. is not in the cert's altnames: DNS:y"), never key material.
    return { code: "GP_ERR_UPSTREAM_TLS", kind: "tls", reason: `TLS verification of the upstream failed: ${(error.message ?? "").split("\n")[0]} (${code})` };
  }
  return { code: "GP_ERR_UPSTREAM_UNREACHABLE", kind: "other", reason: `the upstream request failed${code ? ` (${code})` : ""}` };
}
