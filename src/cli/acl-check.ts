import { loadAcl } from "../acl/compile.js";
import { isGuardpostError } from "../errors.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

export const aclCheckCommand: Command = {
  name: "acl check",
  summary: "validate ACL files",
  usage: `usage: guardpost acl check FILE...

Loads each ACL file as the proxy would and prints "FILE: ok" for each valid
one. An invalid file is reported on stderr as "file:line:col: message".

exit codes: 0 all files are valid, 2 a file is invalid or unreadable
`,
  async run(args, io) {
    const { positionals: files } = parseCommandArgs("acl check", args, {});
    if (files.length === 0) throw usageError("acl check", "no ACL file given");
    let code = 0;
    for (const file of files) {
      try {
        loadAcl(file);
        io.stdout.write(`${file}: ok\n`);
      } catch (err) {
        if (!isGuardpostError(err)) throw err;
        io.stderr.write(`${err.format()}\n`);
        code = 2;
      }
    }
    return code;
  },
};
