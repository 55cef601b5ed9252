import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { ACL_CASES, peerSpec, writeTableAcls, writeTablePolicyTests } from "../../helpers/acl-cases.js";
import { runCli } from "../../helpers/cli.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority } from "../../helpers/pki.js";

const run = promisify(execFile);

describe("guardpost acl explain on the shared table", () => {
  const acls = writeTableAcls(tempDir());

  test.each(ACL_CASES.map((c) => [c.acl, c.name, c] as const))("%s: %s", async (_acl, _name, c) => {
    const result = await runCli("acl", "explain", acls.get(c.acl)!, "--peer", peerSpec(c.peer), "--request", c.request);
    expect(result.stderr).toBe("");
    const lines = result.stdout.split("\n");
    expect(lines[0]).toBe(c.expect);
    expect(lines[1]).toMatch(c.entry === null ? /^entry: {2}none$/ : new RegExp(`^entry: {2}${escapeRegExp(c.entry)} {2}\\(.*:\\d+:\\d+\\)$`));
    expect(result.code).toBe(c.expect === "allow" ? 0 : 1);
  });
});

describe("guardpost acl test on the shared table", () => {
  test("every case passes and the summary counts them", async () => {
    const files = writeTablePolicyTests(tempDir());
    const result = await runCli("acl", "test", ...files);
    expect(result).toEqual({ code: 0, stdout: `${ACL_CASES.length} passed, 0 failed\n`, stderr: "" });
  });

  test("with every expectation turned around, every case fails with one line naming it, its decision and entry", async () => {
    const files = writeTablePolicyTests(tempDir(), { invert: true });
    const result = await runCli("acl", "test", ...files);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toBe(`0 passed, ${ACL_CASES.length} failed`);
    const failures = lines.slice(0, -1);
    expect(failures).toHaveLength(ACL_CASES.length);
    ACL_CASES.forEach((c, i) => {
      const got = c.expect;
      const wanted = `${c.expect === "allow" ? "deny" : "allow"} by ${c.entry ?? "no entry"}`;
      expect(failures.some((line) => line.includes(`: FAIL ${c.name}: expected ${wanted}, got ${got} (entry: ${c.entry ?? "none"}; `))).toBe(true);
      expect(failures[i]).toMatch(/^\/.*\.inverted\.test\.yaml:\d+:\d+: FAIL /);
    });
  });
});

describe("guardpost acl test", () => {
  test("acl/example.test.yaml passes and exercises every entry of acl/example.yaml", async () => {
    const result = await runCli("acl", "test", "--coverage", "acl/example.test.yaml");
    expect(result).toEqual({ code: 0, stdout: "coverage acl/example.yaml: 6 of 6 entries exercised\n20 passed, 0 failed\n", stderr: "" });
  });

  test("--coverage lists the entries no case exercised, with their positions, over all files for one ACL", async () => {
    const dir = tempDir();
    writeFiles(dir, {
      "api.yaml": "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n    POST: [OU=web]\n  /b/**:\n    \"*\": [OU=ops]\n",
      "one.test.yaml": "acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allow}\n",
      "two.test.yaml": "acl: api.yaml\ncases:\n  - {peer: OU=web, request: DELETE /b/x, expect: deny}\n",
    });
    const result = await runCli("acl", "test", "--coverage", join(dir, "one.test.yaml"), join(dir, "two.test.yaml"));
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`coverage ${dir}/api.yaml: 2 of 3 entries exercised\n${dir}/api.yaml:5:5: not exercised: POST /a\n2 passed, 0 failed\n`);
  });

  test("an invalid test file is reported with its position, the others still run, and the exit code is 2", async () => {
    const dir = tempDir();
    const files = writeFiles(dir, {
      "api.yaml": "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n",
      "good.test.yaml": "acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allow}\n",
      "bad.test.yaml": "acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allowed}\n",
    });
    const result = await runCli("acl", "test", files["bad.test.yaml"], files["good.test.yaml"]);
    expect(result).toEqual({ code: 2, stdout: "1 passed, 0 failed\n", stderr: `${files["bad.test.yaml"]}:3:45: "expect" must be allow or deny, not "allowed" [GP_ERR_POLICY_BAD_CASE]\n` });
  });

  test("without files it is a usage error", async () => {
    expect(await runCli("acl", "test")).toEqual({ code: 2, stdout: "", stderr: "guardpost acl test: no policy test file given (see guardpost help acl test) [GP_ERR_USAGE]\n" });
  });
});

