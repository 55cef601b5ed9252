import { gzipSync } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileAcl } from "../../../src/acl/compile.js";
import { loadPolicyTest, runPolicyTest } from "../../../src/acl/policy-test.js";
import { MAX_LITERALS, Suggester } from "../../../src/acl/suggest.js";
import { run } from "../../../src/cli/run.js";
import { runCli } from "../../helpers/cli.js";
import { tempDir, writeFiles } from "../../helpers/pki.js";
import { fuzzParams } from "../../helpers/property.js";

/** An access line as guardpost writes it; `extra` overrides fields. */
function line(method: string, path: string, peer: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ level: "info", time: "2026-12-02T03:00:00.000Z", pid: 1, listener: "inbound", peer: { serial: "0A1B", ...peer }, remote: "127.0.0.1", requestId: "r", method, path, route: "inbound", entry: null, decision: "allow", status: 200, durationMs: 1.2, msg: "request", ...extra });
}

function suggest(lines: readonly string[], options: ConstructorParameters<typeof Suggester>[0] = {}) {
  const s = new Suggester(options);
  for (const l of lines) s.add(l);
  return s.finish();
}

const web = { cn: "web-01", ou: ["web"] };
const pay = { cn: "pay-1", ou: "payments" };

describe("acl suggest: what it grants", () => {
  test("exactly the observed calls, grouped by OU, in a stable order, with counts and first/last seen", () => {
    const lines = [
      line("GET", "/user", web, { time: "2026-12-02T03:00:05.000Z" }),
      line("GET", "/user", web, { time: "2026-12-02T03:00:01.000Z" }),
      line("DELETE", "/user", pay, { decision: "would_deny" }),
      line("GET", "/user", pay),
    ];
    const { acl } = suggest(lines);
    const again = suggest([...lines].reverse()).acl;
    expect(again).toBe(acl);
    expect(acl).toContain(`  /user:
    GET:
      - OU=payments  # 1 call, first 2026-12-02T03:00:00.000Z, last 2026-12-02T03:00:00.000Z
      - OU=web       # 2 calls, first 2026-12-02T03:00:01.000Z, last 2026-12-02T03:00:05.000Z
    DELETE:
      - OU=payments  # 1 call (1 would_deny), first 2026-12-02T03:00:00.000Z, last 2026-12-02T03:00:00.000Z
`);
    const compiled = compileAcl("s.yaml", acl);
    expect(compiled.decide({ method: "GET", path: "/user", peer: { OU: "web" } }).allow).toBe(true);
    expect(compiled.decide({ method: "DELETE", path: "/user", peer: { OU: "web" } }).allow).toBe(false);
    expect(compiled.decide({ method: "GET", path: "/user/1", peer: { OU: "web" } }).allow).toBe(false);
  });

  test("identifier-like segments fold into {id}; literal segments stay literal; no /** unless asked", () => {
    const ids = ["42", "7", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "0123456789abcdef0123"];
    const { acl } = suggest([...ids.map((id) => line("GET", `/user/${id}`, web)), line("GET", "/user/me", web), line("PUT", `/user/9/avatar/${"ab12".repeat(5)}`, web)]);
    const paths = [...acl.matchAll(/^ {2}(\S+):$/gm)].map((m) => m[1]);
    expect(paths).toEqual(["/user/me", "/user/{id}", "/user/{id}/avatar/{id2}"]);
    expect(acl).not.toContain("**");
  });

  test(`more than ${MAX_LITERALS} distinct values at one position fold into {id}; fewer stay literal`, () => {
    const names = Array.from({ length: MAX_LITERALS + 1 }, (_, i) => `user-n${i}`);
    const many = suggest(names.map((n) => line("GET", `/profile/${n}/photo`, web))).acl;
    expect([...many.matchAll(/^ {2}(\S+):$/gm)].map((m) => m[1])).toEqual(["/profile/{id}/photo"]);
    const few = suggest(names.slice(0, 3).map((n) => line("GET", `/profile/${n}/photo`, web))).acl;
    expect([...few.matchAll(/^ {2}(\S+):$/gm)].map((m) => m[1])).toEqual(names.slice(0, 3).map((n) => `/profile/${n}/photo`));
  });

  test("--allow-globs: many values of differing depth below one prefix become one /**", () => {
    const lines = Array.from({ length: MAX_LITERALS + 5 }, (_, i) => line("GET", `/static/f${i}${i % 2 ? "/deep" : ""}`, web));
    expect(suggest(lines, { allowGlobs: true }).acl).toMatch(/^ {2}\/static\/\*\*:$/m);
    expect(suggest(lines).acl).not.toContain("**");
  });

  test("--by OU,CN grants attribute maps; a peer without a --by attribute is counted, not granted", () => {
    const s = suggest([line("GET", "/a", web), line("GET", "/a", { cn: "no-ou" }), line("GET", "/a", { ou: "x*y", cn: "c" })], { by: ["OU", "CN"] });
    expect(s.acl).toContain("      - {OU: web, CN: web-01}");
    expect(s.counts.ungrouped).toBe(2);
  });

  test("--min-count leaves out calls seen fewer times", () => {
    const s = suggest([line("GET", "/often", web), line("GET", "/often", web), line("GET", "/once", web)], { minCount: 2 });
    expect(s.acl).toContain("/often:");
    expect(s.acl).not.toContain("/once:");
    expect(s.acl).toMatch(/Left out 1 calls seen fewer than 2 times/);
  });

  test("with the ACL in service: what to add and what was never used, with positions", () => {
    const current = compileAcl("current.yaml", "version: 1\npaths:\n  /user:\n    GET: [OU=web, OU=ops]\n    DELETE: [OU=ops]\n");
    const { acl } = suggest([line("GET", "/user", web), line("GET", "/user/5", web)], { current });
    expect(acl).toContain("#   + OU=web GET /user/{id}  (1 call denied now: no path in the ACL matches)");
    expect(acl).toContain("#   - OU=ops in GET /user  (current.yaml:4:5): never granted a call");
    expect(acl).toContain("#   - DELETE /user  (current.yaml:5:5): no call used it");
    compileAcl("s.yaml", acl);
  });

  test("the policy test file it writes passes against the suggestion: allow for observed calls, deny for near misses", () => {
    const dir = tempDir();
    const s = suggest([line("GET", "/user/42", web), line("POST", "/user", pay), line("GET", "/user", pay)]);
    writeFileSync(join(dir, "s.yaml"), s.acl);
    writeFileSync(join(dir, "s.test.yaml"), s.tests("s.yaml"));
    const result = runPolicyTest(loadPolicyTest(join(dir, "s.test.yaml")));
    expect(result.failed).toBe(0);
    const expects = result.results.map((r) => `${r.case.expect} ${r.case.method} ${r.case.target} ${r.case.peer.OU}`);
    expect(expects).toEqual(expect.arrayContaining(["allow GET /user/42 web", "deny GET /user/42 payments", "deny DELETE /user/42 web", "allow POST /user payments", "deny POST /user web"]));
  });
});

