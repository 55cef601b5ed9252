/**
 * The JSON Schemas in schema/ are what editors check config, ACL and policy
 * test files with, so they must say what the loaders say. The loaders stay
 * the authority; these tests keep the two from drifting apart:
 *
 * - every example and valid fixture names its schema and passes it;
 * - every invalid fixture a schema can see is refused by it, and the ones it
 *   cannot see are listed here with the reason;
 * - the keys each loader accepts (read from its own "unknown key" message)
 *   are the keys the schema defines, and the schema's defaults are DEFAULTS;
 * - for the value formats (path patterns, methods, principals, listen
 *   addresses, durations, upstreams), the schema and the loader give the same
 *   verdict on every generated input.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileAcl, loadAcl } from "../../src/acl/compile.js";
import { parsePathPattern } from "../../src/acl/path-pattern.js";
import { loadPolicyTest } from "../../src/acl/policy-test.js";
import { loadConfig, parseConfigText, parseListen, parseUpstream } from "../../src/config/load.js";
import { DEFAULTS } from "../../src/config/schema.js";
import { failure } from "../helpers/errors.js";
import { fuzzParams } from "../helpers/property.js";
import { tempDir, writeFiles } from "../helpers/pki.js";
import { formatErrors, parseYaml, readSchema, SCHEMA_DIR, SCHEMA_FILES, schemaAccepts, schemaErrors, type SchemaKind, type SchemaNode } from "../helpers/schemas.js";

const KIND_BY_FILE = new Map<string, SchemaKind>(Object.entries(SCHEMA_FILES).map(([kind, file]) => [file, kind as SchemaKind]));
const SCHEMA_COMMENT = /^# yaml-language-server: \$schema=(\S+)$/;
/** Orchestrator manifests (Kubernetes, swarm): not guardpost formats; test/unit/deployment.test.ts checks them. */
const MANIFEST = /^config\/(?:kubernetes\/|swarm\/stack\.yml$)/;

const LOADERS: Record<SchemaKind, (file: string) => unknown> = { config: loadConfig, acl: loadAcl, policyTest: loadPolicyTest };

function exampleFiles(): string[] {
  return ["acl", "config"]
    .filter((dir) => existsSync(dir))
    .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: "utf8" }).map((name) => join(dir, name)))
    .filter((file) => /\.ya?ml$/.test(file) && !MANIFEST.test(file))
    .sort();
}

describe("every example names its schema on its first line and passes it", () => {
  const files = exampleFiles();

  test("the examples are found", () => {
    expect(files).toEqual(expect.arrayContaining(["acl/example.yaml", "acl/example.test.yaml"]));
  });

  test.each(files)("%s", (file) => {
    const text = readFileSync(file, "utf8");
    const match = SCHEMA_COMMENT.exec(text.split("\n", 1)[0]!);
    expect(match, `${file}: the first line must be "# yaml-language-server: $schema=<relative path to schema/...>"`).not.toBeNull();
    const schemaPath = resolve(dirname(file), match![1]!);
    expect(dirname(schemaPath)).toBe(resolve(SCHEMA_DIR));
    const kind = KIND_BY_FILE.get(basename(schemaPath));
    expect(kind, `${file} names ${match![1]}`).toBeDefined();

    expect(formatErrors(schemaErrors(kind!, parseYaml(text)))).toBe("");
    // The comment is only a comment to our loaders.
    expect(() => LOADERS[kind!](file)).not.toThrow();
  });
});

