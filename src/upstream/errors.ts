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

const CONNECT_ERRORS: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ENOENT", "EACCES", "ECONNABORTED"]);
const RESET_ERRORS: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_DESTROYED"]);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamIdentityError) return { code: "GP_ERR_UPSTREAM_TLS", kind: "identity", reason: err.message };
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
