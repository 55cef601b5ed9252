/**
 * Why an inbound handshake was refused, as a small fixed set of reasons for
 * guardpost_tls_handshake_failures_total{reason} plus the library's detail
 * for the log. Node sends no alert for an untrusted client certificate; the
 * socket's authorizationError is the only place the verification result is
 * visible.
 */

const VERIFY_REASONS: ReadonlyMap<string, string> = new Map([
  ["CERT_HAS_EXPIRED", "expired"],
  ["CERT_NOT_YET_VALID", "not_yet_valid"],
  ["CERT_REVOKED", "revoked"],
  ["INVALID_PURPOSE", "bad_key_usage"],
  ["UNABLE_TO_GET_CRL", "crl"],
  ["UNABLE_TO_GET_CRL_ISSUER", "crl"],
  ["CRL_HAS_EXPIRED", "crl"],
  ["CRL_NOT_YET_VALID", "crl"],
  ["CRL_SIGNATURE_FAILURE", "crl"],
  ["UNABLE_TO_GET_ISSUER_CERT", "untrusted"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "untrusted"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "untrusted"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "untrusted"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "untrusted"],
  ["CERT_SIGNATURE_FAILURE", "untrusted"],
  ["CERT_CHAIN_TOO_LONG", "untrusted"],
  ["CERT_UNTRUSTED", "untrusted"],
  ["CERT_REJECTED", "untrusted"],
]);

const TLS_ERROR_REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/, "no_certificate"],
  [/UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER|PROTOCOL_VERSION|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW/, "protocol_version"],
  [/NO_SHARED_CIPHER|NO_SHARED_GROUPS|NO_SUITABLE_SIGNATURE/, "no_shared_cipher"],
  // RFC 7301 section 3.2: the client offered only ALPN protocols guardpost does not speak; alert 120.
  [/NO_APPLICATION_PROTOCOL/, "no_application_protocol"],
  [/HTTP_REQUEST|HTTPS_PROXY_REQUEST/, "not_tls"],
  [/ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|DECRYPT_ERROR)/, "client_rejected_server"],
  [/RENEGOTIATION|NO_RENEGOTIATION/, "renegotiation"],
  [/HANDSHAKE_TIMEOUT/, "timeout"],
];

export interface HandshakeFailure {
  readonly reason: string;
  readonly detail: string;
}

export function handshakeFailure(error: Error & { code?: string }, authorizationError: unknown): HandshakeFailure {
  if (authorizationError) {
    const code = String((authorizationError as { code?: string }).code ?? authorizationError);
    return { reason: VERIFY_REASONS.get(code) ?? "verify_failed", detail: code };
  }
  const code = error.code ?? "";
  for (const [pattern, reason] of TLS_ERROR_REASONS) if (pattern.test(code) || pattern.test(error.message)) return { reason, detail: code || error.message };
  if (code === "ECONNRESET" || code === "EPIPE") return { reason: "client_closed", detail: code };
  return { reason: "other", detail: code || error.message.split("\n")[0]! };
}