describe("the ACL fixtures", () => {
  const table = parseYaml(readFileSync("test/fixtures/acl/cases.yaml", "utf8")) as { acls: Record<string, string> };

  test.each(Object.entries(table.acls))("the %s ACL of the decision table passes the schema", (_name, text) => {
    expect(formatErrors(schemaErrors("acl", parseYaml(text)))).toBe("");
  });

  /** Refused by `acl check` for reasons a JSON Schema cannot express. */
  const BEYOND_SCHEMA = new Map([
    ["duplicate-method.yaml", "a duplicate key is refused by the YAML parser, before any schema"],
    ["duplicate-path-key.yaml", "a duplicate key is refused by the YAML parser, before any schema"],
    ["duplicate-path-encoding.yaml", "two spellings of one path are equal only after percent-decoding"],
    ["duplicate-path-parameters.yaml", "two patterns that differ only in parameter names match the same paths"],
    ["path-repeated-parameter.yaml", "comparing parameter names across segments"],
    ["group-cycle.yaml", "references between groups"],
    ["unknown-group.yaml", "a reference must name a group defined elsewhere in the file"],
    ["unknown-group-no-groups.yaml", "a reference must name a group defined elsewhere in the file"],
    ["yaml-syntax.yaml", "not YAML"],
    ["star-key-unquoted.yaml", "not YAML (an unquoted * is an alias)"],
  ]);
  const dir = "test/fixtures/acl/invalid";
  const invalid = readdirSync(dir).filter((name) => name.endsWith(".yaml")).sort();

  test.each(invalid.filter((name) => !BEYOND_SCHEMA.has(name)))("the schema refuses invalid/%s", (name) => {
    expect(schemaAccepts("acl", parseYaml(readFileSync(join(dir, name), "utf8")))).toBe(false);
  });

  test.each([...BEYOND_SCHEMA])("invalid/%s is beyond the schema: %s", (name) => {
    expect(invalid).toContain(name);
    let value: unknown;
    try {
      value = parseYaml(readFileSync(join(dir, name), "utf8"));
    } catch {
      return; // refused while parsing, as the reason says
    }
    // Still listed here only while the schema really lets it through.
    expect(schemaAccepts("acl", value)).toBe(true);
  });
});

/** The keys a loader accepts at one place, as its "unknown key" error lists them. */
function keysListedBy(load: () => unknown): string[] {
  const message = failure(load).message;
  const match = /^unknown key "zz_unknown" in .* \(expected one of (.*)\)$/.exec(message);
  if (!match) throw new Error(`not an unknown-key error: ${message}`);
  return match[1]!.split(", ").sort();
}

function propertiesOf(node: unknown): string[] {
  return Object.keys((node as { properties: object }).properties).sort();
}

describe("each schema defines exactly the keys its loader accepts, and refuses others", () => {
  const config = readSchema("config");
  const configDefs = config.$defs as Record<string, SchemaNode>;
  const configProps = config.properties as Record<string, SchemaNode>;
  const dir = tempDir();
  const exampleAcl = resolve("acl/example.yaml");

  const places: [string, SchemaNode, () => unknown][] = [
    ["the config file", config, () => parseConfigText("c.yaml", "zz_unknown: 1")],
    ["tls", configProps.tls!, () => parseConfigText("c.yaml", "tls: {zz_unknown: 1}")],
    ["an inbound listener", configDefs.listener!, () => parseConfigText("c.yaml", "inbound: {zz_unknown: 1}")],
    ["a route", configDefs.route!, () => parseConfigText("c.yaml", "inbound: {routes: [{zz_unknown: 1}]}")],
    ["an outbound listener", configDefs.outbound!, () => parseConfigText("c.yaml", "outbound: [{zz_unknown: 1}]")],
    ["admin", configProps.admin!, () => parseConfigText("c.yaml", "admin: {zz_unknown: 1}")],
    ["log", configProps.log!, () => parseConfigText("c.yaml", "log: {zz_unknown: 1}")],
    ["limits", configProps.limits!, () => parseConfigText("c.yaml", "limits: {zz_unknown: 1}")],
    ["the ACL", readSchema("acl"), () => compileAcl("a.yaml", "zz_unknown: 1")],
    ["the policy test file", readSchema("policyTest"), () => loadPolicyTest(writeFiles(dir, { "top.yaml": "zz_unknown: 1" })["top.yaml"])],
    [
      "a policy test case",
      (readSchema("policyTest").$defs as Record<string, SchemaNode>).case!,
      () => loadPolicyTest(writeFiles(dir, { "case.yaml": `acl: ${JSON.stringify(exampleAcl)}\ncases: [{zz_unknown: 1}]` })["case.yaml"]),
    ],
  ];

  test.each(places)("%s", (_what, node, load) => {
    expect(propertiesOf(node)).toEqual(keysListedBy(load));
    expect(node.additionalProperties).toBe(false);
  });

  test("the schema's defaults are the DEFAULTS table", () => {
    const schemaDefaults = (node: SchemaNode) => Object.fromEntries(Object.entries(node.properties as Record<string, SchemaNode>).filter(([, p]) => "default" in p).map(([k, p]) => [k, p.default]));
    expect(schemaDefaults(configProps.tls!)).toEqual(DEFAULTS.tls);
    expect(schemaDefaults(configDefs.listener!)).toEqual(DEFAULTS.inbound);
    expect(schemaDefaults(configProps.admin!)).toEqual(DEFAULTS.admin);
    expect(schemaDefaults(configProps.log!)).toEqual(DEFAULTS.log);
    expect(schemaDefaults(configProps.limits!)).toEqual(DEFAULTS.limits);
    expect(configProps.drainTimeout!.default).toBe(DEFAULTS.drainTimeout);
    expect(configProps.workers!.default).toBe(DEFAULTS.workers);
    // Every top-level section with defaults has them in the schema.
    expect(Object.keys(DEFAULTS).every((key) => key in configProps)).toBe(true);
  });
});

