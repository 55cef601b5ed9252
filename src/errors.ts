/**
 * The one registry of guardpost's error codes. Every error the program raises
 * or sends names one of these codes; the code is stable across releases, the
 * message may improve. There are two kinds:
 *
 * - input errors end a command: the CLI exits with `exitCode`;
 * - answers end a request: a listener answers `httpStatus` with a JSON body
 *   whose `error` field is `name`, or, to a gRPC client, `grpc-status`
 *   `grpcStatus` (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
 */

export interface InputErrorInfo {
  readonly kind: "input";
  readonly exitCode: number;
  readonly description: string;
}

export interface AnswerErrorInfo {
  readonly kind: "answer";
  readonly httpStatus: number;
  /** The `error` field of the JSON body. */
  readonly name: string;
  readonly grpcStatus: number;
  readonly description: string;
}

export type ErrorCodeInfo = InputErrorInfo | AnswerErrorInfo;

/** gRPC status codes guardpost answers with. */
export const GRPC_STATUS = Object.freeze({
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

const input = (description: string) => ({ kind: "input", exitCode: 2, description }) as const;
const answer = (httpStatus: number, name: string, grpcStatus: number, description: string) => ({ kind: "answer", httpStatus, name, grpcStatus, description }) as const;

export const ERROR_CODES = Object.freeze({
  // Input files (YAML syntax and shape), shared by config, ACL and policy-test files.
  GP_ERR_FILE_READ: input("a file could not be read"),
  GP_ERR_YAML_SYNTAX: input("a file is not valid YAML"),
  GP_ERR_YAML_DUPLICATE_KEY: input("a mapping has the same key twice"),
  GP_ERR_YAML_TYPE: input("a value has the wrong type"),
  GP_ERR_YAML_UNKNOWN_KEY: input("a mapping has a key that is not part of the format"),
  GP_ERR_YAML_MISSING_KEY: input("a required key is missing"),

  // ACL language.
  GP_ERR_ACL_VERSION: input("an ACL file has a missing or unsupported version"),
  GP_ERR_ACL_UNKNOWN_ATTRIBUTE: input("a principal names an attribute that is not CN OU O L ST C DNS URI IP EMAIL"),
  GP_ERR_ACL_BAD_PRINCIPAL: input("a principal is not \"*\", ATTR=VALUE, an attribute map or \"@group\""),
  GP_ERR_ACL_UNKNOWN_GROUP: input("a principal refers to a group that is not defined"),
  GP_ERR_ACL_BAD_GROUP: input("a group name is malformed or groups refer to each other in a cycle"),
  GP_ERR_ACL_BAD_METHOD: input("a method is not an HTTP token or \"*\""),
  GP_ERR_ACL_BAD_PATH: input("a path pattern is malformed"),
  GP_ERR_ACL_DUPLICATE_PATH: input("two path patterns in one ACL match exactly the same paths"),
  GP_ERR_ACL_BAD_MODE: input("an ACL or route mode is not enforce or audit"),
  GP_ERR_ACL_BAD_NETWORK: input("an SRC principal is not an IPv4 or IPv6 address or CIDR network"),
  GP_ERR_ACL_SOURCE_REQUIRED: input("a decision depends on the source address (SRC) but no source was given"),

  // Policy tests and the acl CLI.
  GP_ERR_POLICY_BAD_CASE: input("a policy test case is malformed"),
  GP_ERR_POLICY_BAD_REQUEST: input("a request line is not \"METHOD /path\""),
  GP_ERR_PEER_SPEC: input("a --peer or peer value is not ATTR=VALUE pairs"),
  GP_ERR_PEER_CERT: input("a peer certificate file could not be parsed"),
  GP_ERR_SOURCE_ADDRESS: input("a --source or source value is not an IPv4 or IPv6 address"),

  // Configuration.
  GP_ERR_CONFIG_VALUE: input("a configuration value is out of range or malformed"),

  // TLS material.
  GP_ERR_TLS_CERT: input("a certificate file is missing, unparsable or unusable"),
  GP_ERR_TLS_KEY: input("a private key file is missing, unparsable or does not match its certificate"),
  GP_ERR_TLS_CA: input("a CA bundle is missing, empty or holds an unparsable certificate"),
  GP_ERR_TLS_CRL: input("a CRL file is unparsable"),
  GP_ERR_TLS_EXPIRED: input("a certificate is expired or not yet valid"),

  // CLI.
  GP_ERR_USAGE: input("the command line is not understood"),
  GP_ERR_LISTEN: input("a listener could not bind its address"),
  GP_ERR_PKI: input("guardpost pki cannot use the CA in its folder or write a certificate there"),

  // Answers to requests (JSON bodies; gRPC statuses to gRPC clients).
  GP_ERR_BAD_REQUEST: answer(400, "bad_request", GRPC_STATUS.INTERNAL, "the request or its target is malformed or ambiguous"),
  GP_ERR_FORBIDDEN: answer(403, "forbidden", GRPC_STATUS.PERMISSION_DENIED, "the ACL does not grant this peer this method and path"),
  GP_ERR_PEER_EXPIRED: answer(403, "certificate_expired", GRPC_STATUS.UNAUTHENTICATED, "the peer certificate of this connection has expired since the handshake"),
  GP_ERR_PEER_UNTRUSTED: answer(
    403,
    "certificate_untrusted",
    GRPC_STATUS.UNAUTHENTICATED,
    "the peer certificate of this connection is no longer trusted: a new CA bundle or CRL no longer vouches for it",
  ),
  GP_ERR_PEER_REFUSED: answer(
    403,
    "client_certificate_refused",
    GRPC_STATUS.UNAUTHENTICATED,
    "the TLS client certificate was missing or failed verification (expired, untrusted, revoked, without clientAuth); the body names the TLS alert and the reason, and the connection closes",
  ),
  GP_ERR_NOT_FOUND: answer(404, "not_found", GRPC_STATUS.UNIMPLEMENTED, "no route matches the request"),
  GP_ERR_REQUEST_TIMEOUT: answer(408, "request_timeout", GRPC_STATUS.DEADLINE_EXCEEDED, "the request headers or body did not arrive in time"),
  GP_ERR_HEADERS_TOO_LARGE: answer(431, "headers_too_large", GRPC_STATUS.RESOURCE_EXHAUSTED, "the request headers exceed the configured limit"),
  GP_ERR_UPSTREAM_UNREACHABLE: answer(502, "upstream_unreachable", GRPC_STATUS.UNAVAILABLE, "the upstream could not be reached or reset the connection"),
  GP_ERR_UPSTREAM_TLS: answer(502, "upstream_unverified", GRPC_STATUS.UNAVAILABLE, "the upstream failed TLS verification or the expected identity"),
  GP_ERR_UPSTREAM_TLS_ALERT: answer(
    502,
    "upstream_tls_alert",
    GRPC_STATUS.UNAVAILABLE,
    "the upstream ended the TLS connection with an alert, named in the reason (it refused this service's certificate, or shares no TLS version with guardpost)",
  ),
  GP_ERR_UPSTREAM_TIMEOUT: answer(504, "upstream_timeout", GRPC_STATUS.DEADLINE_EXCEEDED, "the upstream did not answer in time"),
  GP_ERR_GRPC_UPSTREAM: answer(502, "grpc_unsupported", GRPC_STATUS.UNIMPLEMENTED, "a gRPC call reached a route whose upstream speaks HTTP/1.1, which cannot carry it (use an h2c:// upstream)"),
  GP_ERR_WEBSOCKET_UPSTREAM: answer(
    502,
    "websocket_unsupported",
    GRPC_STATUS.UNIMPLEMENTED,
    "a WebSocket handshake reached a route whose upstream is h2c://, which cannot carry an HTTP/1.1 upgrade (use an http:// or unix: upstream)",
  ),
} satisfies Record<string, ErrorCodeInfo>);

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes that end a request with an answer (never thrown as a GuardpostError). */
export type AnswerCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C]["kind"] extends "answer" ? C : never }[ErrorCode];

