/**
 * The command line when it is used wrongly: every usage error says what is
 * wrong, the closest thing that would be right, where the help is, and ends
 * with its GP_ERR_* code; help works per command group and per command.
 */
import { describe, expect, test } from "vitest";
import { editDistance, closest } from "../../src/text/suggest.js";
import { runCli } from "../helpers/cli.js";

describe("did you mean", () => {
  test.each([
    [["serve", "--conifg", "x.yaml"], 'guardpost serve: unknown option --conifg; did you mean --config? (see guardpost help serve) [GP_ERR_USAGE]'],
    [["serve", "--chek"], "guardpost serve: unknown option --chek; did you mean --check? (see guardpost help serve) [GP_ERR_USAGE]"],
    [["acl", "test", "--coverge", "a.yaml"], "guardpost acl test: unknown option --coverge; did you mean --coverage? (see guardpost help acl test) [GP_ERR_USAGE]"],
    [["acl", "explain", "--peercert", "x.pem"], "guardpost acl explain: unknown option --peercert; did you mean --peer-cert? (see guardpost help acl explain) [GP_ERR_USAGE]"],
    [["serve", "--verbose"], "guardpost serve: unknown option --verbose (expected one of --config, --check, --strict) (see guardpost help serve) [GP_ERR_USAGE]"],
    [["serve", "--config"], "guardpost serve: --config needs a value (--config FILE) (see guardpost help serve) [GP_ERR_USAGE]"],
    [["serve", "--check=yes"], "guardpost serve: --check is a switch and takes no value (write --check alone) (see guardpost help serve) [GP_ERR_USAGE]"],
  ])("%j", async (argv, message) => {
    expect(await runCli(...argv)).toEqual({ code: 2, stdout: "", stderr: `${message}\n` });
  });

  test.each([
    [["serv", "--config", "x"], 'guardpost: unknown command "serv"; did you mean "serve"?'],
    [["acl", "chek", "a.yaml"], 'guardpost: unknown command "acl chek"; did you mean "acl check"?'],
    [["pki", "isue", "dir"], 'guardpost: unknown command "pki isue"; did you mean "pki issue"?'],
    [["acl", "frobnicate"], 'guardpost: unknown command "acl frobnicate" (expected one of: acl check, acl test, acl explain, acl diff, acl suggest)'],
    [["frobnicate"], 'guardpost: unknown command "frobnicate"; see guardpost help'],
  ])("unknown command %j", async (argv, message) => {
    const result = await runCli(...argv);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toBe(`${message} [GP_ERR_USAGE]`);
  });

  test("the edit distance counts a swap of neighbours as one edit", () => {
    expect(editDistance("conifg", "config")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(closest("--strictt", ["--strict", "--check"])).toBe("--strict");
    expect(closest("--zzz", ["--strict", "--check"])).toBeUndefined();
  });
});

describe("help", () => {
  test("guardpost help acl lists the acl commands", async () => {
    const result = await runCli("help", "acl");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: guardpost acl <command> \[options\]\n/);
    for (const name of ["acl check", "acl test", "acl explain"]) expect(result.stdout).toContain(`  ${name}`);
  });

  test("guardpost help pki lists the pki commands", async () => {
    const result = await runCli("help", "pki");
    expect(result.code).toBe(0);
    for (const name of ["pki init", "pki issue", "pki inspect"]) expect(result.stdout).toContain(`  ${name}`);
  });

  test("guardpost help acl test shows that command's usage", async () => {
    const result = await runCli("help", "acl", "test");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: guardpost acl test \[--coverage\] FILE\.\.\./);
  });

  test("guardpost acl alone is a usage error that shows the group", async () => {
    const result = await runCli("acl");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^usage: guardpost acl <command>/);
  });

  test("the overview names help <command> [subcommand]", async () => {
    const result = await runCli("help");
    expect(result.stdout).toContain("guardpost help <command> [subcommand]");
    expect(result.stdout).toMatch(/\n {2}pki init /);
  });

  test("guardpost help nonsense is an unknown command", async () => {
    const result = await runCli("help", "acl", "chek");
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('guardpost: unknown command "acl chek"; did you mean "acl check"? [GP_ERR_USAGE]\n');
  });
});
