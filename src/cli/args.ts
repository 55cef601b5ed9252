/**
 * argv parsing for commands: node:util parseArgs in strict mode, with its
 * errors turned into GP_ERR_USAGE (exit 2) that point at the command's help.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GuardpostError } from "../errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export type ParsedCommandArgs<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export function parseCommandArgs<const O extends Options>(command: string, args: readonly string[], options: O): ParsedCommandArgs<O> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) throw usageError(command, (err as Error).message);
    throw err;
  }
}

export function usageError(command: string, message: string): GuardpostError {
  return new GuardpostError("GP_ERR_USAGE", `guardpost ${command}: ${message} (see guardpost help ${command})`);
}
