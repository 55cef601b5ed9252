/**
 * Differential fuzzing on the wire: a real guardpost in front of a recording
 * upstream, and generated request targets written byte for byte over raw
 * keep-alive mTLS sockets (no HTTP client to normalize them first). Each
 * answer is compared with what normalizeTarget() and the compiled ACL's
 * decide() say it must be, and everything the upstream received is checked
 * on its own: only granted, normalized paths arrive; the path that arrives is
 * the one the ACL judged (the access line's `path`); the query is untouched;
 * nothing under /admin ever gets through.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { normalizeTarget } from "../../src/http/path.js";
import { upstreamReading } from "./path-model.js";
import { fuzzParams } from "../helpers/property.js";
import { isParserRefusal, PEER, startWireFixture, type WireFixture } from "./wire-setup.js";

/** Pieces of targets that a request line can carry (no space, CR or LF: those are the byte fuzzer's). Mostly plausible, some hostile. */
const PLAIN_SEGMENTS = ["public", "public", "users", "users", "admin", "7", "x", "a.b", "~u", "%7e", "%61", "%70ublic", "%41dmin", "%61dmin", ".", "..", "%2e", "%2E%2e", ".%2e", "a;b", "admin;x", "%c3%a9", "%3A", "@", "!", ""];
const HOSTILE_SEGMENTS = ["Admin", "..;", ".;x", "..%3b", "%2f", "%2F", "%5c", "\\", "%00", "%0a", "%25", "%2541", "%25%34%31", "%252e%252e", "é", "%zz", "%", "*", "**", "{id}", "#x", "%23", "<", "\"", "|"];
const QUERIES = ["", "", "", "?", "?a=1", "?a=1&b=%2F", "?../../admin", "?x=%00", "?%zz", "?q=/admin/x", "??", "?a=%25%34%31", "?é=ü", "?a=1;b", "?x=\\", "?a=%2e%2e/", '?a="<>', "?a={}|^`[]", "?\\", "?%00%ff", "?a=b?c=d"];
const PREFIXES = ["/", "/", "/", "/", "/", "/", "/", "/", "/", "/", "/", "/", "//", "/./", "/../", "", "http://localhost/", "*", "/%2e%2e/"];

const segment = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PLAIN_SEGMENTS) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) });
/** Where the target starts: mostly inside a granted subtree or next to /admin, so every outcome is common. */
const LEADS = ["public/", "public/", "public/", "public/", "users/7", "users/x", "users/", "admin/", "admin/", "", "public/../admin/", "users/7/../../admin/"];
const target = fc
  .tuple(
    fc.constantFrom(...PREFIXES),
    fc.constantFrom(...LEADS),
    fc.array(segment, { minLength: 0, maxLength: 4 }),
    fc.constantFrom("/", "/", "/", "//"),
    fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom(...QUERIES) }),
    fc.boolean(),
  )
  .map(([prefix, lead, segments, sep, query, trailing]) => `${prefix}${lead}${segments.join(sep)}${trailing ? "/" : ""}${query}`);
const method = fc.constantFrom("GET", "GET", "GET", "GET", "GET", "GET", "DELETE", "HEAD");

/** How Node hands a request-target to the request handler: the raw bytes, read as latin1. */
const asNodeReadsIt = (text: string) => Buffer.from(text, "utf8").toString("latin1");
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

let wire: WireFixture;
beforeAll(async () => {
  wire = await startWireFixture();
});

