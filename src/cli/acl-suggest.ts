import { writeFileSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { loadAcl } from "../acl/compile.js";
import { MAX_LINE_BYTES, parseBy, Suggester } from "../acl/suggest.js";
import { GuardpostError } from "../errors.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";
import { logLines, openLog } from "./log-lines.js";

export const aclSuggestCommand: Command = {
  name: "acl suggest",
  summary: "write the least-privilege ACL that grants what access logs show",
  usage: `usage: guardpost acl suggest --from LOG... [--by ATTR,...] [--acl CURRENT] [--tests FILE]
                             [--min-count N] [--allow-globs]

Reads guardpost access logs (typically from mode: audit) and prints the ACL
that grants exactly the calls they show: allowed and would_deny lines count;
denied calls, guardpost's errors and other lines are skipped and counted.
The output passes "guardpost acl check"; each grant carries a comment with
its count and when it was first and last seen.

  --from LOG...     access logs: files or - for stdin, plain or gzip; streamed
                    (more files may follow as arguments)
  --by ATTR,...     group callers by these certificate attributes (default OU),
                    e.g. --by OU,CN grants {OU: web, CN: web-01}
  --acl CURRENT     compare with the ACL in service: list the observed calls it
                    denies (to add) and its entries and principals no call used
  --tests FILE      also write a policy test file: allow cases for the observed
                    calls, deny cases for near misses (another observed caller,
                    another method); it names the ACL file FILE's name without
                    .test (service.test.yaml tests service.yaml)
  --min-count N     leave out calls of a caller, method and pattern seen fewer
                    than N times (default 1)
  --allow-globs     allow a final /** where one position shows many values of
                    differing depth (never otherwise)

Path segments that vary like identifiers (decimal, UUID, long hex), or
positions with more than 100 distinct values, become {id}; literal segments
stay literal.

exit codes: 0 a suggestion was written, 2 bad usage or unreadable input
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("acl suggest", args, {
      from: { type: "string", multiple: true },
      by: { type: "string" },
      acl: { type: "string" },
      tests: { type: "string" },
      "min-count": { type: "string" },
      "allow-globs": { type: "boolean" },
    });
    const logs = [...(values.from ?? []), ...positionals];
    if (values.from === undefined || logs.length === 0) throw usageError("acl suggest", "no log given (--from FILE, or --from - for stdin)");
    if (logs.filter((l) => l === "-").length > 1) throw usageError("acl suggest", "stdin (-) can be read once");
    const by = values.by === undefined ? undefined : parseBy(values.by);
    if (typeof by === "string") throw usageError("acl suggest", by);
    const minText = values["min-count"];
    const minCount = minText === undefined ? 1 : /^[1-9][0-9]{0,8}$/.test(minText) ? Number(minText) : NaN;
    if (Number.isNaN(minCount)) throw usageError("acl suggest", `--min-count must be a whole number of at least 1, not ${JSON.stringify(minText)}`);
    const current = values.acl === undefined ? undefined : loadAcl(values.acl);

    const suggester = new Suggester({ ...(by ? { by } : {}), minCount, allowGlobs: values["allow-globs"] ?? false, ...(current ? { current } : {}) });
    const stdin = () => (io.stdin ? (io.stdin() as Readable) : Readable.from([]));
    for (const file of logs) {
      const input = await openLog(file, stdin);
      try {
        for await (const line of logLines(input, MAX_LINE_BYTES)) suggester.add(line.text, line.tooLong);
      } catch (err) {
        // A truncated gzip stream or a read error mid-file: the file is unreadable, and the suggestion would be partial.
        throw new GuardpostError("GP_ERR_FILE_READ", `cannot read log: ${(err as Error).message}`, { file: file === "-" ? "(stdin)" : file }, { cause: err });
      }
    }
    const suggestion = suggester.finish();
    io.stdout.write(suggestion.acl);
    if (values.tests !== undefined) {
      const testsFile = values.tests;
      const aclName = basename(testsFile).replace(/\.test(\.ya?ml)$/, "$1");
      const aclFile = aclName === basename(testsFile) ? `${basename(testsFile, ".yaml")}.acl.yaml` : aclName;
      try {
        writeFileSync(testsFile, suggestion.tests(relative(dirname(resolve(testsFile)), resolve(dirname(testsFile), aclFile)) || aclFile));
      } catch (err) {
        throw new GuardpostError("GP_ERR_FILE_READ", `cannot write file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: testsFile }, { cause: err });
      }
    }
    const c = suggestion.counts;
    io.stderr.write(
      `acl suggest: ${c.lines} lines: ${c.used} used (${c.allowed} allowed, ${c.wouldDeny} would_deny), ${c.denied} denied and ${c.errors} errors skipped, ${c.malformed} malformed and ${c.other} other lines skipped, ${c.ungrouped} without the --by attributes\n`,
    );
    return 0;
  },
};
