import { loadAcl } from "../acl/compile.js";
import { diffAcls, formatDiff } from "../acl/diff.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

export const aclDiffCommand: Command = {
  name: "acl diff",
  summary: "print every change of access between two versions of an ACL",
  usage: `usage: guardpost acl diff OLD NEW [--fail-on widen|any] [--format text|json]

Prints every change of access between two ACL files as decisions, not text:
who may now (+) or no longer (-) call which methods on which paths, each with
the entry and file:line:col that decides it, e.g.

  + OU=marketing may GET /user/{id}   (new.yaml:14:7 GET /user/{id})
  - OU=web may no longer DELETE /user   (old.yaml:9:5 DELETE /user; now no entry)

Every request whose decision differs falls in a printed line, and every line
has a witness request (shown with --format json). Renaming, reordering or
regrouping that changes no decision prints nothing.

  --fail-on widen   exit 1 only when some access was added (a review gate)
  --fail-on any     exit 1 on any change (the default)
  --format json     one JSON object: {old, new, mode, changes: [{kind, principal,
                    conditions, methods, path, old, new, witness}]}

exit codes: 0 no change (or none that --fail-on counts), 1 changes,
            2 bad usage or an invalid file
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("acl diff", args, {
      "fail-on": { type: "string" },
      format: { type: "string" },
    });
    if (positionals.length !== 2) throw usageError("acl diff", `give exactly two ACL files, OLD and NEW (got ${positionals.length})`);
    const failOn = values["fail-on"] ?? "any";
    if (failOn !== "any" && failOn !== "widen") throw usageError("acl diff", `--fail-on must be widen or any, not ${JSON.stringify(failOn)}`);
    const format = values.format ?? "text";
    if (format !== "text" && format !== "json") throw usageError("acl diff", `--format must be text or json, not ${JSON.stringify(format)}`);

    const diff = diffAcls(loadAcl(positionals[0]!), loadAcl(positionals[1]!));
    if (format === "json") io.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
    else {
      const text = formatDiff(diff);
      io.stdout.write(text === "" ? "no change of access\n" : text);
    }
    const widened = diff.mode?.kind === "widen" || diff.changes.some((c) => c.kind === "widen");
    const changed = diff.mode !== null || diff.changes.length > 0;
    return (failOn === "widen" ? widened : changed) ? 1 : 0;
  },
};