function loaderAccepts(load: () => unknown): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** The config a snippet of YAML makes, judged by both. */
function configVerdicts(text: string): { schema: boolean; loader: boolean } {
  return { schema: schemaAccepts("config", parseYaml(text)), loader: loaderAccepts(() => parseConfigText("/etc/guardpost/guardpost.yaml", text)) };
}

describe("the config schema and loadConfig agree", () => {
  const accepted = [
    "",
    "tls:",
    "tls: {cert: a.crt, key: /k.pem, ca: ca.pem, crl: null, minVersion: TLSv1.3}",
    "tls: {crl: crl.pem}",
    "inbound: {mode: null}",
    "drainTimeout: 10s",
    "drainTimeout: 500ms",
    "drainTimeout: 1.5s",
    "drainTimeout: 2m",
    "drainTimeout: 1h",
    "drainTimeout: 10",
    "drainTimeout: 0",
    "drainTimeout: 2.5",
    "drainTimeout: '30'",
    "limits: {maxHeaderSize: 16KiB, maxConnections: 5, idleTimeout: 0, maxConnectionAge: 0}",
    "limits: {maxHeaderSize: 1MiB}",
    "limits: {maxHeaderSize: 64kb}",
    "limits: {maxHeaderSize: 16 KiB}",
    "limits: {maxHeaderSize: 2048}",
    "limits: {maxHeaderCount: 1}",
    "limits: {maxHeaderCount: 100000}",
    "limits:",
    "workers: auto",
    "workers: 1",
    "workers: 64",
    "workers: '8'",
    "admin: {listen: 9901}",
    "admin: {listen: ':9901'}",
    "admin: {listen: '[::1]:9901'}",
    "admin: {listen: localhost:9901}",
    "admin: {listen: 127.0.0.1:0}",
    "log: {level: debug, access: false}",
    "inbound:",
    "inbound: {upstream: unix:/run/app.sock}",
    "inbound: {upstream: unix:app.sock, mode: audit}",
    "inbound: {upstream: 'http://127.0.0.1:8080/'}",
    "inbound: {upstream: 'http://[::1]:8080', listen: '[::]:8443'}",
    "inbound: {name: api, listen: 8443, acl: acl/api.yaml, mode: enforce}",
    "inbound: [{listen: 8443}, {listen: 9443, upstream: 'http://127.0.0.1:9090'}]",
    "inbound: {routes: [{upstream: 'http://a:1', acl: a.yaml}]}",
    "inbound: {routes: [{name: r, pathPrefix: /, host: a.example, upstream: 'http://a:1', acl: a.yaml, mode: audit}, {pathPrefix: /api/v1, upstream: unix:/s.sock, acl: b.yaml}]}",
    "outbound:",
    "outbound: []",
    "outbound: [{listen: 9001, upstream: 'https://db-01.internal:8443'}]",
    "outbound: [{name: db, listen: 127.0.0.1:9001, upstream: 'https://db/', serverName: db.internal, expect: [OU=database, {OU: database, CN: 'db-*'}, '*']}]",
    "outbound: [{listen: 9001, upstream: 'https://[::1]:8443', expect: null}]",
    "outbound: [{listen: 9001, upstream: 'https://db', expect: []}]",
    "outbound: [{listen: 9001, upstream: 'https://db', preserveHost: true}]",
  ];
  const refused = [
    "zz: 1",
    "[]",
    "tls: {cert: ''}",
    "tls: {cert: 5}",
    "tls: {crl: ''}",
    "tls: {minVersion: TLSv1.1}",
    "outbound: [{listen: 9001, upstream: 'https://db', preserveHost: 'yes'}]",
    "tls: []",
    "drainTimeout: 10 seconds",
    "drainTimeout: 10x",
    "drainTimeout: -1",
    "drainTimeout: '-1s'",
    "drainTimeout: true",
    "drainTimeout:",
    "limits: {maxHeaderSize: 16XB}",
    "limits: {maxHeaderSize: 100}",
    "limits: {maxHeaderSize: -2048}",
    "limits: {maxHeaderCount: 0}",
    "limits: {maxHeaderCount: 100001}",
    "limits: {maxHeaderCount: 1.5}",
    "limits: {maxConnections: 0}",
    "limits: {maxConnections: 1.5}",
    "limits: {maxConnections: '10'}",
    "limits: {headersTimeout: 1d}",
    "workers: 0",
    "workers: 65",
    "workers: 2.5",
    "workers: many",
    "workers:",
    "admin: {listen: 70000}",
    "admin: {listen: 'host:'}",
    "admin: {listen: 'a b:1'}",
    "admin: {listen: 'http://x:1'}",
    "admin: {listen: '[::zz]:1'}",
    "admin: {listen: ''}",
    "log: {level: verbose}",
    "log: {access: yes}",
    "inbound: []",
    "inbound: {upstream: 'https://x'}",
    "inbound: {upstream: 'http://x/path'}",
    "inbound: {upstream: 'http://x?q=1'}",
    "inbound: {upstream: 'http://u@x'}",
    "inbound: {upstream: 'unix:'}",
    "inbound: {upstream: 'ftp://x'}",
    "inbound: {mode: dry-run}",
    "inbound: {name: ''}",
    "inbound: {upstream: 'http:///x'}",
    "inbound: {upstream: 'http://@x'}",
    "inbound: {upstream: 'http://:pw@x'}",
    "inbound: {upstream: 'http://x#'}",
    "inbound: [null]",
    "inbound: {routes: []}",
    "inbound: {routes: null}",
    "inbound: {routes: [{upstream: 'http://a:1', acl: a.yaml}], acl: b.yaml}",
    "inbound: {routes: [{upstream: 'http://a:1', acl: a.yaml}], upstream: 'http://b:1'}",
    "inbound: {routes: [{upstream: 'http://a:1', acl: a.yaml}], mode: audit}",
    "inbound: {routes: [{upstream: 'http://a:1'}]}",
    "inbound: {routes: [{acl: a.yaml}]}",
    "inbound: {routes: [{pathPrefix: api, upstream: 'http://a:1', acl: a.yaml}]}",
    "inbound: {routes: [{pathPrefix: /api/, upstream: 'http://a:1', acl: a.yaml}]}",
    "inbound: {routes: [{pathPrefix: /a//b, upstream: 'http://a:1', acl: a.yaml}]}",
    "inbound: {routes: [{host: '', upstream: 'http://a:1', acl: a.yaml}]}",
    "outbound: {listen: 9001}",
    "outbound: [{listen: 9001}]",
    "outbound: [{upstream: 'https://db'}]",
    "outbound: [{listen: 9001, upstream: 'http://db'}]",
    "outbound: [{listen: 9001, upstream: 'https://db/p'}]",
    "outbound: [{listen: 9001, upstream: 'https://db?q'}]",
    "outbound: [{listen: 9001, upstream: 'https://db#frag'}]",
    "outbound: [{listen: 9001, upstream: 'https://db', expect: OU=database}]",
    "outbound: [{listen: 9001, upstream: 'https://db', expect: ['@g']}]",
    "outbound: [{listen: 9001, upstream: 'https://db', expect: [OUU=db]}]",
    "outbound: [{listen: 9001, upstream: 'https://db', expect: [{}]}]",
    "outbound: [{listen: 9001, upstream: 'https://db', serverName: ''}]",
  ];
  /** Refused by the loader only: checks a JSON Schema cannot make. */
  const beyondSchema = [
    ["limits: {maxHeaderSize: 512B}", "a size below 1KiB written with a unit"],
    ["admin: {listen: '[1:2:3]:9901'}", "whether an IPv6 literal is a valid address"],
    ["admin: {listen: 127.0.0.1:9001}\noutbound: [{listen: 9001, upstream: 'https://db'}]", "two listeners on one address"],
    ["drainTimeout: .5", "a YAML number written without its leading 0"],
  ];

  test.each(accepted)("both accept %j", (text) => {
    expect(configVerdicts(text)).toEqual({ schema: true, loader: true });
  });
  test.each(refused)("both refuse %j", (text) => {
    expect(configVerdicts(text)).toEqual({ schema: false, loader: false });
  });
  test.each(beyondSchema)("only the loader refuses %j: %s", (text) => {
    expect(configVerdicts(text)).toEqual({ schema: true, loader: false });
  });

  // The value formats, compared on generated text rather than on examples alone.
  const text = (chars: string, maxLength = 14) => fc.string({ unit: fc.constantFrom(...chars), maxLength });

  test("listen addresses", () => {
    fc.assert(
      fc.property(text("0123456789:.[]aZ-f "), (value) => {
        expect(schemaAccepts("config", { admin: { listen: value } }), value).toBe(parseListen(value, "127.0.0.1") !== undefined || beyondSchemaListen(value));
      }),
      fuzzParams(3000),
    );
  });

  test("durations", () => {
    fc.assert(
      fc.property(text("0159.smh -x"), (value) => {
        expect(schemaAccepts("config", { drainTimeout: value }), value).toBe(loaderAccepts(() => parseConfigText("c.yaml", `drainTimeout: ${JSON.stringify(value)}`)));
      }),
      fuzzParams(3000),
    );
  });

  // Hosts are taken from a list: which host names the URL parser takes (`.1`
  // is a bad IPv4 address, `a%41` a good name) is beyond the schema, and so is
  // what the WHATWG parser repairs (`http://@host`, `http:///host`); what is
  // generated is everything around a host.
  test("inbound upstreams", () => {
    const scheme = fc.constantFrom("http://", "HTTP://", "https://", "unix:", "");
    const host = fc.constantFrom("127.0.0.1", "localhost", "app.ns.svc", "[::1]");
    const after = fc.oneof(fc.constant(""), fc.tuple(fc.constantFrom(":", "/", "?", "#"), text("1:/?#a", 7)).map(([first, rest]) => first + rest));
    fc.assert(
      fc.property(scheme, host, after, (s, h, rest) => {
        const value = s + h + rest;
        expect(schemaAccepts("config", { inbound: { upstream: value } }), value).toBe(parseUpstream(value, "/") !== undefined);
      }),
      fuzzParams(3000),
    );
  });
});

