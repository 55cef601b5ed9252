/**
 * Hostile requests, as the raw bytes a client would put on the wire, with
 * what guardpost must do with each. One table feeds the in-process
 * adversarial tests and the test that throws everything at the real CLI.
 *
 * Every vector runs against HOSTILE_ACL as a peer with OU=web: it may call
 * anything under /public, nothing under /admin. SUBJECT_VECTORS are hostile
 * certificate subjects, for the identity string guardpost derives from them.
 */
import type { SubjectAttribute, SubjectFields, SubjectValue } from "./pki.js";

export const HOSTILE_ACL = `
version: 1
paths:
  /public/**:
    "*": ["*"]
  /admin/**:
    "*": [OU=ops]
`;

const HOST = "Host: localhost\r\n";

/** A GET for `target` that closes the connection after its response. */
export function get(target: string, method = "GET"): string {
  return `${method} ${target} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`;
}

export type PathOutcome =
  /** Refused before the ACL: 400 JSON. `errorPath` is the body's path ("" when Node's parser refused it). */
  | { readonly status: 400; readonly errorPath?: string }
  /** Judged as `judged` and denied. */
  | { readonly status: 403; readonly judged: string }
  /** Allowed; the upstream receives exactly `forwarded` (path and query). */
  | { readonly status: 200; readonly forwarded: string }
  /** No response at all, or a 400; never forwarded. */
  | { readonly status: "refused" };

export interface PathVector {
  readonly name: string;
  readonly raw: string;
  /** The method and request-target in `raw`, for replaying the vector over another protocol (HTTP/2's :method and :path). */
  readonly method: string;
  readonly target: string;
  readonly outcome: PathOutcome;
}

function vector(name: string, target: string, outcome: PathOutcome, method = "GET"): PathVector {
  return { name, raw: get(target, method), method, target, outcome };
}

/** Node's parser refuses these bytes before guardpost sees a request: 400 with an empty method and path. */
const RAW_BYTE_REFUSED = { status: 400, errorPath: "" } as const;

