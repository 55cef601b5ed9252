/**
 * argv parsing for commands: node:util parseArgs in strict mode. Its errors
 * become GP_ERR_USAGE (exit 2) in our words: an unknown option gets the
 * closest known one ("did you mean --config?"), a missing value says what
 * goes there, and every message points at the command's help.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GuardpostError } from "../errors.js";
import { closest } from "../text/suggest.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export type ParsedCommandArgs<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export function parseCommandArgs<const O extends Options>(command: string, args: readonly string[], options: O): ParsedCommandArgs<O> {
  // A lenient pass first: its tokens name each option as written, so the error can say which one is wrong and why.
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = options[token.name];
    if (option === undefined) {
      const names = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
      const suggestion = closest(token.rawName, names);
      const known = Object.keys(options).map((name) => `--${name}`);
      throw usageError(
        command,
        `unknown option ${token.rawName}${suggestion ? `; did you mean ${suggestion}?` : known.length > 0 ? ` (expected one of ${known.join(", ")})` : " (this command takes no options)"}`,
      );
    }
    if (option.type === "string" && token.value === undefined) throw usageError(command, `${token.rawName} needs a value (${token.rawName} ${valueName(token.name)})`);
    if (option.type === "boolean" && token.inlineValue) throw usageError(command, `${token.rawName} is a switch and takes no value (write ${token.rawName} alone)`);
  }
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) throw usageError(command, (err as Error).message);
    throw err;
  }
}

/** What a string option takes, for "--config needs a value (--config FILE)". */
function valueName(option: string): string {
  if (/config|cert|file|from|tests/.test(option)) return "FILE";
  if (/days|hours/.test(option)) return "N";
  return option.toUpperCase();
}

export function usageError(command: string, message: string): GuardpostError {
  return new GuardpostError("GP_ERR_USAGE", `guardpost ${command}: ${message} (see guardpost help ${command})`);
}

/**
 * One error as the CLI prints it: `file:line:col: message` for file errors,
 * then the stable code in brackets (as compilers print a warning's flag), so
 * a script or a search can key on it.
 */
export function formatCliError(err: GuardpostError): string {
  return `${err.format()} [${err.code}]`;
}
