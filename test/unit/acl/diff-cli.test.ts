import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { runCli } from "../../helpers/cli.js";
import { tempDir, writeFiles } from "../../helpers/pki.js";

const OLD = "version: 1\npaths:\n  /user:\n    GET: [OU=web]\n    DELETE: [OU=web]\n";
const files = writeFiles(tempDir(), {
  "old.yaml": OLD,
  "same.yaml": "version: 1\npaths:\n  /user:\n    DELETE: [OU=web]\n    GET: [OU=web]\n",
  "narrower.yaml": "version: 1\npaths:\n  /user:\n    GET: [OU=web]\n",
  "wider.yaml": "version: 1\npaths:\n  /user:\n    GET: [OU=web, OU=marketing]\n    DELETE: [OU=web]\n",
  "invalid.yaml": "version: 1\npaths:\n  /user:\n    GET: [OUU=web]\n",
  "not-yaml.yaml": "version: 1\npaths: [\n",
});

describe("guardpost acl diff", () => {
  test("no change of access exits 0 and says so", async () => {
    const r = await runCli("acl", "diff", files["old.yaml"], files["same.yaml"]);
    expect([r.code, r.stdout]).toEqual([0, "no change of access\n"]);
  });

  test("a change exits 1 with one line per change naming the deciding entry and position", async () => {
    const r = await runCli("acl", "diff", files["old.yaml"], files["wider.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`+ OU=marketing may GET, HEAD /user   (${files["wider.yaml"]}:4:5 GET /user; was ${files["old.yaml"]}:4:5 GET /user)\n`);
  });

  test("--fail-on widen exits 0 when access only shrank, 1 when some was added", async () => {
    const narrower = await runCli("acl", "diff", "--fail-on", "widen", files["old.yaml"], files["narrower.yaml"]);
    expect(narrower.code).toBe(0);
    expect(narrower.stdout).toMatch(/^- OU=web may no longer DELETE \/user {3}\(.*old\.yaml:5:5 DELETE \/user; now no entry\)\n$/);
    expect((await runCli("acl", "diff", "--fail-on", "widen", files["old.yaml"], files["wider.yaml"])).code).toBe(1);
    expect((await runCli("acl", "diff", "--fail-on", "any", files["old.yaml"], files["narrower.yaml"])).code).toBe(1);
  });

  test("--format json gives every change with its region, entries and a witness request", async () => {
    const r = await runCli("acl", "diff", "--format", "json", files["old.yaml"], files["wider.yaml"]);
    expect(r.code).toBe(1);
    const diff = JSON.parse(r.stdout);
    expect(diff.changes).toHaveLength(1);
    expect(diff.changes[0]).toMatchObject({
      kind: "widen",
      principal: "OU=marketing",
      conditions: [{ attribute: "OU", pattern: "marketing" }],
      methods: ["GET", "HEAD"],
      path: { text: "/user", exact: true, below: false },
      new: { entry: "GET /user", position: { line: 4, col: 5 } },
      witness: { path: "/user", peer: { OU: "marketing" } },
    });
  });

  test.each([
    [["invalid.yaml"], /invalid\.yaml:4:11: unknown attribute "OUU"/],
    [["not-yaml.yaml"], /not-yaml\.yaml:\d+:\d+: /],
    [["missing.yaml"], /missing\.yaml: the file does not exist \(ENOENT\)/],
  ])("an invalid or missing NEW file (%s) exits 2 naming the file (and line:col when it parses)", async ([name], message) => {
    const r = await runCli("acl", "diff", files["old.yaml"], files[name as keyof typeof files] ?? join(dirname(files["old.yaml"]), name));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test.each([
    [[], /give exactly two ACL files/],
    [["a.yaml"], /give exactly two ACL files/],
    [["a", "b", "c"], /give exactly two ACL files/],
    [["--fail-on", "narrow", "a", "b"], /--fail-on must be widen or any/],
    [["--format", "yaml", "a", "b"], /--format must be text or json/],
    [["--nope", "a", "b"], /unknown option --nope/],
  ])("bad usage %j exits 2", async (args, message) => {
    const r = await runCli("acl", "diff", ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test("the example's next version diffs as a reviewer reads it", async () => {
    const r = await runCli("acl", "diff", "acl/example.yaml", "acl/example.v2.yaml");
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => l !== "")).toEqual([
      "- OU=ops may no longer call any method on /admin/** unless {OU: ops, SRC: 10.20.0.0/16}   (acl/example.yaml:21:5 * /admin/**; now acl/example.v2.yaml:21:5 * /admin/**)",
      "- OU=web may no longer DELETE /user   (acl/example.yaml:15:5 DELETE /user; now no entry)",
      "+ OU=marketing may GET, HEAD /user/{id}   (acl/example.v2.yaml:16:5 GET /user/{id}; was acl/example.yaml:17:5 GET /user/{id})",
    ]);
  });
});