/** Path tricks that must not turn a /public grant into /admin access, and normalizations the upstream must see. */
export const PATH_VECTORS: readonly PathVector[] = [
  // Envoy CVE-2019-9901: dot segments are resolved before the ACL, so they land on /admin.
  vector("/public/../admin (Envoy CVE-2019-9901) is judged as /admin", "/public/../admin", { status: 403, judged: "/admin" }),
  vector("/public/./../admin/users is judged as /admin/users", "/public/./../admin/users", { status: 403, judged: "/admin/users" }),
  vector("/public/%2e%2e/admin (encoded dots) is judged as /admin", "/public/%2e%2e/admin", { status: 403, judged: "/admin" }),
  vector("/public/.%2E/admin (mixed dots) is judged as /admin", "/public/.%2E/admin", { status: 403, judged: "/admin" }),
  // Istio CVE-2021-31920: merged slashes and encoded separators.
  vector("//admin (Istio CVE-2021-31920) is judged as /admin", "//admin", { status: 403, judged: "/admin" }),
  vector("/public//..//admin is judged as /admin", "/public//..//admin", { status: 403, judged: "/admin" }),
  vector("/public%2F..%2Fadmin (encoded slash, upper case) is refused", "/public%2F..%2Fadmin", { status: 400, errorPath: "/public%2F..%2Fadmin" }),
  vector("/public%2f..%2fadmin (encoded slash, lower case) is refused", "/public%2f..%2fadmin", { status: 400, errorPath: "/public%2f..%2fadmin" }),
  vector("/public/..%2Fadmin is refused", "/public/..%2Fadmin", { status: 400, errorPath: "/public/..%2Fadmin" }),
  vector("/public%5C..%5Cadmin (encoded backslash) is refused", "/public%5C..%5Cadmin", { status: 400, errorPath: "/public%5C..%5Cadmin" }),
  vector("/public%5c..%5cadmin (encoded backslash, lower case) is refused", "/public%5c..%5cadmin", { status: 400, errorPath: "/public%5c..%5cadmin" }),
  vector("/public\\..\\admin (raw backslash) is refused", "/public\\..\\admin", { status: 400, errorPath: "/public\\..\\admin" }),
  vector("/public/..\\admin (raw backslash after dots) is refused", "/public/..\\admin", { status: 400, errorPath: "/public/..\\admin" }),
  // Envoy CVE-2021-32779: a fragment must not hide dot segments from the ACL.
  vector("/public#/../admin (fragment, Envoy CVE-2021-32779) is refused", "/public#/../admin", { status: 400, errorPath: "/public#/../admin" }),
  vector("/public/x?q=1#/../../admin (fragment after a query) is refused", "/public/x?q=1#/../../admin", { status: 400, errorPath: "/public/x?q=1#/../../admin" }),
  // Tomcat path parameters: `..;/` is `../` to a servlet container.
  vector("/public/..;/admin (Tomcat ..;/) is refused", "/public/..;/admin", { status: 400, errorPath: "/public/..;/admin" }),
  vector("/..;/admin is refused", "/..;/admin", { status: 400, errorPath: "/..;/admin" }),
  vector("/public/..;jsessionid=1/admin is refused", "/public/..;jsessionid=1/admin", { status: 400, errorPath: "/public/..;jsessionid=1/admin" }),
  vector("/public/.;x/../admin is refused", "/public/.;x/../admin", { status: 400, errorPath: "/public/.;x/../admin" }),
  vector("/public/..%3B/admin (encoded ;) is refused", "/public/..%3B/admin", { status: 400, errorPath: "/public/..%3B/admin" }),
  vector("/public/%2e%2e;/admin (encoded dots then ;) is refused", "/public/%2e%2e;/admin", { status: 400, errorPath: "/public/%2e%2e;/admin" }),
  vector("/admin;x=1 is judged as the literal segment and denied", "/admin;x=1", { status: 403, judged: "/admin;x=1" }),
  vector("/admin;x=1/users is denied", "/admin;x=1/users", { status: 403, judged: "/admin;x=1/users" }),
  vector("/public;x=1/../admin is judged as /admin", "/public;x=1/../admin", { status: 403, judged: "/admin" }),
  // Double encoding: decoding happens once, so %25xx is refused rather than left for the upstream to decode again.
  vector("/public/%252e%252e/admin (double-encoded dots) is refused", "/public/%252e%252e/admin", { status: 400, errorPath: "/public/%252e%252e/admin" }),
  vector("/public/%252F../admin (double-encoded slash) is refused", "/public/%252F../admin", { status: 400, errorPath: "/public/%252F../admin" }),
  vector("/%2561dmin (%25 followed by hex) is refused", "/%2561dmin", { status: 400, errorPath: "/%2561dmin" }),
  vector("/public/%25%32%65%25%32%65/admin (%25 followed by encoded hex digits) is refused", "/public/%25%32%65%25%32%65/admin", {
    status: 400,
    errorPath: "/public/%25%32%65%25%32%65/admin",
  }),
  // NUL, control bytes and DEL, encoded and raw.
  vector("/public/%00/../admin (encoded NUL) is refused", "/public/%00/../admin", { status: 400, errorPath: "/public/%00/../admin" }),
  vector("/admin%00.json (encoded NUL) is refused", "/admin%00.json", { status: 400, errorPath: "/admin%00.json" }),
  vector("/public/a\\0b (raw NUL) is refused", "/public/a\u0000b", RAW_BYTE_REFUSED),
  vector("/public/%0d%0aX-Injected:1 (encoded CR LF) is refused", "/public/%0d%0aX-Injected:1", { status: 400, errorPath: "/public/%0d%0aX-Injected:1" }),
  vector("/public/%09x (encoded tab) is refused", "/public/%09x", { status: 400, errorPath: "/public/%09x" }),
  vector("/public/a\\x01b (raw control byte) is refused", "/public/a\u0001b", RAW_BYTE_REFUSED),
  vector("/public/a\\tb (raw tab) is refused", "/public/a\tb", RAW_BYTE_REFUSED),
  vector("/public/a%7Fb (encoded DEL) is refused", "/public/a%7Fb", { status: 400, errorPath: "/public/a%7Fb" }),
  vector("/public/a\\x7fb (raw DEL) is refused", "/public/a\u007fb", RAW_BYTE_REFUSED),
  // `..` above the root is refused, not clamped (clamping makes /../admin mean /admin to some and not to others).
  vector("/.. is refused", "/..", { status: 400, errorPath: "/.." }),
  vector("/../admin is refused", "/../admin", { status: 400, errorPath: "/../admin" }),
  vector("/public/../../admin is refused", "/public/../../admin", { status: 400, errorPath: "/public/../../admin" }),
  vector("/%2e%2e/%2e%2e/admin is refused", "/%2e%2e/%2e%2e/admin", { status: 400, errorPath: "/%2e%2e/%2e%2e/admin" }),
  // Only origin-form: a host in the target must never choose what the ACL sees.
  vector("GET https://localhost/admin (absolute-form) is refused", "https://localhost/admin", { status: 400, errorPath: "https://localhost/admin" }),
  vector("GET http://localhost/admin (absolute-form) is refused", "http://localhost/admin", { status: 400, errorPath: "http://localhost/admin" }),
  vector("GET http://localhost/public/x (absolute-form, even for a granted path) is refused", "http://localhost/public/x", { status: 400, errorPath: "http://localhost/public/x" }),
  vector("GET HTTPS://LOCALHOST/admin (absolute-form, upper case) is refused", "HTTPS://LOCALHOST/admin", { status: 400, errorPath: "HTTPS://LOCALHOST/admin" }),
  { name: "CONNECT localhost:443 (authority-form) is refused", raw: `CONNECT localhost:443 HTTP/1.1\r\n${HOST}\r\n`, method: "CONNECT", target: "localhost:443", outcome: { status: "refused" } },
  { name: "CONNECT /admin is refused", raw: `CONNECT /admin HTTP/1.1\r\n${HOST}\r\n`, method: "CONNECT", target: "/admin", outcome: { status: "refused" } },
  vector("OPTIONS * (asterisk-form) is refused", "*", { status: 400, errorPath: "*" }, "OPTIONS"),
  // Unreserved encodings are decoded before the ACL looks.
  vector("/%61dmin is judged as /admin", "/%61dmin", { status: 403, judged: "/admin" }),
  vector("/%61%64%6D%69%6E/users is judged as /admin/users", "/%61%64%6D%69%6E/users", { status: 403, judged: "/admin/users" }),
  vector("/public/..%2f%61dmin (encoded slash beside an encoded letter) is refused", "/public/..%2f%61dmin", { status: 400, errorPath: "/public/..%2f%61dmin" }),
  vector("/public/café (raw UTF-8 bytes) is refused", "/public/caf\u00e9", RAW_BYTE_REFUSED),
  // Invalid UTF-8 cannot be a real path; a lenient decoder in the service reads overlong forms as "." and "/".
  vector("/public/%C0%AE%C0%AE/admin (overlong dots) is refused", "/public/%C0%AE%C0%AE/admin", { status: 400, errorPath: "/public/%C0%AE%C0%AE/admin" }),
  vector("/public/..%C0%AFadmin (overlong slash) is refused", "/public/..%C0%AFadmin", { status: 400, errorPath: "/public/..%C0%AFadmin" }),
  vector("/public/%c0%ae%c0%ae%c0%afadmin (overlong, lower case) is refused", "/public/%c0%ae%c0%ae%c0%afadmin", { status: 400, errorPath: "/public/%c0%ae%c0%ae%c0%afadmin" }),
  vector("/public/%E0%80%AE%E0%80%AE/admin (three-byte overlong dots) is refused", "/public/%E0%80%AE%E0%80%AE/admin", { status: 400, errorPath: "/public/%E0%80%AE%E0%80%AE/admin" }),
  vector("/public/a%80b (lone continuation byte) is refused", "/public/a%80b", { status: 400, errorPath: "/public/a%80b" }),
  vector("/public/%ED%A0%80 (UTF-16 surrogate) is refused", "/public/%ED%A0%80", { status: 400, errorPath: "/public/%ED%A0%80" }),
  vector("/public/%E2%82 (truncated sequence) is refused", "/public/%E2%82", { status: 400, errorPath: "/public/%E2%82" }),
  vector("/public/%FF (never UTF-8) is refused", "/public/%FF", { status: 400, errorPath: "/public/%FF" }),
  // Fullwidth forms are valid UTF-8: passed on as they are, never read as "/" or ".".
  vector("/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin (fullwidth ../) is forwarded as is", "/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin", { status: 200, forwarded: "/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin" }),
  vector("/admin/%EF%BC%8E%EF%BC%8E/public (fullwidth dots) is judged under /admin", "/admin/%EF%BC%8E%EF%BC%8E/public", { status: 403, judged: "/admin/%EF%BC%8E%EF%BC%8E/public" }),
  // What is allowed reaches the upstream exactly as the ACL judged it.
  vector("/admin/../public/x is judged and forwarded as /public/x", "/admin/../public/x", { status: 200, forwarded: "/public/x" }),
  vector("/public/a/../b is forwarded as /public/b", "/public/a/../b", { status: 200, forwarded: "/public/b" }),
  vector("//public///x/./y is forwarded as /public/x/y", "//public///x/./y", { status: 200, forwarded: "/public/x/y" }),
  vector("/%70ublic/%7Euser/%41 is forwarded decoded as /public/~user/A", "/%70ublic/%7Euser/%41", { status: 200, forwarded: "/public/~user/A" }),
  vector("/public/caf%c3%a9 keeps its escape, in upper case", "/public/caf%c3%a9", { status: 200, forwarded: "/public/caf%C3%A9" }),
  vector("/public/%25zz (a %25 not followed by hex) is forwarded as is", "/public/%25zz", { status: 200, forwarded: "/public/%25zz" }),
  vector("/public/x;v=1 keeps its parameter", "/public/x;v=1", { status: 200, forwarded: "/public/x;v=1" }),
  vector("the query is forwarded unchanged, even when it looks like a path", "/public/./x?next=/../admin&p=%2F%252e", { status: 200, forwarded: "/public/x?next=/../admin&p=%2F%252e" }),
];

