/**
 * What a command writes to. The CLI passes the process streams; tests pass
 * buffers, so every command can be run in-process and its output asserted.
 */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /**
   * What `-` reads (acl suggest --from -); the CLI passes `() => process.stdin`.
   * A function, because opening process.stdin makes an inherited pipe
   * non-blocking for every process sharing it: `guardpost serve &` would
   * break the reads of the shell that started it.
   */
  readonly stdin?: () => NodeJS.ReadableStream;
  /** Resolves when the user asks a long-running command to stop (SIGINT/SIGTERM); absent in tests that stop it otherwise. */
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  /** One line for `guardpost help`. */
  readonly summary: string;
  /** The full text for `guardpost help <command>`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code (0 success, 1 failed check, 2 bad usage or input). */
  run(args: readonly string[], io: CommandIo): Promise<number>;
}
