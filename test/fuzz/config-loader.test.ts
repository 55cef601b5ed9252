/**
 * The config loader under fuzzing: mutations of the shipped example configs,
 * random YAML of the config's shape and hostile unit values either load into
 * a frozen Config the runtime can start with, or are refused with a
 * registered GuardpostError at `file:line:col: `. The loader reads only the
 * config file itself (certificates and ACLs are read at start-up), so the
 * files a mutated config names need not exist.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { isAbsolute, join, resolve } from "node:path";
import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { describe, expect, test } from "vitest";
import { connectionsCheckingInterval } from "../../src/proxy/front-end.js";
import { loadConfig, parseConfigText } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { tempDir } from "../helpers/pki.js";
import { fuzzParams } from "../helpers/property.js";
import { expectTypedOutcome, mutatedText, structuredYaml, yamlFiles } from "./support.js";

/** README code blocks, without the indentation of list items. */
function readmeYamlBlocks(): string[] {
  const readme = readFileSync("README.md", "utf8");
  return [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map(([, block]) => {
    const lines = block!.split("\n");
    const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length));
    return lines.map((l) => l.slice(indent)).join("\n");
  });
}

const kubernetesConfig = parseAllDocuments(readFileSync("config/kubernetes/configmap.yaml", "utf8"))
  .map((doc) => (doc.toJS() as { data?: Record<string, string> } | null)?.data?.["guardpost.yaml"])
  .filter((text): text is string => typeof text === "string");

const CORPUS: readonly string[] = [...yamlFiles("config").values(), ...yamlFiles("config/swarm").values(), ...kubernetesConfig, ...readmeYamlBlocks().filter((b) => /^(tls|inbound|outbound|admin|limits):/m.test(b))];
const VALID = CORPUS.filter((text) => {
  try {
    parseConfigText("c.yaml", text);
    return true;
  } catch {
    return false;
  }
});

const MAX_TIMER_MS = 2 ** 31 - 1;
const DURATIONS = ["headersTimeout", "requestTimeout", "idleTimeout", "maxConnectionAge", "upstreamConnectTimeout", "upstreamResponseTimeout", "upstreamBodyTimeout"] as const;

function deeplyFrozen(value: unknown, seen = new Set<unknown>()): boolean {
  if (value === null || typeof value !== "object" || seen.has(value)) return true;
  seen.add(value);
  return Object.isFrozen(value) && Object.values(value).every((child) => deeplyFrozen(child, seen));
}

/** What the runtime relies on without checking again (the README's configuration reference; "validate once at the edge"). */
function expectUsable(config: Config): void {
  expect(deeplyFrozen(config)).toBe(true);
  for (const file of [config.tls.cert, config.tls.key, config.tls.ca, ...(config.tls.crl ? [config.tls.crl] : [])]) expect(isAbsolute(file), file).toBe(true);
  const listens = [config.admin.listen, ...config.inbound.map((i) => i.listen), ...config.outbound.map((o) => o.listen)];
  for (const { port } of listens) expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true);
  expect(config.inbound.length).toBeGreaterThan(0);
  for (const inbound of config.inbound) {
    expect(inbound.routes.length).toBeGreaterThan(0);
    for (const route of inbound.routes) {
      expect(isAbsolute(route.acl), route.acl).toBe(true);
      expect(route.pathPrefix.startsWith("/")).toBe(true);
      if (route.upstream.kind === "unix") expect(isAbsolute(route.upstream.socketPath)).toBe(true);
      else expect(new URL(route.upstream.origin).protocol).toBe("http:");
    }
  }
  for (const outbound of config.outbound) expect(new URL(outbound.upstream).protocol).toBe("https:");
  // Timers take whole milliseconds up to 2^31-1; longer ones overflow and fire after 1 ms.
  for (const ms of [config.drainTimeout, ...DURATIONS.map((k) => config.limits[k])]) expect(Number.isInteger(ms) && ms >= 0 && ms <= MAX_TIMER_MS, `duration ${ms}`).toBe(true);
  expect(Number.isSafeInteger(config.limits.maxHeaderSize) && config.limits.maxHeaderSize >= 1024).toBe(true);
  expect(Number.isInteger(config.limits.maxConnections) && config.limits.maxConnections >= 1).toBe(true);
  expect(Number.isInteger(config.limits.maxHeaderCount) && config.limits.maxHeaderCount >= 1).toBe(true);
  expect(Number.isInteger(config.workers) && config.workers >= 0 && config.workers <= 64).toBe(true);
  // Node's own validation of the server options the inbound listener derives from the limits.
  const { limits } = config;
  const server = createServer({
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.idleTimeout,
    connectionsCheckingInterval: connectionsCheckingInterval(limits),
  });
  server.close();
}