describe("guardpost on the wire, differentially against normalizeTarget and decide()", () => {
  let connection: ReturnType<WireFixture["connect"]>;
  beforeAll(() => {
    connection = wire.connect();
  });
  afterAll(() => connection.close());
  const tally = { allowed: 0, denied: 0, refused: 0, parser: 0 };
  let counter = 0;

  test("2000 hostile targets: only 200/400/403; allowed exactly when decide() grants the normalized path; the upstream gets that path with the query unchanged", async () => {
    await fc.assert(
      fc.asyncProperty(method, target, async (m, sent) => {
        const id = `fz-${counter++}`;
        const conn = await connection.get();
        conn.write(Buffer.concat([Buffer.from(`${m} `), Buffer.from(sent, "utf8"), Buffer.from(` HTTP/1.1\r\nHost: localhost\r\nx-request-id: ${id}\r\n\r\n`)]));
        const response = await conn.read(3000, m === "HEAD");
        expect(response, `connection closed without an answer to ${m} ${JSON.stringify(sent)}`).not.toBeNull();
        const { status, body } = response!;
        expect([200, 400, 403], `${m} ${JSON.stringify(sent)} -> ${status} ${body}`).toContain(status);

        const seen = asNodeReadsIt(sent);
        const normalized = normalizeTarget(seen);
        const got = wire.received(id);
        const access = wire.accessLines(id);

        if (isParserRefusal(response!, id)) {
          // Node refuses some targets before guardpost sees them (not origin-form or absolute-form, bytes outside printable ASCII); an origin-form printable one it must pass on.
          expect(sent.startsWith("/") && PRINTABLE_ASCII.test(sent), `Node refused a printable origin-form target ${JSON.stringify(sent)}`).toBe(false);
          expect(got).toEqual([]);
          tally.parser++;
          return;
        }
        expect(access, `no access line for ${id}`).toHaveLength(1);
        if (!normalized.ok) {
          expect(status, `${JSON.stringify(seen)} should be refused: ${normalized.reason}`).toBe(400);
          if (m !== "HEAD") expect(JSON.parse(body)).toMatchObject({ error: "bad_request", reason: normalized.reason, requestId: id });
          expect(got).toEqual([]);
          tally.refused++;
          return;
        }
        const decision = wire.acl.decide({ method: m, path: normalized.path, peer: PEER });
        expect(access[0]!.path, "the access line names the path the ACL judged").toBe(normalized.path);
        expect(access[0]!.entry).toBe(decision.entry);
        if (!decision.allow) {
          expect(status, `${m} ${JSON.stringify(seen)} -> ${normalized.path} is not granted`).toBe(403);
          if (m !== "HEAD") expect(JSON.parse(body)).toMatchObject({ error: "forbidden", method: m, path: normalized.path, requestId: id });
          expect(got).toEqual([]);
          tally.denied++;
          return;
        }
        expect(status, `${m} ${JSON.stringify(seen)} -> ${normalized.path} is granted: ${body}`).toBe(200);
        // Exactly one request reached the upstream: the normalized path the ACL judged, with the query as sent.
        expect(got).toEqual([normalized.path + normalized.query]);
        const q = seen.indexOf("?");
        expect(got[0]!.slice(normalized.path.length)).toBe(q === -1 ? "" : seen.slice(q));
        // And it is what a decode-once server would have read from the raw target.
        expect(upstreamReading(got[0]!)).toBe(upstreamReading(seen));
        expect(normalized.path.startsWith("/admin")).toBe(false);
        tally.allowed++;
      }),
      fuzzParams(2000),
    );
    wire.expectOnlyGrantedNormalizedPaths();
    // The generator reaches all outcomes, or the test proves little.
    expect(tally.allowed, JSON.stringify(tally)).toBeGreaterThan(50);
    expect(tally.denied, JSON.stringify(tally)).toBeGreaterThan(50);
    expect(tally.refused, JSON.stringify(tally)).toBeGreaterThan(50);
  });

  test("known traversal tricks toward /admin are refused or denied, never forwarded", async () => {
    const tricks = [
      "/public/../admin/x", "/public/%2e%2e/admin/x", "/public/.%2e/admin", "//admin/x", "/./admin", "/public/..;/admin", "/admin;x/y", "/%61dmin/x", "/public%2f..%2fadmin",
      "/public/%252e%252e/admin", "/public/%25%32%65%25%32%65/admin", "/public/..%5cadmin", "/public\\..\\admin", "/admin%00/x", "/admin#/public", "http://localhost/admin", "/public/x/../../admin",
    ];
    const conn = wire.connect();
    try {
      for (const trick of tricks) {
        const c = await conn.get();
        c.write(`GET ${trick} HTTP/1.1\r\nHost: localhost\r\nx-request-id: trick-${tricks.indexOf(trick)}\r\n\r\n`);
        const response = await c.read();
        expect([400, 403], `${trick} -> ${response?.status}`).toContain(response?.status);
      }
    } finally {
      conn.close();
    }
    for (let i = 0; i < tricks.length; i++) expect(wire.received(`trick-${i}`)).toEqual([]);
    wire.expectOnlyGrantedNormalizedPaths();
  });
});