export interface SmugglingVector {
  readonly name: string;
  readonly raw: string;
  /**
   * Statuses of the responses, in order; "rejected" means a 400 or a close,
   * and nothing but 400s on the wire.
   */
  readonly responses: readonly number[] | "rejected";
  /** What the upstream must have received (method, url, body), in order; nothing else. */
  readonly forwarded: ReadonlyArray<readonly [string, string, string]>;
}

const SMUGGLED = `GET /admin HTTP/1.1\r\n${HOST}\r\n`;
const post = (headers: string, body: string) => `POST /public/x HTTP/1.1\r\n${HOST}${headers}\r\n${body}`;

/** Framing attacks: every one hides GET /admin (denied) somewhere an ambiguous parser could find a request. */
export const SMUGGLING_VECTORS: readonly SmugglingVector[] = [
  {
    name: "CL.TE: Content-Length and Transfer-Encoding together (Node CVE-2022-32213/32215) is rejected",
    raw: post(`Content-Length: 6\r\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "TE.CL: Transfer-Encoding before a short Content-Length is rejected",
    raw: `POST /public/x HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${(SMUGGLED.length + 0).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "two differing Content-Length headers are rejected",
    raw: post(`Content-Length: 5\r\nContent-Length: ${5 + SMUGGLED.length}\r\n`, `hello${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a Content-Length list (5, 40) is rejected",
    raw: post(`Content-Length: 5, ${5 + SMUGGLED.length}\r\n`, `hello${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a signed Content-Length (+5) is rejected",
    raw: post(`Content-Length: +5\r\n`, `hello${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding: chunked, identity (chunked not last) is rejected",
    raw: post(`Transfer-Encoding: chunked, identity\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding split over two headers (chunked, then identity) is rejected",
    raw: post(`Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "'Transfer-Encoding : chunked' (space before the colon) is rejected",
    raw: post(`Transfer-Encoding : chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding: xchunked is rejected",
    raw: post(`Transfer-Encoding: xchunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding with a vertical tab before chunked is rejected",
    raw: post(`Transfer-Encoding:\u000bchunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding folded onto a continuation line (obs-fold) is rejected",
    raw: post(`Transfer-Encoding:\r\n chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "Transfer-Encoding:\\tchunked is chunked to guardpost and upstream alike; the request after the body is judged on its own (403)",
    raw: post(`Transfer-Encoding:\tchunked\r\n`, `5\r\nhello\r\n0\r\n\r\n${SMUGGLED.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")}`),
    responses: [200, 403],
    forwarded: [["POST", "/public/x", "hello"]],
  },
  {
    name: "bare LF line endings are rejected",
    raw: `GET /public/x HTTP/1.1\n${HOST.replace("\r\n", "\n")}\n${SMUGGLED}`,
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a bare LF inside the headers is rejected",
    raw: post(`Content-Length: 0\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a bare CR inside the headers (Node CVE-2023-30589) is rejected",
    raw: post(`Content-Length: 0\rTransfer-Encoding: chunked\r\n`, `0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a chunk size that is not hex (zz) is rejected and the body is never completed upstream",
    raw: post(`Transfer-Encoding: chunked\r\n`, `zz\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a negative chunk size is rejected",
    raw: post(`Transfer-Encoding: chunked\r\n`, `-1\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a chunk size with a 0x prefix is rejected",
    raw: post(`Transfer-Encoding: chunked\r\n`, `0x${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a chunk size that overflows 64 bits is rejected",
    raw: post(`Transfer-Encoding: chunked\r\n`, `10000000000000000${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a chunk size ended by a bare LF is rejected",
    raw: post(`Transfer-Encoding: chunked\r\n`, `5\nhello\r\n0\r\n\r\n${SMUGGLED}`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a bad chunk after a good one is rejected and the upstream never sees a completed body",
    raw: post(`Transfer-Encoding: chunked\r\n`, `5\r\nhello\r\nzz\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: "rejected",
    forwarded: [],
  },
  {
    name: "a request hidden in a Content-Length body reaches the upstream as body bytes only",
    raw: post(`Content-Length: ${SMUGGLED.length}\r\nConnection: close\r\n`, SMUGGLED),
    responses: [200],
    forwarded: [["POST", "/public/x", SMUGGLED]],
  },
  {
    name: "a request hidden in a chunked body reaches the upstream as body bytes only",
    raw: post(`Transfer-Encoding: chunked\r\nConnection: close\r\n`, `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    responses: [200],
    forwarded: [["POST", "/public/x", SMUGGLED]],
  },
  {
    name: "bytes past a short Content-Length are a second request, judged on its own (403)",
    raw: post(`Content-Length: 5\r\n`, `hello${SMUGGLED.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")}`),
    responses: [200, 403],
    forwarded: [["POST", "/public/x", "hello"]],
  },
  {
    name: "a denied request second in a pipeline never reaches the upstream; answers stay in order",
    raw: `GET /public/a HTTP/1.1\r\n${HOST}\r\n${SMUGGLED}GET /public/b HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
    responses: [200, 403, 200],
    forwarded: [
      ["GET", "/public/a", ""],
      ["GET", "/public/b", ""],
    ],
  },
  {
    name: "the body of a denied request is discarded as body, never parsed as a request",
    raw: `POST /admin HTTP/1.1\r\n${HOST}Content-Length: ${get("/public/hidden").length}\r\n\r\n${get("/public/hidden")}${get("/public/after")}`,
    responses: [403, 200],
    forwarded: [["GET", "/public/after", ""]],
  },
  {
    name: "a request line with a second target is rejected",
    raw: `GET /public/x /admin HTTP/1.1\r\n${HOST}\r\n`,
    responses: "rejected",
    forwarded: [],
  },
];

export interface SubjectVector {
  readonly name: string;
  /** The subject exactly, RDN by RDN in certificate order. */
  readonly rdns: NonNullable<SubjectFields["rdns"]>;
}

const one = (type: string, value: SubjectValue): readonly SubjectAttribute[] => [[type, value]];

/**
 * Subjects whose RFC 2253 string is easy to get wrong: order, repeats,
 * multi-valued RDNs and every character RFC 4514 escapes. Pairs marked
 * "twin" differ only where a careless writer would make them collide.
 */
export const SUBJECT_VECTORS: readonly SubjectVector[] = [
  { name: "an OU after the CN (interleaved repeats)", rdns: [one("O", "Acme"), one("OU", "marketing"), one("CN", "inter-01"), one("OU", "web")] },
  { name: "twin: the same OUs, both before the CN", rdns: [one("O", "Acme"), one("OU", "marketing"), one("OU", "web"), one("CN", "inter-01")] },
  { name: "the same attributes in another order", rdns: [one("OU", "marketing"), one("CN", "inter-01"), one("OU", "web"), one("O", "Acme")] },
  { name: "a multi-valued RDN (OU+CN)", rdns: [one("O", "Acme"), [["OU", "marketing"], ["CN", "mv-01"]]] },
  { name: "twin: the same values as two RDNs", rdns: [one("O", "Acme"), one("OU", "marketing"), one("CN", "mv-01")] },
  { name: "a three-valued RDN with a repeated type", rdns: [[["OU", "b"], ["CN", "z"], ["OU", "a"]]] },
  { name: "every RFC 4514 special character", rdns: [one("O", 'a,b+c"d\\e<f>g;h=i'), one("CN", "x,OU=web")] },
  { name: "a leading #", rdns: [one("CN", "#hash"), one("OU", "#00")] },
  { name: "leading and trailing spaces", rdns: [one("CN", "  two lead and two trail  "), one("OU", " "), one("O", "in ner")] },
  { name: "non-ASCII: accents, CJK and an emoji", rdns: [one("O", "Caf\u00e9 M\u00fcller"), one("CN", "\u5b57 \u{1f600}")] },
  { name: "control bytes, NUL and DEL", rdns: [one("CN", "tab\tcr\rlf\nnul\u0000del\u007f")] },
  { name: "a header and an XFCC field spelled inside a value", rdns: [one("CN", 'q";URI=spiffe://admin\r\nX-Injected: 1')] },
  { name: "an empty value", rdns: [one("OU", ""), one("CN", "after-empty")] },
  { name: "PrintableString, IA5String and BMPString values", rdns: [[["C", { printableString: "DE" }]], [["DC", { ia5String: "example" }]], [["O", { bmpString: "\u00dcn\u00ef \u5b57" }]]] },
  { name: "attribute types beyond CN OU O L ST C", rdns: [one("DC", "com"), one("E", "ops@example.com"), one("2.5.4.5", "SN-1234"), one("SN", "Smith"), one("T", "Dr")] },
  { name: "an attribute type OpenSSL has no name for", rdns: [one("1.3.6.1.4.1.99999.1", "custom"), one("CN", "oid-01")] },
];
