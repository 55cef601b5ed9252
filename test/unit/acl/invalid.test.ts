/**
 * Every file under test/fixtures/acl/invalid/ must be refused. Its first
 * line says how: `# error: CODE line:col: message`, exactly as users see it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { loadAcl } from "../../../src/acl/compile.js";
import { GuardpostError } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";

const DIR = "test/fixtures/acl/invalid";

const fixtures = readdirSync(DIR)
  .filter((name) => name.endsWith(".yaml"))
  .sort()
  .map((name) => {
    const file = `${DIR}/${name}`;
    const match = /^# error: (GP_ERR_[A-Z_]+) (\d+:\d+: .*)$/m.exec(readFileSync(file, "utf8").split("\n", 1)[0]!);
    if (!match) throw new Error(`${file}: the first line must be "# error: CODE line:col: message"`);
    return { name, file, code: match[1]!, expected: `${file}:${match[2]!}` };
  });

describe("invalid ACL files are refused with file:line:col and a message naming the bad value", () => {
  test("there is a fixture for every kind of mistake", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });

  test.each(fixtures.map((f) => [f.name, f] as const))("%s", async (_name, fixture) => {
    let error: unknown;
    try {
      loadAcl(fixture.file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GuardpostError);
    expect((error as GuardpostError).format()).toBe(fixture.expected);
    expect((error as GuardpostError).code).toBe(fixture.code);

    const cli = await runCli("acl", "check", fixture.file);
    // The CLI adds the code in brackets, as compilers print a warning's flag.
    expect(cli).toEqual({ code: 2, stdout: "", stderr: `${fixture.expected} [${fixture.code}]\n` });
  });
});
