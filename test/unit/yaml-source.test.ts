import { describe, expect, test } from "vitest";
import { GuardpostError } from "../../src/errors.js";
import { YamlSource } from "../../src/yaml/source.js";
import { failure } from "../helpers/errors.js";

describe("YamlSource", () => {
  test("a duplicate key is refused at the second key's line and column", () => {
    const err = failure(() => YamlSource.parse("a.yaml", "top:\n  x: 1\n  x: 2\n"));
    expect(err.code).toBe("GP_ERR_YAML_DUPLICATE_KEY");
    expect(err.format()).toBe('a.yaml:3:3: duplicate key "x"');
  });

  test("a syntax error names the file, line and column without the library's excerpt", () => {
    const err = failure(() => YamlSource.parse("b.yaml", "a: [1, 2\n"));
    expect(err.code).toBe("GP_ERR_YAML_SYNTAX");
    expect(err.format()).toMatch(/^b\.yaml:\d+:\d+: [^\n]+$/);
  });

  test("an unknown key lists the accepted keys, and the one it is likely a typo of", () => {
    const src = YamlSource.parse("c.yaml", "tls: {}\nadmn: {}\n");
    const err = failure(() => src.fields(src.root, "the config", ["tls", "admin"]));
    expect(err.format()).toBe('c.yaml:2:1: unknown key "admn" in the config (did you mean "admin"? expected one of tls, admin)');
  });

  test("a wrong type says what was expected and what was found", () => {
    const src = YamlSource.parse("d.yaml", "paths:\n  - /x\n");
    const [paths] = src.entries(src.root, "the ACL");
    const err = failure(() => src.map(paths!.value, '"paths"'));
    expect(err.format()).toBe('d.yaml:2:3: "paths" must be a mapping, not a list');
  });

  test("aliases read like the anchored node and scalars keep the text the user wrote", () => {
    const src = YamlSource.parse("e.yaml", "a: &v 0123\nb: *v\n");
    const [, b] = src.entries(src.root, "root");
    expect(src.scalarText(b!.value, "b")).toBe("0123");
  });

  test("a missing file is GP_ERR_FILE_READ naming it", () => {
    const err = failure(() => YamlSource.read("/nonexistent/guardpost.yaml"));
    expect(err.code).toBe("GP_ERR_FILE_READ");
    expect(err.format()).toBe("/nonexistent/guardpost.yaml: the file does not exist (ENOENT)");
  });

  test("a duplicate key is named in full, however it is quoted", () => {
    expect(failure(() => YamlSource.parse("f.yaml", "paths:\n  /user: 1\n  /user: 2\n")).format()).toBe('f.yaml:3:3: duplicate key "/user"');
    expect(failure(() => YamlSource.parse("g.yaml", 'a: {"x y": 1, "x y": 2}\n')).format()).toBe('g.yaml:1:15: duplicate key "x y"');
  });

  test("the earliest duplicate is reported, inner or outer; 1 and \"1\" are different keys", () => {
    expect(failure(() => YamlSource.parse("j.yaml", "a:\n  x: 1\n  x: 2\nb: 1\nb: 2\n")).format()).toBe('j.yaml:3:3: duplicate key "x"');
    expect(failure(() => YamlSource.parse("k.yaml", "a: 1\nb:\n  x: 1\n  x: 2\na: 2\n")).format()).toBe('k.yaml:4:3: duplicate key "x"');
    expect(() => YamlSource.parse("l.yaml", '1: a\n"1": b\n')).not.toThrow();
  });

  test("an unquoted * key is explained as the YAML alias it is, at the *", () => {
    const err = failure(() => YamlSource.parse("h.yaml", "paths:\n  /admin/**:\n    *: [OU=ops]\n"));
    expect(err.code).toBe("GP_ERR_YAML_SYNTAX");
    expect(err.format()).toBe('h.yaml:3:5: an unquoted * key starts a YAML alias; write "*" (with quotes)');
  });

  test("at() places a position-less error at a node, keeping the file it named", () => {
    const src = YamlSource.parse("i.yaml", "peer: x\n");
    const [peer] = src.entries(src.root, "root");
    const inner = () => {
      throw new GuardpostError("GP_ERR_PEER_CERT", "not a certificate", { file: "web.pem" });
    };
    expect(failure(() => src.at(peer!.value, inner)).format()).toBe("i.yaml:1:7: web.pem: not a certificate");
  });

  describe("hints for the mistakes that YAML's own message does not explain", () => {
    const STAR = 'an unquoted * starts a YAML alias; to mean "any peer" (or any method, as a key), quote it as "*"';
    test.each([
      ["GET: [*]", "version: 1\npaths:\n  /x:\n    GET: [*]\n", `4:11: ${STAR}`],
      ["GET: [*, OU=a]", "version: 1\npaths:\n  /x:\n    GET: [*, OU=a]\n", `4:11: ${STAR}`],
      ["- * in a block list", "version: 1\npaths:\n  /x:\n    GET:\n      - *\n", `5:9: ${STAR}`],
    ])("an unquoted * (%s) says to quote it", (_name, text, expected) => {
      const err = failure(() => YamlSource.parse("s.yaml", text));
      expect(err.code).toBe("GP_ERR_YAML_SYNTAX");
      expect(err.format()).toBe(`s.yaml:${expected}`);
    });

    test("a * that begins an alias name is left to the parser (that is a real alias)", () => {
      const src = YamlSource.parse("s.yaml", "a: &web [OU=web]\nb: *web\n");
      expect(src.root).not.toBeNull();
    });

    test("a tab in the indentation says to indent with spaces", () => {
      const err = failure(() => YamlSource.parse("t.yaml", "paths:\n\t/x:\n    GET: [OU=a]\n"));
      expect(err.format()).toBe("t.yaml:2:1: Tabs are not allowed as indentation; YAML indents with spaces only; replace the tab with spaces");
    });

    test("a key without a space after its colon, where YAML then fails, gets the hint", () => {
      const err = failure(() => YamlSource.parse("c.yaml", "inbound:\n  listen:8443\n  upstream: http://127.0.0.1:8080\n"));
      expect(err.format()).toBe("c.yaml:2:3: Implicit keys need to be on a single line; a key needs a space after its colon (listen: 8443)");
    });

    test("a key without a space after its colon, where YAML reads a string instead of a mapping, gets the hint", () => {
      const src = YamlSource.parse("a.yaml", "paths:\n  /x:\n    GET:[OU=web]\n");
      const [paths] = src.entries(src.root, "the ACL");
      const [path] = src.entries(paths!.value, '"paths"');
      const err = failure(() => src.map(path!.value, 'path "/x"'));
      expect(err.format()).toBe('a.yaml:3:5: path "/x" must be a mapping, not the string "GET:[OU=web]"; if "GET:[OU=web]" was meant as a key and its value, put a space after the colon (GET: [OU=web])');
    });

    test("a URL where a mapping belongs is not mistaken for a missing space", () => {
      const src = YamlSource.parse("u.yaml", "tls: http://x\n");
      const [tls] = src.entries(src.root, "the config");
      expect(failure(() => src.map(tls!.value, '"tls"')).format()).toBe('u.yaml:1:6: "tls" must be a mapping, not the string "http://x"');
    });
  });
});