export function answerInfo(code: AnswerCode): AnswerErrorInfo {
  return ERROR_CODES[code];
}

/** Where in a file an error is; line and col are 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * An error with a stable code. When it concerns a file, `position` locates it
 * and the string form is `file:line:col: message`, which is what users see.
 */
export class GuardpostError extends Error {
  readonly code: ErrorCode;
  readonly position: SourcePosition | undefined;
  readonly file: string | undefined;

  constructor(code: ErrorCode, message: string, where?: SourcePosition | { file: string }, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GuardpostError";
    this.code = code;
    this.file = where?.file;
    this.position = where && "line" in where ? where : undefined;
  }

  /** What the CLI exits with when this error ends a command. */
  get exitCode(): number {
    const info: ErrorCodeInfo = ERROR_CODES[this.code];
    return info.kind === "input" ? info.exitCode : 1;
  }

  /** `file:line:col: message`, `file: message`, or just the message. */
  format(): string {
    if (this.position) return `${this.position.file}:${this.position.line}:${this.position.col}: ${this.message}`;
    if (this.file) return `${this.file}: ${this.message}`;
    return this.message;
  }

  override toString(): string {
    return this.format();
  }
}

export function isGuardpostError(value: unknown): value is GuardpostError {
  return value instanceof GuardpostError;
}
