/**
 * What goes over the wire in every scenario, in one place: the upstream, the
 * bare TLS server, the checks and the load generators all read it from here.
 */

/** The upstream's answer to any GET; the bare TLS server answers with the same bytes. */
export const SMALL_BODY = '{"ok":true,"from":"upstream"}\n';

export const PATHS = Object.freeze({
  /** allowed for OU=web with GET */
  small: "/small",
  /** allowed for OU=web with POST */
  upload: "/upload",
  /** granted to OU=ops only: OU=web is refused with 403 */
  admin: "/admin",
});

/** OU of the client certificate every load generator presents; OTHER_OU is refused everywhere. */
export const CLIENT_OU = "web";
export const OTHER_OU = "marketing";

export const POST_BYTES = 64 * 1024;

/**
 * Paths of the 10,000-entry ACL: /svc/00000 ... /svc/09999.
 * @param {number} i
 */
export function bigAclPath(i) {
  return `/svc/${String(i).padStart(5, "0")}`;
}
export const BIG_ACL_SIZE = 10_000;

/** gRPC method paths (test/fixtures/grpc/echo.proto): Say is the timed call, granted to OU=web. */
export const GRPC_PATHS = Object.freeze({
  say: "/guardpost.test.v1.Echo/Say",
  /** granted to OU=ops only: OU=web is refused with status 7 PERMISSION_DENIED */
  denied: "/guardpost.test.v1.Echo/Chat",
});

/** WebSocket paths (ws-echo): the echo service answers any path; the proxies decide. */
export const WS_PATHS = Object.freeze({
  /** a WebSocket handshake is decided as a GET (the README's "WebSocket"): allowed for OU=web */
  echo: "/ws/echo",
  /** granted to OU=ops only: OU=web is refused with 403 */
  denied: "/ws/admin",
});

/** The message each tunnel sends and gets back: small, like a chat or telemetry frame. */
export const WS_MESSAGE = "bench-message-0123456789abcdef0123456789abcdef";
