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
import { ERROR_CODES, type ErrorCode } from "../../src/errors.js";
import { errorName } from "../../src/http/error-response.js";

const START = "<!-- error-codes:start -->";
const END = "<!-- error-codes:end -->";
/** The `error` field of a response body for codes guardpost sends over HTTP. */
const INTERNAL = "internal_error";

const codes = Object.keys(ERROR_CODES) as ErrorCode[];
const sentOverHttp = (code: ErrorCode) => errorName(code) !== INTERNAL;

/**
 * The README table: a code is either sent as an HTTP response (its status and
 * the body's `error` field) or ends a command (its exit code), never both.
 */
function errorCodeTable(): string {
  const rows = codes.map((code) => {
    const { exitCode, httpStatus, description } = ERROR_CODES[code];
    const exit = sentOverHttp(code) ? "—" : String(exitCode);
    const http = sentOverHttp(code) ? `${httpStatus} \`${errorName(code)}\`` : "—";
    return `| \`${code}\` | ${exit} | ${http} | ${description.replaceAll("|", "\\|")} |`;
  });
  return ["| code | exit code | HTTP status and `error` | meaning |", "|---|---|---|---|", ...rows].join("\n");
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

  test("codes sent over HTTP have a status of their own; the others end a command with exit code 2", () => {
    for (const code of codes) {
      const { exitCode, httpStatus } = ERROR_CODES[code];
      if (sentOverHttp(code)) expect([code, httpStatus >= 400 && httpStatus < 600 && httpStatus !== 500]).toEqual([code, true]);
      else expect([code, exitCode, httpStatus]).toEqual([code, 2, 500]);
    }
  });

  // The registry and the body names are where codes are defined, not used.
  const DEFINITIONS = new Set([join("src", "errors.ts"), join("src", "http", "error-response.ts")]);
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