describe("guardpost acl check", () => {
  test("prints FILE: ok for each valid file", async () => {
    expect(await runCli("acl", "check", "acl/example.yaml", "acl/example.yaml")).toEqual({ code: 0, stdout: "acl/example.yaml: ok\nacl/example.yaml: ok\n", stderr: "" });
  });

  test("checks every file and exits 2 when one is invalid or missing", async () => {
    const result = await runCli("acl", "check", "acl/example.yaml", "acl/missing.yaml", "test/fixtures/acl/invalid/unknown-attribute.yaml");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("acl/example.yaml: ok\n");
    expect(result.stderr.split("\n")).toEqual([
      "acl/missing.yaml: the file does not exist (ENOENT) [GP_ERR_FILE_READ]",
      'test/fixtures/acl/invalid/unknown-attribute.yaml:6:12: unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL) [GP_ERR_ACL_UNKNOWN_ATTRIBUTE]',
      "",
    ]);
  });

  test("a policy test file is recognised, checked as one, and pointed at acl test", async () => {
    expect(await runCli("acl", "check", "acl/example.yaml", "acl/example.test.yaml")).toEqual({
      code: 0,
      stdout: "acl/example.yaml: ok\nacl/example.test.yaml: ok (a policy test file for acl/example.yaml, 20 cases; run them with guardpost acl test acl/example.test.yaml)\n",
      stderr: "",
    });
  });

  test("an invalid policy test file is reported as acl test would report it", async () => {
    const files = writeFiles(tempDir(), { "api.yaml": "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n", "bad.test.yaml": "acl: api.yaml\ncases:\n  - {peer: OU=web, request: GET /a, expect: allowed}\n" });
    expect(await runCli("acl", "check", files["bad.test.yaml"])).toEqual({
      code: 2,
      stdout: "",
      stderr: `${files["bad.test.yaml"]}:3:45: "expect" must be allow or deny, not "allowed" [GP_ERR_POLICY_BAD_CASE]\n`,
    });
  });

  test("acl test given an ACL file says so and points at acl check", async () => {
    const result = await runCli("acl", "test", "acl/example.yaml");
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'acl/example.yaml: an ACL file, not a policy test file (it has "paths" and no "cases"); validate it with guardpost acl check acl/example.yaml, and give acl test the files whose "acl:" names it [GP_ERR_YAML_MISSING_KEY]\n',
    );
  });

  test("without files, or with an unknown option, it is a usage error", async () => {
    expect((await runCli("acl", "check")).code).toBe(2);
    const result = await runCli("acl", "check", "--strict", "acl/example.yaml");
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("guardpost acl check: unknown option --strict (this command takes no options) (see guardpost help acl check) [GP_ERR_USAGE]\n");
  });
});

describe("guardpost acl explain", () => {
  test("prints the decision, the deciding entry with its position, the reason and the peer", async () => {
    expect(await runCli("acl", "explain", "acl/example.yaml", "--peer", "OU=marketing", "--request", "DELETE /user")).toEqual({
      code: 1,
      stdout: "deny\nentry:  DELETE /user  (acl/example.yaml:15:5)\nreason: no principal of DELETE /user matches the peer\npeer:   OU=marketing\n",
      stderr: "",
    });
  });

  test("shows the normalized path when it differs from the request", async () => {
    const result = await runCli("acl", "explain", "acl/example.yaml", "--peer", "ou=web", "--request", "GET /static/../user//42?x=1");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("allow\nentry:  GET /user/{id}  (acl/example.yaml:17:5)\nreason: granted to OU=web\npeer:   OU=web\npath:   /user/42 (normalized from /static/../user//42?x=1)\n");
  });

  test("says when the ACL is in audit mode", async () => {
    const files = writeFiles(tempDir(), { "audit.yaml": "version: 1\nmode: audit\npaths: {}\n" });
    const result = await runCli("acl", "explain", files["audit.yaml"], "--peer", "OU=web", "--request", "GET /");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\nmode: {3}audit \(the proxy logs this decision but lets the request through\)\n$/);
  });

  test.each([
    [["acl/example.yaml", "--request", "GET /user"], "give exactly one of --peer and --peer-cert"],
    [["acl/example.yaml", "--peer", "OU=web", "--peer-cert", "x.pem", "--request", "GET /user"], "give exactly one of --peer and --peer-cert"],
    [["acl/example.yaml", "--peer", "OU=web"], "--request is required"],
    [["--peer", "OU=web", "--request", "GET /user"], "no ACL file given"],
  ])("%j is a usage error: %s", async (args, message) => {
    expect(await runCli("acl", "explain", ...args)).toEqual({ code: 2, stdout: "", stderr: `guardpost acl explain: ${message} (see guardpost help acl explain) [GP_ERR_USAGE]\n` });
  });

  test.each([
    [["--peer", "OUU=web", "--request", "GET /"], 'unknown attribute "OUU" (expected one of CN, OU, O, L, ST, C, DNS, URI, IP, EMAIL) [GP_ERR_PEER_SPEC]'],
    [["--peer", "OU=web", "--request", "/user"], 'bad request "/user" (expected "METHOD /path", e.g. "GET /user/42") [GP_ERR_POLICY_BAD_REQUEST]'],
    [["--peer", "OU=web", "--request", "GET user"], 'bad request "GET user" (expected "METHOD /path", e.g. "GET /user/42") [GP_ERR_POLICY_BAD_REQUEST]'],
  ])("bad input %j exits 2: %s", async (args, message) => {
    expect(await runCli("acl", "explain", "acl/example.yaml", ...args)).toEqual({ code: 2, stdout: "", stderr: `${message}\n` });
  });

  test("help shows the usage", async () => {
    const result = await runCli("help", "acl", "explain");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: guardpost acl explain ACL \(--peer P \| --peer-cert FILE\.pem\) \[--source ADDR\] --request "METHOD \/path"/);
  });
});