/** `[v6]:port` where the brackets hold something the URL parser does not take for IPv6. */
function beyondSchemaListen(value: string): boolean {
  return /^\s*\[[0-9A-Fa-f:.]+\]:\d{1,5}\s*$/.test(value) && Number(/:(\d+)\s*$/.exec(value)![1]) <= 65535;
}

describe("the ACL schema and the ACL compiler agree", () => {
  const compiles = (text: string) => loaderAccepts(() => compileAcl("a.yaml", text));
  const acl = (paths: unknown, groups: unknown = { g: [] }) => ({ version: 1, groups, paths });

  test("path patterns", () => {
    const pattern = fc.string({ unit: fc.constantFrom("/", "/", "a", "b", ".", "%", "2", "e", "E", "F", "5", "c", "0", "{", "}", "x", "*", ";", "?", "\\", "3", "B", "_", "-", "é", "8", "9", "A", "D", "4", "%C3%A9", "%E2%82%AC", "%F0%9F%98%80"), maxLength: 12 });
    fc.assert(
      fc.property(pattern, (path) => {
        let loader = true;
        try {
          parsePathPattern(path);
        } catch (err) {
          // Beyond the schema: a parameter name repeated in one pattern.
          if ((err as Error).message.includes("appears twice")) return;
          loader = false;
        }
        expect(schemaAccepts("acl", acl({ [path]: {} })), path).toBe(loader);
      }),
      fuzzParams(5000),
    );
  });

  test("methods", () => {
    const method = fc.oneof(fc.string({ unit: fc.constantFrom("G", "e", "t", "E", "T", "*", "-", " ", "(", "!"), minLength: 1, maxLength: 4 }), fc.constantFrom("get", "Get", "GET", "delete", "PATCH", "patch", "PURGE", "purge", "*"));
    fc.assert(
      fc.property(method, (name) => {
        const text = `version: 1\npaths:\n  /a:\n    ${JSON.stringify(name)}: []\n`;
        expect(schemaAccepts("acl", parseYaml(text)), name).toBe(compiles(text));
      }),
      fuzzParams(2000),
    );
  });

  test("principals", () => {
    const principal = fc.string({ unit: fc.constantFrom("O", "U", "u", "C", "N", "=", "*", "@", "g", "w", " ", "-", "I", "P", "E", "M", "A", "L", "D", "S"), maxLength: 8 });
    fc.assert(
      fc.property(principal, (value) => {
        // A reference names a group defined elsewhere in the file: beyond the schema unless it is `@g`.
        if (value.startsWith("@") && value !== "@g") return;
        const text = `version: 1\ngroups: {g: []}\npaths:\n  /a:\n    GET: [${JSON.stringify(value)}]\n`;
        expect(schemaAccepts("acl", parseYaml(text)), value).toBe(compiles(text));
      }),
      fuzzParams(3000),
    );
  });

  test.each([
    [{ OU: "web", cn: "web-*" }, true],
    [{ uri: "spiffe://prod/*" }, true],
    [{ CN: 123 }, true],
    [{}, false],
    [{ OUU: "web" }, false],
    [{ OU: "" }, false],
    [{ OU: ["a", "b"] }, false],
    [{ OU: null }, false],
  ])("attribute map %j", (principal, ok) => {
    const value = acl({ "/a": { GET: [principal] } });
    expect(schemaAccepts("acl", value)).toBe(ok);
    expect(compiles(JSON.stringify(value))).toBe(ok);
  });
});

