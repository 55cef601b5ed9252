import { isMap } from "yaml";
import { loadAcl } from "../acl/compile.js";
import { loadPolicyTest } from "../acl/policy-test.js";
import { isGuardpostError } from "../errors.js";
import { YamlSource } from "../yaml/source.js";
import { formatCliError, parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

export const aclCheckCommand: Command = {
  name: "acl check",
  summary: "validate ACL files",
  usage: `usage: guardpost acl check FILE...

Loads each ACL file as the proxy would and prints "FILE: ok" for each valid
one. An invalid file is reported on stderr as "file:line:col: message [code]".

A policy test file (one with "acl:" and "cases:", as acl/*.test.yaml next to
the ACLs) is recognised and checked as one: its ACL must load and its cases
must be well formed. It says so and points at guardpost acl test, which runs
the cases. So "guardpost acl check acl/*.yaml" checks a folder holding both.

exit codes: 0 all files are valid, 2 a file is invalid or unreadable
`,
  async run(args, io) {
    const { positionals: files } = parseCommandArgs("acl check", args, {});
    if (files.length === 0) throw usageError("acl check", "no ACL file given");
    let code = 0;
    for (const file of files) {
      try {
        if (fileKind(file) === "policy test") {
          const test = loadPolicyTest(file);
          io.stdout.write(`${file}: ok (a policy test file for ${test.acl.file}, ${test.cases.length} cases; run them with guardpost acl test ${file})\n`);
        } else {
          loadAcl(file);
          io.stdout.write(`${file}: ok\n`);
        }
      } catch (err) {
        if (!isGuardpostError(err)) throw err;
        io.stderr.write(`${formatCliError(err)}\n`);
        code = 2;
      }
    }
    return code;
  },
};

/**
 * Which of the two YAML formats of the acl commands a file is written in, by
 * its top-level keys: `paths` makes an ACL, `cases` without `paths` a policy
 * test. Anything else is left to the loader to refuse with its position.
 */
export function fileKind(file: string): "ACL" | "policy test" | "unknown" {
  const root = YamlSource.read(file).root;
  if (!isMap(root)) return "unknown";
  if (root.has("paths")) return "ACL";
  return root.has("cases") ? "policy test" : "unknown";
}