describe("certificates as peers", () => {
  let ca: CertificateAuthority;
  let dir: string;
  beforeAll(async () => {
    ca = await createCa();
    dir = tempDir();
    mkdirSync(join(dir, "certs"));
    const web = await ca.issue({ cn: "web-01", ou: ["web", "ops"] });
    const forged = await ca.issue({ cn: "x,OU=web", ou: "marketing" });
    const api = await ca.issue({ cn: "api-02", ou: "payments", sans: { uri: ["spiffe://prod/ns/pay/sa/api"] } });
    writeFiles(dir, {
      "certs/web.pem": web.cert,
      "certs/forged.pem": forged.cert,
      "certs/api.pem": api.chain,
      "certs/junk.pem": "junk\n",
      "example.yaml": `version: 1\ngroups:\n  frontends: [OU=web, OU=fulfillment]\npaths:\n  /user:\n    DELETE: [OU=web]\n  /user/{id}:\n    GET: [OU=web, {OU: payments, CN: "api-*"}]\n  /admin/**:\n    "*": [OU=ops]\n`,
    });
  });

  test("--peer-cert reads every OU of the certificate", async () => {
    const result = await runCli("acl", "explain", join(dir, "example.yaml"), "--peer-cert", join(dir, "certs/web.pem"), "--request", "POST /admin/x");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("\npeer:   CN=web-01,OU=web,OU=ops\n");
  });

  test("--peer-cert with a CN of x,OU=web is not OU=web", async () => {
    const result = await runCli("acl", "explain", join(dir, "example.yaml"), "--peer-cert", join(dir, "certs/forged.pem"), "--request", "DELETE /user");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("\npeer:   CN=x\\,OU=web,OU=marketing\n");
  });

  test("--peer-cert with a file that is not a certificate exits 2 naming it", async () => {
    const result = await runCli("acl", "explain", join(dir, "example.yaml"), "--peer-cert", join(dir, "certs/junk.pem"), "--request", "GET /");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${escapeRegExp(join(dir, "certs/junk.pem"))}: not a PEM or DER certificate`));
  });

  test("policy tests read peerCert relative to the test file; the leaf of a chain file is the peer", async () => {
    const files = writeFiles(dir, {
      "certs.test.yaml": [
        "acl: example.yaml",
        "cases:",
        "  - {peerCert: certs/web.pem, request: DELETE /user, expect: allow}",
        "  - {peerCert: certs/forged.pem, request: DELETE /user, expect: deny}",
        "  - {peerCert: certs/api.pem, request: GET /user/9, expect: allow, entry: 'GET /user/{id}'}",
        "  - {peerCert: certs/api.pem, request: DELETE /user, expect: allow}",
        "",
      ].join("\n"),
    });
    const result = await runCli("acl", "test", files["certs.test.yaml"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `${files["certs.test.yaml"]}:6:5: FAIL DELETE /user as peerCert certs/api.pem: expected allow, got deny (entry: DELETE /user; no principal of DELETE /user matches the peer)\n3 passed, 1 failed\n`,
    );
  });
});

describe("the built CLI (npm run build)", () => {
  const main = "dist/cli/main.js";

  test("acl check and acl test work from dist/", async () => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build (npm test does it first)`);
    const check = await run(process.execPath, [main, "acl", "check", "acl/example.yaml"]);
    expect(check.stdout).toBe("acl/example.yaml: ok\n");
    const tested = await run(process.execPath, [main, "acl", "test", "acl/example.test.yaml"]);
    expect(tested.stdout).toBe("20 passed, 0 failed\n");
  });

  test("a deny exits 1 and an invalid file exits 2", async () => {
    const denied = await run(process.execPath, [main, "acl", "explain", "acl/example.yaml", "--peer", "OU=marketing", "--request", "DELETE /user"]).catch((err: { code: number; stdout: string }) => err);
    expect(denied).toMatchObject({ code: 1, stdout: expect.stringMatching(/^deny\n/) });
    const invalid = await run(process.execPath, [main, "acl", "check", "test/fixtures/acl/invalid/group-cycle.yaml"]).catch((err: { code: number; stderr: string }) => err);
    expect(invalid).toMatchObject({ code: 2, stderr: "test/fixtures/acl/invalid/group-cycle.yaml:5:7: groups refer to each other in a cycle: @a -> @b -> @a [GP_ERR_ACL_BAD_GROUP]\n" });
  });

  test('the package exports loadAcl as import { loadAcl } from "guardpost"', async () => {
    const script = 'import { loadAcl } from "guardpost"; const d = loadAcl("acl/example.yaml").decide({ method: "DELETE", path: "/user", peer: { OU: "marketing" } }); console.log(JSON.stringify(d));';
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    expect(JSON.parse(stdout)).toEqual({ allow: false, entry: "DELETE /user", reason: "no principal of DELETE /user matches the peer" });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