describe("the policy test schema and the policy test loader agree", () => {
  const dir = tempDir();
  writeFiles(dir, { "api.yaml": "version: 1\npaths:\n  /a:\n    GET: [OU=web]\n" });
  let n = 0;
  const loads = (cases: unknown) => loaderAccepts(() => loadPolicyTest(writeFiles(dir, { [`t${++n}.yaml`]: JSON.stringify({ acl: "api.yaml", cases }) })[`t${n}.yaml`]));

  test.each([
    [{ peer: { OU: "web" }, request: "GET /a", expect: "allow" }, true],
    [{ name: "web", peer: "OU=web,CN=w\\,1", request: " GET /a?x=1 ", expect: "deny", entry: "GET /a" }, true],
    [{ peer: { ou: ["web", "ops"], CN: 1 }, request: "POST /a", expect: "deny", entry: null }, true],
    [{ peer: "OU=web", request: "GET a", expect: "allow" }, false],
    [{ peer: "OU=web", request: "GET", expect: "allow" }, false],
    [{ peer: "OU=web", request: "G(T /a", expect: "allow" }, false],
    [{ peer: "OU=web", request: "GET /a", expect: "allowed" }, false],
    [{ peer: "OUU=web", request: "GET /a", expect: "allow" }, false],
    [{ peer: "OU=", request: "GET /a", expect: "allow" }, false],
    [{ peer: "OU=web,", request: "GET /a", expect: "allow" }, false],
    [{ peer: { OUU: "web" }, request: "GET /a", expect: "allow" }, false],
    [{ peer: "OU=web", peerCert: "web.pem", request: "GET /a", expect: "allow" }, false],
    [{ request: "GET /a", expect: "allow" }, false],
    [{ peer: "OU=web", expect: "allow" }, false],
  ])("case %j", (testCase, ok) => {
    expect(schemaAccepts("policyTest", { acl: "api.yaml", cases: [testCase] })).toBe(ok);
    expect(loads([testCase])).toBe(ok);
  });
});

describe("the schemas ship with the package", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { files: string[]; exports: Record<string, unknown> };

  test("package.json lists schema/ in files and exports guardpost/schema/*", () => {
    expect(pkg.files).toContain("schema");
    expect(pkg.exports["./schema/*"]).toBe("./schema/*");
  });

  test.each(Object.values(SCHEMA_FILES))("guardpost/schema/%s resolves through the package's exports", (file) => {
    const require = createRequire(import.meta.url);
    expect(require.resolve(`guardpost/schema/${file}`)).toBe(resolve(SCHEMA_DIR, file));
    expect((readSchema(KIND_BY_FILE.get(file)!).$schema as string)).toBe("https://json-schema.org/draft/2020-12/schema");
  });
});
