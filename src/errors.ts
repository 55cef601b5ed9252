/**
 * The one registry of guardpost's error codes. Every error the program raises
 * or sends names one of these codes; the code is stable across releases, the
 * message may improve. `exitCode` is what the CLI exits with when the error
 * ends a command, `httpStatus` what a listener answers when it ends a request.
 */

export interface ErrorCodeInfo {
  readonly exitCode: number;
  readonly httpStatus: number;
  readonly description: string;
}

const usage = (description: string): ErrorCodeInfo => ({ exitCode: 2, httpStatus: 500, description });
const http = (httpStatus: number, description: string): ErrorCodeInfo => ({ exitCode: 1, httpStatus, description });

export const ERROR_CODES = Object.freeze({
  // Input files (YAML syntax and shape), shared by config, ACL and policy-test files.
  GP_ERR_FILE_READ: usage("a file could not be read"),
  GP_ERR_YAML_SYNTAX: usage("a file is not valid YAML"),
  GP_ERR_YAML_DUPLICATE_KEY: usage("a mapping has the same key twice"),
  GP_ERR_YAML_TYPE: usage("a value has the wrong type"),
  GP_ERR_YAML_UNKNOWN_KEY: usage("a mapping has a key that is not part of the format"),
  GP_ERR_YAML_MISSING_KEY: usage("a required key is missing"),

  // ACL language.
  GP_ERR_ACL_VERSION: usage("an ACL file has a missing or unsupported version"),
  GP_ERR_ACL_UNKNOWN_ATTRIBUTE: usage("a principal names an attribute that is not CN OU O L ST C DNS URI IP EMAIL"),
  GP_ERR_ACL_BAD_PRINCIPAL: usage("a principal is not \"*\", ATTR=VALUE, an attribute map or \"@group\""),
  GP_ERR_ACL_UNKNOWN_GROUP: usage("a principal refers to a group that is not defined"),
  GP_ERR_ACL_BAD_GROUP: usage("a group name is malformed or groups refer to each other in a cycle"),
  GP_ERR_ACL_BAD_METHOD: usage("a method is not an HTTP token or \"*\""),
  GP_ERR_ACL_BAD_PATH: usage("a path pattern is malformed"),
  GP_ERR_ACL_DUPLICATE_PATH: usage("two path patterns in one ACL match exactly the same paths"),
  GP_ERR_ACL_BAD_MODE: usage("an ACL or route mode is not enforce or audit"),

  // Policy tests and the acl CLI.
  GP_ERR_POLICY_BAD_CASE: usage("a policy test case is malformed"),
  GP_ERR_POLICY_BAD_REQUEST: usage("a request line is not \"METHOD /path\""),
  GP_ERR_PEER_SPEC: usage("a --peer or peer value is not ATTR=VALUE pairs"),
  GP_ERR_PEER_CERT: usage("a peer certificate file could not be parsed"),

  // Configuration.
  GP_ERR_CONFIG_VALUE: usage("a configuration value is out of range or malformed"),

  // TLS material.
  GP_ERR_TLS_CERT: usage("a certificate file is missing, unparsable or unusable"),
  GP_ERR_TLS_KEY: usage("a private key file is missing, unparsable or does not match its certificate"),
  GP_ERR_TLS_CA: usage("a CA bundle is missing, empty or holds an unparsable certificate"),
  GP_ERR_TLS_CRL: usage("a CRL file is unparsable"),
  GP_ERR_TLS_EXPIRED: usage("a certificate is expired or not yet valid"),

  // CLI.
  GP_ERR_USAGE: usage("the command line is not understood"),
  GP_ERR_LISTEN: usage("a listener could not bind its address"),
  GP_ERR_PKI: usage("guardpost pki cannot use the CA in its folder or write a certificate there"),

  // Request handling (sent as JSON bodies).
  GP_ERR_BAD_REQUEST: http(400, "the request or its target is malformed or ambiguous"),
  GP_ERR_FORBIDDEN: http(403, "the ACL does not grant this peer this method and path"),
  GP_ERR_PEER_EXPIRED: http(403, "the peer certificate of this connection has expired since the handshake"),
  GP_ERR_NOT_FOUND: http(404, "no route matches the request"),
  GP_ERR_REQUEST_TIMEOUT: http(408, "the request headers or body did not arrive in time"),
  GP_ERR_HEADERS_TOO_LARGE: http(431, "the request headers exceed the configured limit"),
  GP_ERR_UPSTREAM_UNREACHABLE: http(502, "the upstream could not be reached or reset the connection"),
  GP_ERR_UPSTREAM_TLS: http(502, "the upstream failed TLS verification or the expected identity"),
  GP_ERR_UPSTREAM_TIMEOUT: http(504, "the upstream did not answer in time"),
} satisfies Record<string, ErrorCodeInfo>);

export type ErrorCode = keyof typeof ERROR_CODES;

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

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
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