describe("the config loader under fuzzing", () => {
  const dir = tempDir("guardpost-fuzz-config-");
  const file = resolve(join(dir, "guardpost.yaml"));

  test("the corpus holds the shipped example configs, and they load", () => {
    expect(VALID.length).toBeGreaterThanOrEqual(4);
    for (const text of VALID) expectUsable(parseConfigText("c.yaml", text));
  });

  test("mutated example configs, written to disk and loaded, load or fail with file:line:col", () => {
    fc.assert(
      fc.property(mutatedText(CORPUS), (text) => {
        writeFileSync(file, text);
        const outcome = expectTypedOutcome(file, text, () => loadConfig(file));
        if (outcome.ok) expectUsable(outcome.value);
      }),
      fuzzParams(500),
    );
  });

  test("structured random YAML of the config's shape loads or fails with file:line:col", () => {
    const keys = ["tls", "inbound", "outbound", "admin", "log", "limits", "drainTimeout", "workers", "cert", "key", "ca", "crl", "minVersion", "listen", "upstream", "acl", "mode", "routes", "name", "pathPrefix", "host", "serverName", "expect", "level", "access", "maxHeaderSize", "maxHeaderCount", "preserveHost", ...DURATIONS, "maxConnections"];
    const leaves = ["8443", "0", "127.0.0.1:0", "'[::1]:9'", "http://127.0.0.1:8080", "unix:/s.sock", "https://db:8443", "a.yaml", "/abs/a.yaml", "TLSv1.3", "audit", "enforce", "info", "true", "10s", "1.5ms", "16KiB", "auto", "[OU=db]", "/api", "''", "null"];
    fc.assert(
      fc.property(structuredYaml(keys, leaves), (text) => {
        const outcome = expectTypedOutcome(resolve("c.yaml"), text, () => parseConfigText("c.yaml", text));
        if (outcome.ok) expectUsable(outcome.value);
      }),
      fuzzParams(1000),
    );
  });

  test("hostile durations, sizes and counts load into usable limits or fail with file:line:col", () => {
    const digits = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String), fc.constantFrom("0", "1", "0.5", "1.5", "0.0001", "2147483647", "2147483648", "9007199254740993", "1" + "0".repeat(400)));
    const unit = fc.constantFrom("", "ms", "s", "m", "h", "d", "KiB", "MiB", "GiB", "kb", "B", " s", "S", "e3");
    const value = fc.oneof(
      fc.tuple(digits, unit).map(([n, u]) => JSON.stringify(n + u)),
      digits,
      fc.constantFrom("1e400", "-1", "-0", ".inf", ".nan", "0x10", "1_000", "!!float 1e3", "!!int 12", "~", "[]", "{}", "true"),
      fc.double().map(String),
    );
    const key = fc.constantFrom(...DURATIONS, "maxHeaderSize", "maxConnections", "maxHeaderCount");
    const limits = fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, minLength: 1, maxLength: 4 }).map((pairs) => `limits: {${pairs.map(([k, v]) => `${k}: ${v}`).join(", ")}}`);
    const top = fc.oneof(limits, value.map((v) => `drainTimeout: ${v}`), value.map((v) => `workers: ${v}`));
    fc.assert(
      fc.property(top, (text) => {
        const outcome = expectTypedOutcome(resolve("c.yaml"), text, () => parseConfigText("c.yaml", text));
        if (outcome.ok) expectUsable(outcome.value);
      }),
      fuzzParams(1500),
    );
  });

  test("a timeout too long for a timer is capped, a fraction of a millisecond rounded up, and headersTimeout may not exceed requestTimeout", () => {
    expect(parseConfigText("c.yaml", "drainTimeout: 1000h").drainTimeout).toBe(MAX_TIMER_MS);
    expect(parseConfigText("c.yaml", `drainTimeout: "1${"0".repeat(400)}s"`).drainTimeout).toBe(MAX_TIMER_MS);
    expect(parseConfigText("c.yaml", "limits: {idleTimeout: 1.5ms}").limits.idleTimeout).toBe(2);
    expect(parseConfigText("c.yaml", "limits: {headersTimeout: 10m, requestTimeout: 0}").limits.headersTimeout).toBe(600_000);
    const tooLong = expectTypedOutcome(resolve("c.yaml"), "limits: {headersTimeout: 10m}", () => parseConfigText("c.yaml", "limits: {headersTimeout: 10m}"));
    expect(tooLong.ok || tooLong.error.format()).toBe(`${resolve("c.yaml")}:1:26: limits.headersTimeout (10m) must not be longer than limits.requestTimeout (5m)`);
    const huge = expectTypedOutcome(resolve("c.yaml"), "limits: {maxHeaderSize: 99999999999999999999KiB}", () => parseConfigText("c.yaml", "limits: {maxHeaderSize: 99999999999999999999KiB}"));
    expect(huge.ok || huge.error.code).toBe("GP_ERR_CONFIG_VALUE");
  });

  test("arbitrary text and bytes load or fail with file:line:col", () => {
    const text = fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("utf8")));
    fc.assert(
      fc.property(text, (t) => {
        for (const candidate of [t, `inbound:\n  ${t}`, `limits:\n  maxHeaderSize: ${t}`]) {
          const outcome = expectTypedOutcome(resolve("c.yaml"), candidate, () => parseConfigText("c.yaml", candidate));
          if (outcome.ok) expectUsable(outcome.value);
        }
      }),
      fuzzParams(800),
    );
  });

  test("alias bombs and deep nesting in a config are refused or bounded quickly", () => {
    // Anchors where the format allows lists (outbound expect lists), each level nine aliases of the one before.
    let laughs = "outbound:\n  - {listen: 9000, upstream: 'https://a', expect: &l0 [OU=lol, OU=lol, OU=lol, OU=lol, OU=lol, OU=lol, OU=lol, OU=lol, OU=lol]}\n";
    for (let i = 1; i <= 8; i++) laughs += `  - {listen: ${9000 + i}, upstream: 'https://a', expect: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]}\n`;
    const texts = [laughs, `inbound: ${"[".repeat(5000)}${"]".repeat(5000)}`, `limits: ${"{a: ".repeat(2000)}1${"}".repeat(2000)}`, `outbound: &o\n  - *o\n`];
    for (const text of texts) {
      const started = performance.now();
      const outcome = expectTypedOutcome(resolve("c.yaml"), text, () => parseConfigText("c.yaml", text));
      expect(outcome.ok).toBe(false);
      expect(performance.now() - started).toBeLessThan(1500);
    }
  });
});
