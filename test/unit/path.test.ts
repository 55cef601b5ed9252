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