describe("acl suggest: reading logs tolerantly", () => {
  test("epoch-millisecond times, other certificate attributes, a protocol field and future decisions are understood", () => {
    const s = suggest([
      line("GET", "/a", { cn: "w", ou: "web", o: ["Acme"], dns: ["w.internal"], uri: "spiffe://x" }, { time: Date.parse("2026-01-01T00:00:00Z"), protocol: "h2" }),
      line("GET", "/a", web, { decision: "deny" }),
      line("GET", "/a", web, { decision: "error" }),
      line("GET", "/a", web, { decision: "shadow_deny" }),
    ]);
    expect(s.acl).toContain("# 1 call, first 2026-01-01T00:00:00.000Z");
    expect(s.counts).toMatchObject({ used: 1, denied: 1, errors: 1, other: 1 });
  });

  test.each([
    ["not JSON", "127.0.0.1 - - [02/Dec/2026] \"GET / HTTP/1.1\" 200", "malformed"],
    ["truncated JSON", line("GET", "/a", web).slice(0, 40), "malformed"],
    ["a JSON array", "[1,2,3]", "malformed"],
    ["a JSON string", '"request"', "malformed"],
    ["guardpost's other lines", JSON.stringify({ level: "warn", msg: "TLS handshake refused", event: "tls_handshake_failed" }), "other"],
    ["another tool's JSON", JSON.stringify({ ts: 1, message: "GET /a", status: 200 }), "other"],
    ["a method that is not a token", line("GE T", "/a", web), "other"],
    ["a path that is not origin-form", line("GET", "http://evil/a", web), "other"],
    ["a path with an encoded slash", line("GET", "/a%2Fb", web), "other"],
    ["peer not an object", line("GET", "/a", {}, { peer: "OU=web" }), "ungrouped"],
    ["prototype keys", line("GET", "/a", {}, { peer: JSON.parse('{"__proto__": {"ou": "web"}, "constructor": "x"}') }), "ungrouped"],
  ])("%s is skipped and counted, never fatal", (_name, text, counter) => {
    const s = suggest([text, line("GET", "/ok", web)]);
    expect(s.counts[counter as "malformed"]).toBe(1);
    expect(s.counts.used).toBe(1);
    compileAcl("s.yaml", s.acl);
  });

  test("any mix of garbage and real lines gives a suggestion that compiles and grants every used call", () => {
    const real = fc.record({ method: fc.constantFrom("GET", "POST", "DELETE", "PATCH"), path: fc.array(fc.constantFrom("a", "b", "42", "x y", "caf%C3%A9", "%7E", "*", "{x}"), { maxLength: 4 }).map((p) => `/${p.join("/")}`), ou: fc.constantFrom("web", "ops", "a b", "x:y", "#z") });
    const garbage = fc.oneof(fc.string({ unit: "binary" }), fc.json(), fc.constant("{"), fc.constant('{"msg":"request","method":"GET","path":"/a","decision":"allow","peer":{"ou":[1,{}]}}'));
    fc.assert(
      fc.property(fc.array(fc.oneof(real.map((r) => ({ r })), garbage.map((g) => ({ g }))), { maxLength: 40 }), (items) => {
        const s = new Suggester();
        for (const item of items) s.add("r" in item ? line(item.r.method, item.r.path, { ou: item.r.ou }) : item.g);
        const out = s.finish();
        const acl = compileAcl("s.yaml", out.acl);
        for (const item of items) {
          if (!("r" in item)) continue;
          const d = acl.decide({ method: item.r.method, path: item.r.path, peer: { OU: item.r.ou } });
          // Every call it used is granted (a path the proxy would refuse with 400 was not used).
          if (!d.reason.startsWith("the proxy refuses")) expect(d.allow, `${item.r.method} ${item.r.path} as ${item.r.ou}\n${out.acl}`).toBe(true);
        }
      }),
      fuzzParams(300),
    );
  });
});

