/**
 * guardpost's own responses: a status and a small JSON body of one shape,
 * `{"error":..., "method":..., "path":..., "requestId":...}` (plus `reason`
 * where it helps the caller and reveals nothing about the policy).
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ERROR_CODES, type ErrorCode } from "../errors.js";

/** The `error` field of each response guardpost itself sends. */
const ERROR_NAMES: Partial<Record<ErrorCode, string>> = {
  GP_ERR_BAD_REQUEST: "bad_request",
  GP_ERR_FORBIDDEN: "forbidden",
  GP_ERR_PEER_EXPIRED: "certificate_expired",
  GP_ERR_NOT_FOUND: "not_found",
  GP_ERR_HEADERS_TOO_LARGE: "headers_too_large",
  GP_ERR_REQUEST_TIMEOUT: "request_timeout",
  GP_ERR_UPSTREAM_UNREACHABLE: "upstream_unreachable",
  GP_ERR_UPSTREAM_TLS: "upstream_unverified",
  GP_ERR_UPSTREAM_TIMEOUT: "upstream_timeout",
};

export function errorName(code: ErrorCode): string {
  return ERROR_NAMES[code] ?? "internal_error";
}

export function errorBody(code: ErrorCode, method: string, path: string, requestId: string, reason?: string): string {
  let body = `{"error":"${errorName(code)}","method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"requestId":${JSON.stringify(requestId)}`;
  if (reason !== undefined) body += `,"reason":${JSON.stringify(reason)}`;
  return `${body}}`;
}

/** Answers a request with guardpost's own error; returns the status sent. */
export function sendError(res: ServerResponse, code: ErrorCode, method: string, path: string, requestId: string, reason?: string, close = false): number {
  const status = ERROR_CODES[code].httpStatus;
  const body = errorBody(code, method, path, requestId, reason);
  if (close) res.shouldKeepAlive = false;
  res.writeHead(status, ["content-type", "application/json", "content-length", String(Buffer.byteLength(body)), "x-request-id", requestId]);
  res.end(body);
  return status;
}

/**
 * Whether `socket` can carry an HTTP answer now. Not when it is a TLS socket
 * whose handshake never completed (https.Server routes a handshake timeout
 * to `clientError` too; the bytes would wait for the handshake forever and
 * the connection with them), nor when a response on it has already sent its
 * head (a request timeout while the upstream's answer streams): a second
 * status line there would corrupt that response. Node's own clientError
 * default makes the same response check.
 */
function canAnswer(socket: Socket): boolean {
  if (!socket.writable) return false;
  // Documented: null until a TLS handshake has completed, then false or the protocol.
  if ("alpnProtocol" in socket && (socket as TLSSocket).alpnProtocol === null) return false;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return inFlight?.headersSent !== true;
}

/**
 * For errors Node's HTTP parser raises before there is a request object
 * (malformed request, headers too large): a complete HTTP/1.1 response
 * written to the socket, which is then closed. A socket that cannot carry
 * one (see `canAnswer`) is closed without it.
 */
export function sendRawError(socket: Socket, code: ErrorCode, requestId: string, reason: string): number {
  const status = ERROR_CODES[code].httpStatus;
  const body = errorBody(code, "", "", requestId, reason);
  const statusText = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" }[status] ?? "Error";
  if (!canAnswer(socket)) {
    socket.destroy();
    return status;
  }
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon?.();
  return status;
}
