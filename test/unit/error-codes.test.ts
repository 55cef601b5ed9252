/**
 * The error-code registry (src/errors.ts) is documented in the README's
 * "Error codes" table, generated from the registry by `errorCodeTable()`
 * below. When the two differ the test fails and prints the table to paste
 * between the README's error-codes markers. Every code the source uses is
 * registered, and every registered code is raised or sent somewhere.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from "../../src/errors.js";

const START = "<!-- error-codes:start -->";
const END = "<!-- error-codes:end -->";
const codes = Object.keys(ERROR_CODES) as ErrorCode[];
const info = (code: ErrorCode): ErrorCodeInfo => ERROR_CODES[code];

/**
 * The README table: a code either ends a command (its exit code) or answers a
 * request (its HTTP status and the body's `error` field, or its gRPC status).
 */
function errorCodeTable(): string {
  const rows = codes.map((code) => {
    const entry = info(code);
    const exit = entry.kind === "input" ? String(entry.exitCode) : "—";
    const http = entry.kind === "answer" ? `${entry.httpStatus} \`${entry.name}\`` : "—";
    const grpc = entry.kind === "answer" ? String(entry.grpcStatus) : "—";
    return `| \`${code}\` | ${exit} | ${http} | ${grpc} | ${entry.description.replaceAll("|", "\\|")} |`;
  });
  return ["| code | exit code | HTTP status and `error` | gRPC status | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

describe("the error-code registry", () => {
  test("the README's table is generated from the registry", () => {
    const readme = readFileSync("README.md", "utf8");
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start, `README.md has no ${START} marker`).toBeGreaterThan(-1);
    expect(end, `README.md has no ${END} after ${START}`).toBeGreaterThan(start);
    const expected = `${START}\n${errorCodeTable()}\n${END}`;
    const actual = readme.slice(start, end + END.length);
    if (actual !== expected) {
      console.log(`README.md's error-code table is out of date; replace the block between the markers with:\n\n${expected}\n`);
    }
    expect(actual).toBe(expected);
  });

  test("answers have an error status, a snake_case name of their own and a gRPC status; input errors exit 2", () => {
    const names = new Map<string, ErrorCode>();
    for (const code of codes) {
      const entry = info(code);
      if (entry.kind === "input") {
        expect([code, entry.exitCode]).toEqual([code, 2]);
        continue;
      }
      expect([code, entry.httpStatus >= 400 && entry.httpStatus < 600 && entry.httpStatus !== 500]).toEqual([code, true]);
      expect([code, /^[a-z]+(_[a-z]+)*$/.test(entry.name)]).toEqual([code, true]);
      expect([code, entry.grpcStatus > 0 && entry.grpcStatus <= 16]).toEqual([code, true]);
      expect(names.get(entry.name) ?? code).toBe(code);
      names.set(entry.name, code);
    }
  });

  // The registry is where codes are defined, not used.
  const DEFINITIONS = new Set([join("src", "errors.ts")]);
  const uses = new Map<string, string[]>();
  for (const file of sourceFiles("src")) {
    if (DEFINITIONS.has(file)) continue;
    for (const [code] of readFileSync(file, "utf8").matchAll(/GP_ERR_[A-Z_]+/g)) uses.set(code, [...(uses.get(code) ?? []), file]);
  }

  test("every code the source uses is registered", () => {
    expect([...uses.keys()].filter((code) => !(code in ERROR_CODES))).toEqual([]);
  });

  test("every registered code is raised or sent somewhere", () => {
    expect(codes.filter((code) => !uses.has(code))).toEqual([]);
  });
});
