#!/usr/bin/env node
/**
 * The guardpost executable. The only place that calls process.exit: every
 * command resolves to an exit code and this file ends the process with it.
 */
import { run } from "./run.js";

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: () => process.stdin, env: process.env });
process.exitCode = code;
// Long-running commands (serve, demo) close their handles when they stop;
// exit explicitly so a stray handle in a dependency cannot keep us alive.
process.stdout.write("", () => process.exit(code));
