import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { describeFailure, loadPolicyTest, runPolicyTest, uncoveredEntries } from "../../../src/acl/policy-test.js";
import { failure } from "../../helpers/errors.js";
import { tempDir, writeFiles } from "../../helpers/pki.js";

const dir = tempDir();
writeFiles(dir, {
  "api.yaml": "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n  /b/**:\n    \"*\": [{OU: ops, CN: \"ops-*\"}]\n",
});

let written = 0;
function write(text: string): string {
  const name = `case-${++written}.test.yaml`;
  writeFiles(dir, { [name]: text });
  return join(dir, name);
}

/** The error for a refused file, without the leading file name. */
function refusal(file: string): string {
  return failure(() => loadPolicyTest(file)).format().slice(file.length + 1);
}

describe("policy test files", () => {
  test("peers may be maps with lists, any-case names, or --peer strings; names default to request and peer", () => {
    const loaded = loadPolicyTest(
      write(
        [
          "acl: api.yaml",
          "cases:",
          "  - {peer: {ou: [web, ops], CN: ops-1}, request: POST /b/x, expect: allow}",
          "  - {name: web reads a, peer: 'OU=web,CN=w\\,1', request: GET /a, expect: allow, entry: GET /a}",
          "  - {peer: {OU: web}, request: GET /c, expect: deny, entry: null}",
          "",
        ].join("\n"),
      ),
    );
    expect(loaded.cases.map((c) => [c.name, c.peer, c.expect, c.entry])).toEqual([
      ["POST /b/x as CN=ops-1,OU=web,OU=ops", { CN: ["ops-1"], OU: ["web", "ops"] }, "allow", undefined],
      ["web reads a", { CN: ["w,1"], OU: ["web"] }, "allow", "GET /a"],
      ["GET /c as OU=web", { OU: ["web"] }, "deny", null],
    ]);
    const outcome = runPolicyTest(loaded);
    expect([outcome.passed, outcome.failed]).toEqual([3, 0]);
  });

  test("a case passes only when both the decision and the expected entry match", () => {
    const outcome = runPolicyTest(loadPolicyTest(write("acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /b, expect: deny, entry: GET /a}\n")));
    expect(outcome.failed).toBe(1);
    expect(describeFailure(outcome.results[0]!)).toMatch(/:3:5: FAIL GET \/b as OU=web: expected deny by GET \/a, got deny \(entry: \* \/b\/\*\*; no principal of \* \/b\/\*\* matches the peer\)$/);
  });

  test("uncovered entries are those that decided no case", () => {
    const loaded = loadPolicyTest(write("acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allow}\n  - {peer: OU=web, request: GET /zzz, expect: deny}\n"));
    expect(uncoveredEntries(loaded.acl, runPolicyTest(loaded).results).map((e) => e.entry)).toEqual(["* /b/**"]);
  });

  test.each([
    ["acl: api.yaml\n", '1:1: the policy test file is missing the required key "cases"'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, expect: allow}\n", '3:5: a case is missing the required key "request"'],
    ["acl: api.yaml\ncases:\n  - {request: GET /a, expect: allow}\n", '3:5: a case needs exactly one of "peer" and "peerCert"'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, peerCert: x.pem, request: GET /a, expect: allow}\n", '3:5: a case needs exactly one of "peer" and "peerCert"'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allow, because: reasons}\n", '3:52: unknown key "because" in a case (expected one of name, peer, peerCert, source, request, expect, entry)'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET, expect: allow}\n", '3:29: bad request "GET" (expected "METHOD /path", e.g. "GET /user/42")'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, request: G(ET /a, expect: allow}\n", '3:29: bad request "G(ET /a" (expected "METHOD /path", e.g. "GET /user/42")'],
    ["acl: api.yaml\ncases:\n  - {peer: {OUU: web}, request: GET /a, expect: allow}\n", '3:13: unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL)'],
    ["acl: api.yaml\ncases:\n  - {peer: OU, request: GET /a, expect: allow}\n", '3:12: "OU" is not ATTR=VALUE (expected pairs joined by commas, e.g. OU=web,CN=web-01)'],
    ["acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allow, entry: GET /x}\n", `3:59: no entry "GET /x" in ${dir}/api.yaml (it has GET /a, * /b/**)`],
    ["acl: api.yaml\ncases:\n  - {peerCert: missing.pem, request: GET /a, expect: allow}\n", `3:16: ${dir}/missing.pem: the file does not exist (ENOENT)`],
    ["acl: nope.yaml\ncases: []\n", `1:6: ${dir}/nope.yaml: the file does not exist (ENOENT)`],
    ["acl: api.yaml\ncases: {}\n", '2:8: "cases" must be a list, not a mapping'],
  ])("%j is refused at %s", (text, expected) => {
    expect(refusal(write(text))).toBe(expected);
  });

  test("an error in the ACL itself is reported in the ACL file", () => {
    writeFiles(dir, { "broken.yaml": "version: 1\npaths:\n  /a:\n    GET: [OUU=web]\n" });
    const file = write("acl: broken.yaml\ncases: []\n");
    expect(() => loadPolicyTest(file)).toThrow(expect.objectContaining({ message: 'unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL)', position: { file: `${dir}/broken.yaml`, line: 4, col: 11 } }));
  });
});
