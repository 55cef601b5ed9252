/**
 * Lines of log files for `acl suggest`, streamed: plain or gzip (recognized
 * by its magic bytes, not the file name, so `-` and rotated `.1` files work
 * too), split without holding more than one line in memory. A line longer
 * than `maxLineBytes` is not kept: it is reported as cut and skipped.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { GuardpostError } from "../errors.js";

export interface LogLine {
  readonly text: string;
  /** The line was longer than the limit; `text` is empty. */
  readonly tooLong: boolean;
}

async function* bytes(input: Readable): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let head = Buffer.alloc(0);
  // Enough bytes to see the gzip magic (1f 8b).
  while (head.length < 2) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, Buffer.from(next.value)]);
  }
  const rest = (async function* () {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.from(next.value);
    }
  })();
  if (head[0] === 0x1f && head[1] === 0x8b) {
    for await (const chunk of Readable.from(rest).pipe(createGunzip())) yield chunk as Buffer;
  } else {
    yield* rest;
  }
}

export async function* logLines(input: Readable, maxLineBytes: number): AsyncGenerator<LogLine> {
  const decoder = new StringDecoder("utf8");
  let partial = "";
  let skipping = false;
  for await (const chunk of bytes(input)) {
    const text = decoder.write(chunk);
    let start = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
      if (skipping || partial.length + newline - start > maxLineBytes) yield { text: "", tooLong: true };
      else yield { text: stripCr(partial + text.slice(start, newline)), tooLong: false };
      partial = "";
      skipping = false;
      start = newline + 1;
    }
    if (!skipping) {
      partial += text.slice(start);
      if (partial.length > maxLineBytes) {
        partial = "";
        skipping = true;
      }
    }
  }
  const last = partial + decoder.end();
  if (skipping) yield { text: "", tooLong: true };
  else if (last !== "") yield { text: stripCr(last), tooLong: false };
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** A log file, or stdin for `-`; a missing file is GP_ERR_FILE_READ before any line is read. */
export async function openLog(file: string, stdin: () => Readable): Promise<Readable> {
  if (file === "-") return stdin();
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (err: NodeJS.ErrnoException) => reject(new GuardpostError("GP_ERR_FILE_READ", `cannot read file: ${err.code ?? err.message}`, { file }, { cause: err })));
  });
  return stream;
}