describe("guardpost acl suggest (CLI)", () => {
  const dir = tempDir();
  const text = [line("GET", "/user/1", web), line("GET", "/user", pay), "garbage"].join("\n") + "\n";
  const files = writeFiles(dir, { "access.log": text, "current.yaml": "version: 1\npaths:\n  /user:\n    GET: [OU=web]\n" });
  writeFileSync(join(dir, "access.log.1"), gzipSync(text));

  test("reads plain and gzip files (by content, not name), writes the ACL to stdout and counts to stderr", async () => {
    const r = await runCli("acl", "suggest", "--from", files["access.log"], join(dir, "access.log.1"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# Suggested by guardpost acl suggest: the calls seen in 6 access-log lines/);
    expect(r.stdout).toContain("      - OU=web  # 2 calls");
    expect(r.stderr).toMatch(/^acl suggest: 6 lines: 4 used .* 2 malformed/);
    writeFileSync(join(dir, "out.yaml"), r.stdout);
    expect((await runCli("acl", "check", join(dir, "out.yaml"))).code).toBe(0);
  });

  test("--from - reads stdin", async () => {
    let stdout = "";
    const code = await run(["acl", "suggest", "--from", "-"], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true }, stdin: () => Readable.from([Buffer.from(text)]), env: {} });
    expect(code).toBe(0);
    expect(stdout).toContain("/user/{id}:");
  });

  test("--tests FILE writes cases that pass acl test against the suggestion saved next to it", async () => {
    const r = await runCli("acl", "suggest", "--from", files["access.log"], "--tests", join(dir, "svc.test.yaml"));
    writeFileSync(join(dir, "svc.yaml"), r.stdout);
    expect(readFileSync(join(dir, "svc.test.yaml"), "utf8")).toMatch(/^acl: "svc\.yaml"$/m);
    const t = await runCli("acl", "test", join(dir, "svc.test.yaml"));
    expect([t.code, t.stdout]).toEqual([0, expect.stringMatching(/^\d+ passed, 0 failed\n$/)]);
  });

  test("--acl CURRENT reports what to add and what was never used", async () => {
    const r = await runCli("acl", "suggest", "--from", files["access.log"], "--acl", files["current.yaml"]);
    expect(r.stdout).toContain("#   + OU=payments GET /user  (1 call denied now: GET /user: no principal of GET /user matches the peer)");
  });

  test.each([
    [["--from", "/nonexistent/access.log"], 2, /nonexistent\/access\.log: cannot read file: ENOENT/],
    [[], 2, /no log given/],
    [["--from", "a", "--by", "OUU"], 2, /unknown attribute "OUU" in --by/],
    [["--from", "a", "--min-count", "0"], 2, /--min-count must be a whole number/],
    [["--from", "a", "--min-count", "1e3"], 2, /--min-count must be a whole number/],
    [["--from", "-", "--from", "-"], 2, /stdin \(-\) can be read once/],
  ])("bad input %j exits %i", async (args, code, message) => {
    const r = await runCli("acl", "suggest", ...args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  test("a truncated gzip file is an error naming it, not a partial suggestion", async () => {
    const cut = join(dir, "cut.log.gz");
    const gz = gzipSync(text.repeat(50));
    writeFileSync(cut, gz.subarray(0, gz.length - 20));
    const r = await runCli("acl", "suggest", "--from", cut);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/cut\.log\.gz: cannot read log: /);
  });

  test("a line of 8 MB is skipped as malformed without being held whole", async () => {
    const big = join(dir, "big.log");
    writeFileSync(big, `${line("GET", "/a", web)}\n{"msg":"request","path":"/${"x".repeat(8 << 20)}"}\n${line("GET", "/b", web)}\n`);
    const before = process.memoryUsage().rss;
    const r = await runCli("acl", "suggest", "--from", big);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/3 lines: 2 used .* 1 malformed/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 << 20);
  });

  test("help lists it and its options", async () => {
    const r = await runCli("help", "acl", "suggest");
    expect(r.stdout).toMatch(/^usage: guardpost acl suggest --from LOG\.\.\. \[--by ATTR,\.\.\.\] \[--acl CURRENT\] \[--tests FILE\]/);
    expect((await runCli("help")).stdout).toMatch(/acl suggest +write the least-privilege ACL/);
    expect((await runCli("help")).stdout).toMatch(/acl diff +print every change of access/);
  });
});
