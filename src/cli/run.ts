/**
 * argv -> command -> exit code. Commands are loaded on demand so that
 * `guardpost acl check` does not pay for the proxy's dependencies.
 */
import { readFileSync } from "node:fs";
import { isGuardpostError } from "../errors.js";
import { closest } from "../text/suggest.js";
import { formatCliError } from "./args.js";
import type { Command, CommandIo } from "./io.js";

interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

const COMMANDS: readonly CommandEntry[] = [
  { name: "serve", summary: "run the sidecar or gateway from a config file", load: async () => (await import("./serve.js")).serveCommand },
  { name: "demo", summary: "run the proxy on a throwaway PKI with a sample upstream (what `npm start` runs)", load: async () => (await import("./demo.js")).demoCommand },
  { name: "acl check", summary: "validate ACL files", load: async () => (await import("./acl-check.js")).aclCheckCommand },
  { name: "acl test", summary: "run policy test files", load: async () => (await import("./acl-test.js")).aclTestCommand },
  { name: "acl explain", summary: "show the decision and deciding entry for one request", load: async () => (await import("./acl-explain.js")).aclExplainCommand },
  { name: "acl diff", summary: "print every change of access between two versions of an ACL", load: async () => (await import("./acl-diff.js")).aclDiffCommand },
  { name: "acl suggest", summary: "write the least-privilege ACL that grants what access logs show", load: async () => (await import("./acl-suggest.js")).aclSuggestCommand },
  { name: "pki init", summary: "make a development CA (ECDSA P-256) in a folder", load: async () => (await import("./pki.js")).pkiInitCommand },
  { name: "pki issue", summary: "issue a certificate and key from that CA", load: async () => (await import("./pki.js")).pkiIssueCommand },
  { name: "pki inspect", summary: "show what guardpost reads from a certificate and what it fits", load: async () => (await import("./pki.js")).pkiInspectCommand },
];

/** Words that group commands (`acl`, `pki`), each with a line for its help page. */
const GROUPS: ReadonlyMap<string, string> = new Map([
  ["acl", "ACL files: validate them, run their policy tests, explain a decision, diff two versions, suggest one from access logs"],
  ["pki", "Certificates for development and tests: a CA, certificates it issues, and what guardpost reads from one"],
]);

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: guardpost <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "  guardpost help <command> [subcommand]   details of one command (guardpost help acl, guardpost help acl test)",
    "  guardpost --version                     print the version",
    "",
    "exit codes: 0 success, 1 a failed check (test case, deny), 2 bad usage or invalid input",
    "",
  ].join("\n");
}

/** The longest command name that argv starts with, and the arguments after it. */
function findCommand(argv: readonly string[]): { entry: CommandEntry; args: readonly string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(" ");
    const entry = COMMANDS.find((c) => c.name === name);
    if (entry) return { entry, args: argv.slice(words) };
  }
  return undefined;
}

export async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === "-h" || first === "--help") {
    io.stdout.write(overview());
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-v" || first === "version") {
    io.stdout.write(`guardpost ${version()}\n`);
    return 0;
  }
  if (first === "help") {
    if (argv.length === 1) {
      io.stdout.write(overview());
      return 0;
    }
    const found = findCommand(argv.slice(1));
    if (found && found.args.length === 0) {
      io.stdout.write((await found.entry.load()).usage);
      return 0;
    }
    if (argv.length === 2 && GROUPS.has(argv[1]!)) {
      io.stdout.write(groupOverview(argv[1]!));
      return 0;
    }
    return unknownCommand(argv.slice(1), io);
  }
  const found = findCommand(argv);
  if (!found) {
    // `guardpost acl` alone: what the group offers, as a usage error.
    if (argv.length === 1 && GROUPS.has(first)) {
      io.stderr.write(groupOverview(first));
      return 2;
    }
    return unknownCommand(argv, io);
  }
  try {
    const command = await found.entry.load();
    if (found.args.includes("--help") || found.args.includes("-h")) {
      io.stdout.write(command.usage);
      return 0;
    }
    return await command.run(found.args, io);
  } catch (err) {
    return reportError(err, io);
  }
}

function groupOverview(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...members.map((c) => c.name.length));
  return [
    `usage: guardpost ${group} <command> [options]`,
    "",
    `${GROUPS.get(group)}.`,
    "",
    "commands:",
    ...members.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `  guardpost help ${group} <command>   details of one command`,
    "",
  ].join("\n");
}

/** An unknown command, with the closest known one when the words look like a typo of it. */
function unknownCommand(argv: readonly string[], io: CommandIo): number {
  const words = argv.filter((word) => !word.startsWith("-"));
  const inGroup = GROUPS.has(words[0] ?? "");
  const typed = words.slice(0, inGroup ? 2 : 1).join(" ");
  const candidates = inGroup ? COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `)).map((c) => c.name) : [...COMMANDS.map((c) => c.name.split(" ")[0]!), ...GROUPS.keys(), "help"];
  const suggestion = closest(typed, new Set(candidates));
  const hint = suggestion
    ? `; did you mean "${suggestion}"?`
    : inGroup
      ? ` (expected one of: ${candidates.join(", ")})`
      : "; see guardpost help";
  io.stderr.write(`guardpost: unknown command "${typed}"${hint} [GP_ERR_USAGE]\n`);
  return 2;
}

/** Prints an error the way users read it (see formatCliError). */
export function reportError(err: unknown, io: CommandIo): number {
  if (isGuardpostError(err)) {
    io.stderr.write(`${formatCliError(err)}\n`);
    return err.exitCode;
  }
  io.stderr.write(`guardpost: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 2;
}
