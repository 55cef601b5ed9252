import { resolve } from "node:path";
import type { CompiledAcl } from "../acl/compile.js";
import { describeFailure, loadPolicyTest, runPolicyTest, uncoveredEntries, type CaseResult, type PolicyTestResult } from "../acl/policy-test.js";
import { isGuardpostError } from "../errors.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

export const aclTestCommand: Command = {
  name: "acl test",
  summary: "run policy test files",
  usage: `usage: guardpost acl test [--coverage] FILE...

Runs policy test files: each names an ACL (relative to itself) and cases:

  acl: payments-api.yaml
  cases:
    - name: web reads users          # optional
      peer: {OU: web, CN: web-01}    # or peer: OU=web, or peerCert: certs/web.pem
      request: GET /user
      expect: allow                  # allow or deny
      entry: GET /user               # optional: the entry that must decide

Prints one line per failing case (where it is, its name, the decision and the
deciding entry) and ends with "N passed, M failed".

  --coverage   also list the ACL entries that no case exercised (an entry is
               exercised when it decided a case, allowed or denied); this is a
               report and does not change the exit code

exit codes: 0 all cases passed, 1 a case failed, 2 bad usage or an invalid file
`,
  async run(args, io) {
    const { values, positionals: files } = parseCommandArgs("acl test", args, { coverage: { type: "boolean" } });
    if (files.length === 0) throw usageError("acl test", "no policy test file given");

    let passed = 0;
    let failed = 0;
    let invalid = false;
    // Several test files may exercise one ACL; coverage is counted over all of them.
    const byAcl = new Map<string, { acl: CompiledAcl; results: CaseResult[] }>();
    for (const file of files) {
      let outcome: PolicyTestResult;
      try {
        outcome = runPolicyTest(loadPolicyTest(file));
      } catch (err) {
        if (!isGuardpostError(err)) throw err;
        io.stderr.write(`${err.format()}\n`);
        invalid = true;
        continue;
      }
      passed += outcome.passed;
      failed += outcome.failed;
      for (const result of outcome.results) if (!result.passed) io.stdout.write(`${describeFailure(result)}\n`);
      const key = resolve(outcome.test.acl.file);
      const seen = byAcl.get(key) ?? { acl: outcome.test.acl, results: [] };
      seen.results.push(...outcome.results);
      byAcl.set(key, seen);
    }

    if (values.coverage) {
      for (const { acl, results } of byAcl.values()) {
        const missed = uncoveredEntries(acl, results);
        io.stdout.write(`coverage ${acl.file}: ${acl.entries.length - missed.length} of ${acl.entries.length} entries exercised\n`);
        for (const entry of missed) io.stdout.write(`${entry.position.file}:${entry.position.line}:${entry.position.col}: not exercised: ${entry.entry}\n`);
      }
    }
    io.stdout.write(`${passed} passed, ${failed} failed\n`);
    return invalid ? 2 : failed > 0 ? 1 : 0;
  },
};
