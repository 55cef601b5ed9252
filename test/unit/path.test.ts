import { describe, expect, test } from "vitest";
import { normalizeTarget } from "../../src/http/path.js";

// target -> normalized path (and query), or a refusal whose reason matches.
const accepted: ReadonlyArray<readonly [string, string, string]> = [
  ["/", "/", ""],
  ["/user", "/user", ""],
  ["/user/", "/user/", ""],
  ["/user?x=1&y=%2F", "/user", "?x=1&y=%2F"],
  ["//admin", "/admin", ""],
  ["/a//b///c", "/a/b/c", ""],
  ["/public/../admin", "/admin", ""],
  ["/a/./b", "/a/b", ""],
  ["/a/b/..", "/a/", ""],
  ["/a/b/.", "/a/b/", ""],
  ["/.", "/", ""],
  ["/a/..", "/", ""],
  ["/%61dmin", "/admin", ""],
  ["/%7euser/%2D", "/~user/-", ""],
  ["/a%2e%2e/b", "/a../b", ""],
  ["/x/%2e%2e/admin", "/admin", ""],
  ["/x/%2E/y", "/x/y", ""],
  ["/caf%c3%a9", "/caf%C3%A9", ""],
  ["/a%20b", "/a%20b", ""],
  ["/%25zz", "/%25zz", ""],
  ["/users;jsessionid=1", "/users;jsessionid=1", ""],
  ["/.well-known/x", "/.well-known/x", ""],
  ["/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,=", ""],
  // Valid UTF-8 at every length and at the edges of the ranges RFC 3629 allows.
  ["/%c2%80%df%bf", "/%C2%80%DF%BF", ""],
  ["/%e0%a0%80%ed%9f%bf%ee%80%80%ef%bf%bf", "/%E0%A0%80%ED%9F%BF%EE%80%80%EF%BF%BF", ""],
  ["/%f0%90%80%80%f4%8f%bf%bf", "/%F0%90%80%80%F4%8F%BF%BF", ""],
  ["/%f0%9f%98%80x", "/%F0%9F%98%80x", ""],
  // Fullwidth forms are valid UTF-8: passed on as they are, never read as "/" or ".".
  ["/public/%EF%BC%8F..%EF%BC%8Fadmin", "/public/%EF%BC%8F..%EF%BC%8Fadmin", ""],
  ["/%ef%bc%8e%ef%bc%8e/admin", "/%EF%BC%8E%EF%BC%8E/admin", ""],
];

const refused: ReadonlyArray<readonly [string, RegExp]> = [
  ["http://evil/admin", /origin-form/],
  ["*", /asterisk/],
  ["admin", /origin-form/],
  ["/..", /above the root/],
  ["/a/../..", /above the root/],
  ["/%2e%2e/admin", /above the root/],
  ["/admin%2Fx", /encoded \//],
  ["/admin%2fx", /encoded \//],
  ["/admin%5Cx", /backslash/],
  ["/admin\\x", /backslash/],
  ["/a\u0000b", /NUL/],
  ["/a%00b", /NUL/],
  ["/a%0Ab", /control/],
  ["/a\tb", /control/],
  ["/a b", /not allowed/],
  ["/a#frag", /fragment/],
  ["/a?b#frag", /fragment/],
  ["/..;/admin", /hidden behind ;/],
  ["/x/..;jsessionid=1/admin", /hidden behind ;/],
  ["/x/.;a/admin", /hidden behind ;/],
  ["/x/..%3B/admin", /hidden behind ;/],
  ["/%252e%252e/admin", /double percent-encoding/],
  ["/%2541", /double percent-encoding/],
  ["/%zz", /malformed/],
  ["/%4", /malformed/],
  ["/caf\u00e9", /non-ASCII/],
  ["/a<b", /not allowed/],
  // Invalid UTF-8 cannot be a real path; lenient decoders read the overlong forms as "." and "/".
  ["/%C0%AE%C0%AE/admin", /not valid UTF-8/],
  ["/public/%C0%AF../admin", /not valid UTF-8/],
  ["/%c1%bf", /not valid UTF-8/],
  ["/%e0%80%ae", /not valid UTF-8/],
  ["/%f0%80%80%ae", /not valid UTF-8/],
  ["/a%80", /not valid UTF-8/],
  ["/a%bf%bf", /not valid UTF-8/],
  ["/%ed%a0%80", /not valid UTF-8/],
  ["/%ed%bf%bf", /not valid UTF-8/],
  ["/%f4%90%80%80", /not valid UTF-8/],
  ["/%f5%80%80%80", /not valid UTF-8/],
  ["/%ff", /not valid UTF-8/],
  ["/%c3", /not valid UTF-8/],
  ["/%e2%82/x", /not valid UTF-8/],
  ["/%c3x%a9", /not valid UTF-8/],
  ["/%c3%41", /not valid UTF-8/],
];

describe("normalizeTarget", () => {
  test.each(accepted)("%s normalizes to %s", (target, path, query) => {
    expect(normalizeTarget(target)).toEqual({ ok: true, path, query });
  });

  test.each(refused)("%s is refused (%s)", (target, reason) => {
    const result = normalizeTarget(target);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  test("normalizing a normalized path changes nothing (decoding happens once)", () => {
    for (const [target] of accepted) {
      const first = normalizeTarget(target);
      if (!first.ok) continue;
      expect(normalizeTarget(first.path)).toEqual({ ok: true, path: first.path, query: "" });
    }
  });
});
