/**
 * Random bytes in the request target, over raw keep-alive mTLS sockets:
 * non-ASCII, control bytes, spaces, CR and LF. guardpost answers only 200,
 * 400 or 403 (Node's HTTP parser may refuse the bytes first with its own 400
 * and close), never hangs, forwards nothing but granted normalized paths,
 * and keeps serving: each hostile request is followed on the same
 * connection by a good one that must still be answered, unless the
 * connection was closed, and a fresh connection works at the end.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { RawConnection } from "../helpers/raw-connection.js";
import { fuzzParams } from "../helpers/property.js";
import { startWireFixture, type WireFixture } from "./wire-setup.js";

let wire: WireFixture;
beforeAll(async () => {
  wire = await startWireFixture();
});

describe("random bytes in the request target", () => {
  let counter = 0;
  const seenStatuses = new Map<number, number>();
  const outcome = { inStep: 0, closed: 0 };

  test("only 200/400/403 answers (or Node's parser refusing and closing), never a hang, and guardpost keeps serving", async () => {
    const connection = wire.connect();
    const bytes = fc.oneof(
      // Anything at all: mostly refused by Node's parser.
      { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 60 }) },
      // The bytes that matter to parsers and normalizers.
      {
        weight: 2,
        arbitrary: fc
          .array(fc.constantFrom(0x2f, 0x2f, 0x2e, 0x25, 0x32, 0x65, 0x66, 0x20, 0x09, 0x00, 0x0d, 0x0a, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0x3f, 0x23, 0x5c, 0x61, 0x3b), { minLength: 1, maxLength: 40 })
          .map((a) => Uint8Array.from(a)),
      },
      // Printable ASCII: what gets past Node's parser to guardpost's own checks.
      { weight: 3, arbitrary: fc.uint8Array({ min: 0x21, max: 0x7e, minLength: 1, maxLength: 40 }) },
    );
    const withSlash = fc.tuple(fc.boolean(), bytes).map(([slash, b]) => Buffer.concat([Buffer.from(slash ? "/" : ""), Buffer.from(b)]));
    try {
      await fc.assert(
        fc.asyncProperty(withSlash, async (raw) => {
          const id = `fzb-${counter++}`;
          const sentinel = `sentinel-${id}`;
          const conn = await connection.get();
          // The hostile request, then a good one: its answer shows the connection is still in step.
          conn.write(Buffer.concat([Buffer.from("GET "), raw, Buffer.from(` HTTP/1.1\r\nHost: localhost\r\nx-request-id: ${id}\r\n\r\nGET /public/ok HTTP/1.1\r\nHost: localhost\r\nx-request-id: ${sentinel}\r\n\r\n`)]));
          for (let answers = 0; ; answers++) {
            const response = await conn.read();
            if (response === null) {
              // Closed: Node's parser gave up on the bytes (after its own 400, or at once).
              outcome.closed++;
              break;
            }
            seenStatuses.set(response.status, (seenStatuses.get(response.status) ?? 0) + 1);
            expect([200, 400, 403], `${JSON.stringify(raw.toString("latin1"))} -> ${response.status} ${response.body}`).toContain(response.status);
            if (response.headers["x-request-id"] === sentinel) {
              expect(response.status).toBe(200);
              outcome.inStep++;
              break;
            }
            expect(answers, "more answers than requests").toBeLessThan(3);
          }
        }),
        fuzzParams(400),
      );
    } finally {
      connection.close();
    }
    wire.expectOnlyGrantedNormalizedPaths();
    // Still serving, on a fresh connection.
    const fresh = await RawConnection.open(wire.proxy.port, wire.ca, wire.client);
    try {
      fresh.write("GET /users/42?after=fuzz HTTP/1.1\r\nHost: localhost\r\nx-request-id: after-bytes\r\n\r\n");
      expect((await fresh.read())?.status).toBe(200);
      expect(wire.received("after-bytes")).toEqual(["/users/42?after=fuzz"]);
    } finally {
      fresh.destroy();
    }
    // Both kinds of outcome are common, or the generator is not doing its job.
    expect(seenStatuses.get(400) ?? 0, JSON.stringify([...seenStatuses])).toBeGreaterThan(0);
    expect(outcome.inStep, JSON.stringify(outcome)).toBeGreaterThan(20);
    expect(outcome.closed, JSON.stringify(outcome)).toBeGreaterThan(20);
  });
});
