/**
 * `SRC=` principals: source networks parsed strictly at load time, matched
 * against a source address parsed once per connection, and never a silent
 * deny when a library caller or policy case forgot the source.
 */
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { aclRules, compileAcl } from "../../../src/acl/compile.js";
import { referenceEvaluate } from "../../../src/acl/reference.js";
import { loadPolicyTest, runPolicyTest } from "../../../src/acl/policy-test.js";
import { GuardpostError } from "../../../src/errors.js";
import { canonicalPeer } from "../../../src/identity/attributes.js";
import { formatAddress, parseAddress, parseNetwork, peerWithSource, type Network } from "../../../src/identity/source-address.js";
import { loadConfig } from "../../../src/config/load.js";
import { failure } from "../../helpers/errors.js";
import { runCli } from "../../helpers/cli.js";
import { tempDir, writeFiles } from "../../helpers/pki.js";
import { randomAcl, randomRequests, PRINCIPALS } from "../../helpers/acl-random.js";
import { fuzzParams } from "../../helpers/property.js";
import { schemaAccepts } from "../../helpers/schemas.js";

const network = (text: string) => {
  const parsed = parseNetwork(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed as Network;
};

describe("source networks", () => {
  test.each([
    ["10.1.0.0/16", "10.1.0.0/16"],
    ["10.1.2.3", "10.1.2.3"],
    ["10.1.2.3/32", "10.1.2.3"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:DB8::/32", "2001:db8::/32"],
    ["2001:db8:0:0:0:0:0:1", "2001:db8::1"],
    ["::1", "::1"],
    ["::/0", "::/0"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
  ])("%s is the network %s", (text, canonical) => {
    expect(network(text).text).toBe(canonical);
  });

  test.each([
    ["10.0.0.0/33", /prefix "33"/],
    ["10.0.0.0/-1", /prefix/],
    ["10.0.0.0/", /prefix ""/],
    ["10.0.0.0/08", /prefix "08"/],
    ["2001:db8::/129", /prefix "129"/],
    ["fe80::1%eth0", /zone id/],
    ["fe80::1%eth0/64", /zone id/],
    ["10.1.2.3/16", /host bits set .*did you mean 10\.1\.0\.0\/16/],
    ["010.0.0.1", /not an IPv4 or IPv6 address/],
    ["10.0.0", /not an IPv4/],
    ["10.0.0.256", /not an IPv4/],
    ["1::2::3", /not an IPv4/],
    ["1:2:3:4:5:6:7:8:9", /not an IPv4/],
    ["::ffff:10.0.0.0/64", /IPv4-mapped .*shorter than \/96/],
    ["garbage", /not an IPv4/],
    ["10.0.0.0/8/8", /prefix/],
    ["", /not an IPv4/],
  ])("%s is refused saying why", (text, why) => {
    const parsed = parseNetwork(text);
    expect(typeof parsed).toBe("string");
    expect(parsed).toMatch(why);
  });

  test("an IPv4-mapped IPv6 client address is its IPv4 address; IPv6 networks never match IPv4 clients", () => {
    expect(parseAddress("::ffff:10.1.2.3")).toEqual(parseAddress("10.1.2.3"));
    expect(parseAddress("::ffff:a01:203")).toEqual(parseAddress("10.1.2.3"));
    expect(formatAddress(parseAddress("::FFFF:10.1.2.3")!)).toBe("10.1.2.3");
    const acl = compileAcl("a.yaml", 'version: 1\npaths:\n  /a:\n    GET: [SRC=10.0.0.0/8]\n  /b:\n    GET: ["SRC=::/0"]\n');
    const at = (path: string, source: string) => acl.evaluate("GET", path, peerWithSource({}, source)).allow;
    expect([at("/a", "::ffff:10.1.2.3"), at("/a", "10.255.0.1"), at("/a", "11.0.0.1"), at("/a", "fe80::1")]).toEqual([true, true, false, false]);
    expect([at("/b", "2001:db8::1"), at("/b", "10.1.2.3"), at("/b", "::ffff:10.1.2.3")]).toEqual([true, false, false]);
  });

  test("an unreadable connection address matches no network", () => {
    const acl = compileAcl("a.yaml", "version: 1\npaths:\n  /a:\n    GET: [SRC=0.0.0.0/0, \"SRC=::/0\"]\n");
    expect(acl.evaluate("GET", "/a", peerWithSource({}, undefined)).allow).toBe(false);
    expect(acl.evaluate("GET", "/a", peerWithSource({}, "not an address")).allow).toBe(false);
  });

  test("network edges: the first and last address are inside, their neighbours outside", () => {
    const acl = compileAcl("a.yaml", 'version: 1\npaths:\n  /a:\n    GET: [SRC=10.1.0.0/16, "SRC=2001:db8:8000::/33"]\n');
    const at = (source: string) => acl.decide({ method: "GET", path: "/a", peer: {}, source }).allow;
    expect([at("10.1.0.0"), at("10.1.255.255"), at("10.0.255.255"), at("10.2.0.0")]).toEqual([true, true, false, false]);
    expect([at("2001:db8:8000::"), at("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), at("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"), at("2001:db9::")]).toEqual([true, true, false, false]);
  });
});

describe("SRC in ACLs", () => {
  const text = `version: 1
groups:
  office: [SRC=192.0.2.0/24, {OU: ops, SRC: "2001:db8::/32"}]
paths:
  /a:
    GET: [{OU: web, SRC: 10.1.0.0/16}]
  /b:
    GET: ["@office"]
  /c:
    GET: [OU=web, SRC=10.9.0.0/16]
`;
  const acl = compileAcl("src.yaml", text);

  test("alone, in an all-of map and in a group; decisions name the principal", () => {
    const d = (path: string, peer: Record<string, string>, source: string) => acl.decide({ method: "GET", path, peer, source });
    expect(d("/a", { OU: "web" }, "10.1.2.3")).toMatchObject({ allow: true, reason: "granted to {OU: web, SRC: 10.1.0.0/16}" });
    expect(d("/a", { OU: "web" }, "10.2.0.1").allow).toBe(false);
    expect(d("/a", { OU: "ops" }, "10.1.2.3").allow).toBe(false);
    expect(d("/b", { OU: "x" }, "192.0.2.77")).toMatchObject({ allow: true, reason: "granted to SRC=192.0.2.0/24 via @office" });
    expect(d("/b", { OU: "ops" }, "2001:db8::5")).toMatchObject({ allow: true, reason: 'granted to {OU: ops, SRC: "2001:db8::/32"} via @office' });
    expect(d("/b", { OU: "web" }, "2001:db8::5").allow).toBe(false);
  });

  test("a decision that needs the source and has none is an error saying so, not a deny", () => {
    const error = failure(() => acl.decide({ method: "GET", path: "/a", peer: { OU: "web" } }));
    expect(error.code).toBe("GP_ERR_ACL_SOURCE_REQUIRED");
    expect(error.message).toMatch(/depends on the source address \(principal SRC=10\.1\.0\.0\/16\)/);
    // Certificate conditions are tested first: a peer they already refuse needs no source.
    expect(acl.decide({ method: "GET", path: "/a", peer: { OU: "ops" } }).allow).toBe(false);
    // An earlier principal that grants decides without the source.
    expect(acl.decide({ method: "GET", path: "/c", peer: { OU: "web" } }).allow).toBe(true);
    expect(failure(() => acl.decide({ method: "GET", path: "/c", peer: { OU: "ops" } })).code).toBe("GP_ERR_ACL_SOURCE_REQUIRED");
  });

  test("a malformed source given by a library caller is refused", () => {
    expect(failure(() => acl.decide({ method: "GET", path: "/a", peer: {}, source: "10.0.0.0/8" })).code).toBe("GP_ERR_SOURCE_ADDRESS");
    expect(failure(() => acl.decide({ method: "GET", path: "/a", peer: {}, source: "fe80::1%eth0" })).code).toBe("GP_ERR_SOURCE_ADDRESS");
  });

  test.each([
    ["GET: [SRC=10.0.0.0/33]", 4, 11, /bad source network: prefix "33"/],
    ["GET: [SRC=fe80::1%eth0]", 4, 11, /zone id/],
    ["GET: [SRC=garbage]", 4, 11, /"garbage" is not an IPv4 or IPv6 address .*expected a CIDR such as 10\.1\.0\.0\/16/],
    ["GET: [{OU: web, SRC: 10.1.2.3/8}]", 4, 26, /host bits set/],
    ["GET: [SRC=]", 4, 11, /empty value .*SRC=10\.0\.0\.0\/8/],
    ["GET: [SRCX=10.0.0.0/8]", 4, 11, /unknown attribute "SRCX"/],
  ])("%s is refused at file:line:col", (line, row, col, why) => {
    const error = failure(() => compileAcl("bad.yaml", `version: 1\npaths:\n  /a:\n    ${line}\n`));
    expect(["GP_ERR_ACL_BAD_NETWORK", "GP_ERR_ACL_BAD_PRINCIPAL", "GP_ERR_ACL_UNKNOWN_ATTRIBUTE"]).toContain(error.code);
    expect(error.format()).toMatch(new RegExp(`^bad\\.yaml:${row}:${col}: `));
    expect(error.message).toMatch(why);
  });

  test("SRC is refused in a config's expect, which matches a server certificate", async () => {
    const dir = tempDir();
    const ca = (await import("../../helpers/pki.js")).createCa;
    const authority = await ca();
    const cert = await authority.issue({ cn: "svc", sans: { dns: ["localhost"] } });
    const files = writeFiles(dir, {
      "s.crt": cert.chain,
      "s.key": cert.key,
      "ca.crt": authority.cert,
      "g.yaml": `tls: {cert: s.crt, key: s.key, ca: ca.crt}\noutbound:\n  - listen: 127.0.0.1:0\n    upstream: https://localhost:9\n    expect: [SRC=10.0.0.0/8]\n`,
    });
    const error = failure(() => loadConfig(files["g.yaml"]));
    expect(error.code).toBe("GP_ERR_ACL_UNKNOWN_ATTRIBUTE");
    expect(error.message).toMatch(/SRC .* is not available here/);
  });

  test("evaluate() with SRC principals gives the reference's Decision for random ACLs, requests and sources", () => {
    const principals = fc.array(fc.constantFrom(...PRINCIPALS, "SRC=10.0.0.0/8", "SRC=10.1.0.0/16", "SRC=2001:db8::/32", { OU: "web", SRC: "10.1.0.0/16" }), { maxLength: 3 });
    const sources = ["10.1.2.3", "10.2.0.1", "::ffff:10.1.0.9", "2001:db8::1", "192.0.2.1"];
    fc.assert(
      fc.property(
        randomAcl({ principals }).chain((a) => fc.tuple(fc.constant(a), randomRequests(a.patterns), fc.array(fc.constantFrom(...sources), { minLength: 30, maxLength: 30 }))),
        ([{ text }, requests, picked]) => {
          const compiled = compileAcl("random.yaml", text);
          requests.forEach(({ method, path, peer }, i) => {
            const withSource = peerWithSource(peer, picked[i]!);
            expect(compiled.evaluate(method, path, withSource)).toEqual(referenceEvaluate(aclRules(compiled), method, path, withSource));
          });
        },
      ),
      fuzzParams(500),
    );
  });
});

describe("source in policy tests and acl explain", () => {
  const dir = tempDir();
  const files = writeFiles(dir, {
    "acl.yaml": "version: 1\npaths:\n  /a:\n    GET: [{OU: web, SRC: 10.1.0.0/16}]\n  /open:\n    GET: [OU=web]\n",
    "ok.test.yaml": "acl: acl.yaml\ncases:\n  - peer: OU=web\n    source: 10.1.2.3\n    request: GET /a\n    expect: allow\n  - peer: OU=web\n    source: ::ffff:10.2.0.1\n    request: GET /a\n    expect: deny\n  - peer: OU=web\n    request: GET /open\n    expect: allow\n",
    "missing.test.yaml": "acl: acl.yaml\ncases:\n  - peer: OU=web\n    request: GET /open\n    expect: allow\n  - name: web from nowhere\n    peer: OU=web\n    request: GET /a\n    expect: deny\n",
    "bad.test.yaml": "acl: acl.yaml\ncases:\n  - peer: OU=web\n    source: 10.1.0.0/16\n    request: GET /a\n    expect: allow\n",
  });

  test("source: decides SRC principals; default case names show it", () => {
    const result = runPolicyTest(loadPolicyTest(files["ok.test.yaml"]));
    expect([result.passed, result.failed]).toEqual([3, 0]);
    expect(result.results[0]!.case.name).toBe("GET /a as OU=web from 10.1.2.3");
  });

  test("a case decided by an SRC principal without source: is an error at the case, not a deny", async () => {
    const error = failure(() => runPolicyTest(loadPolicyTest(files["missing.test.yaml"])));
    expect(error.code).toBe("GP_ERR_ACL_SOURCE_REQUIRED");
    expect(error.format()).toMatch(/missing\.test\.yaml:6:5: case "web from nowhere": the decision depends on the source address .*add "source: ADDRESS"/);
    const cli = await runCli("acl", "test", files["missing.test.yaml"]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/missing\.test\.yaml:6:5: .*GP_ERR|missing\.test\.yaml:6:5: case/);
  });

  test("a source: that is not an address is refused at its position", () => {
    const error = failure(() => loadPolicyTest(files["bad.test.yaml"]));
    expect(error.code).toBe("GP_ERR_SOURCE_ADDRESS");
    expect(error.format()).toMatch(/^.*bad\.test\.yaml:4:13: bad source address "10\.1\.0\.0\/16"/);
  });

  test("acl explain --source decides and shows the source; without it the error says to pass one", async () => {
    const allow = await runCli("acl", "explain", files["acl.yaml"], "--peer", "OU=web", "--source", "10.1.9.9", "--request", "GET /a");
    expect(allow.code).toBe(0);
    expect(allow.stdout).toMatch(/^allow\n/);
    expect(allow.stdout).toMatch(/source: 10\.1\.9\.9/);
    const deny = await runCli("acl", "explain", files["acl.yaml"], "--peer", "OU=web", "--source", "2001:db8::1", "--request", "GET /a");
    expect(deny.code).toBe(1);
    const missing = await runCli("acl", "explain", files["acl.yaml"], "--peer", "OU=web", "--request", "GET /a");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/depends on the source address .*pass --source ADDR/);
    const bad = await runCli("acl", "explain", files["acl.yaml"], "--peer", "OU=web", "--source", "10.0.0.0/8", "--request", "GET /a");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad source address/);
  });

  test("a GuardpostError is what every failure is", () => {
    expect(failure(() => acl().decide({ method: "GET", path: "/a", peer: {} }))).toBeInstanceOf(GuardpostError);
    function acl() {
      return compileAcl("x.yaml", "version: 1\npaths:\n  /a:\n    GET: [SRC=10.0.0.0/8]\n");
    }
  });

  test("peers from certificates carry no source until the connection adds one", () => {
    const peer = canonicalPeer({ OU: "web" });
    expect("source" in peer).toBe(false);
    expect(peerWithSource(peer, "10.1.2.3")).toMatchObject({ OU: ["web"], source: { family: 4 } });
    expect(Object.isFrozen(peerWithSource(peer, "10.1.2.3"))).toBe(true);
  });
});

describe("SRC in the JSON Schemas", () => {
  test.each([
    ["SRC=10.1.0.0/16", true],
    ["src=2001:db8::/32", true],
    [{ OU: "web", SRC: "10.1.0.0/16" }, true],
    [{ SRC: "::ffff:10.0.0.0/104" }, true],
    ["SRC=garbage", false],
    [{ OU: "web", SRC: "10.0.0.0/8/8" }, false],
  ])("the ACL schema on %j: %s", (principal, accepted) => {
    expect(schemaAccepts("acl", { version: 1, paths: { "/a": { GET: [principal] } } })).toBe(accepted);
  });

  test("the policy-test schema takes source: in a case", () => {
    expect(schemaAccepts("policyTest", { acl: "a.yaml", cases: [{ peer: "OU=web", source: "10.1.2.3", request: "GET /a", expect: "allow" }] })).toBe(true);
    expect(schemaAccepts("policyTest", { acl: "a.yaml", cases: [{ peer: "OU=web", source: "somewhere", request: "GET /a", expect: "allow" }] })).toBe(false);
  });
});
