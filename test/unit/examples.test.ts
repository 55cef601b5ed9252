/**
 * The example configs in config/ are what people copy: each must load, every
 * ACL it names must compile, `guardpost serve --check` must pass once real
 * certificates sit at the paths it names, and the policy tests next to the
 * ACLs must pass.
 */
import { cpSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { loadAcl } from "../../src/acl/compile.js";
import { loadPolicyTest, runPolicyTest, uncoveredEntries } from "../../src/acl/policy-test.js";
import { loadConfig } from "../../src/config/load.js";
import { checkUnderRoot, createMaterial, layOut, type Material } from "../helpers/container.js";
import { tempDir } from "../helpers/pki.js";

const CONFIGS = readdirSync("config").filter((name) => name.endsWith(".yaml")).map((name) => `config/${name}`);
const POLICY_TESTS = readdirSync("config/acl").filter((name) => name.endsWith(".test.yaml")).map((name) => `config/acl/${name}`);

let material: Material;
beforeAll(async () => {
  material = await createMaterial();
});

describe("example configs", () => {
  test("there is a sidecar and a gateway", () => {
    expect(CONFIGS).toEqual(expect.arrayContaining(["config/sidecar.yaml", "config/gateway.yaml"]));
  });

  test("the sidecar has an inbound listener and outbound calls", () => {
    const config = loadConfig("config/sidecar.yaml");
    expect(config.inbound).toHaveLength(1);
    expect(config.outbound.length).toBeGreaterThan(0);
  });

  test("the gateway has several listeners, several routes and one in audit mode", () => {
    const config = loadConfig("config/gateway.yaml");
    expect(config.inbound.length).toBeGreaterThan(1);
    const routes = config.inbound.flatMap((inbound) => inbound.routes);
    expect(routes.length).toBeGreaterThan(2);
    expect(routes.filter((route) => route.mode === "audit").map((route) => route.name)).toEqual(["catalog"]);
  });

  test.each(CONFIGS)("%s loads, and so does every ACL it names", (file) => {
    const config = loadConfig(file);
    for (const route of config.inbound.flatMap((inbound) => inbound.routes)) expect(() => loadAcl(route.acl)).not.toThrow();
  });

  test.each(CONFIGS)("guardpost serve --config %s --check passes with certificates at its tls paths", async (file) => {
    const root = tempDir();
    // The repository's acl/ and config/ keep their places relative to each other under the root.
    cpSync("acl", join(root, "repo/acl"), { recursive: true });
    cpSync("config", join(root, "repo/config"), { recursive: true });
    const { tls } = loadConfig(file);
    layOut(root, { [tls.cert]: material.cert, [tls.key]: material.key, [tls.ca]: material.ca, ...(tls.crl ? { [tls.crl]: material.crl } : {}) });
    const result = await checkUnderRoot(root, join("repo", file));
    expect(result).toEqual({ code: 0, stdout: `${join(root, "repo", file)}: ok\n`, stderr: "" });
  });

  test("without the certificates, --check names the missing file", async () => {
    const root = tempDir();
    cpSync("acl", join(root, "repo/acl"), { recursive: true });
    cpSync("config", join(root, "repo/config"), { recursive: true });
    const result = await checkUnderRoot(root, "repo/config/sidecar.yaml");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(root, "run/secrets/service.crt"));
  });
});

describe("the policy tests next to the example ACLs", () => {
  test.each(POLICY_TESTS)("%s passes and exercises every entry", (file) => {
    const outcome = runPolicyTest(loadPolicyTest(file));
    expect([outcome.passed, outcome.failed]).toEqual([outcome.test.cases.length, 0]);
    expect(uncoveredEntries(outcome.test.acl, outcome.results).map((e) => e.entry)).toEqual([]);
  });
});
