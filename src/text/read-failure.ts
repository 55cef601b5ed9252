/** Why a file could not be read, in words, with the errno code for searching: "the file does not exist (ENOENT)". */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "the file does not exist (ENOENT)";
  if (code === "EACCES" || code === "EPERM") return `guardpost may not read the file (${code}: check its owner and mode)`;
  if (code === "EISDIR") return "this is a folder, not a file (EISDIR)";
  return `cannot read the file: ${code ?? String(err)}`;
}
