/**
 * The three ways orchestrators replace secret files: rewrite in place,
 * write-then-rename, and Kubernetes' `..data` symlink swap.
 */
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function writeInPlace(file: string, content: string): void {
  writeFileSync(file, content);
}

let renameCounter = 0;

/** Write a sibling temp file, then rename it over `file` (atomic; the inode changes). */
export function writeByRename(file: string, content: string): void {
  const temp = `${file}.tmp-${process.pid}-${renameCounter++}`;
  writeFileSync(temp, content);
  renameSync(temp, file);
}

/**
 * A Kubernetes secret volume: `name -> ..data/name`, `..data -> ..<timestamp>`;
 * an update writes a new timestamped folder and swaps `..data` atomically.
 */
export class SecretVolume {
  private generation = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Publishes a new version of every file at once. */
  publish(files: Record<string, string>): void {
    const version = `..2026_11_22_00_00_00.${++this.generation}`;
    mkdirSync(join(this.dir, version));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(this.dir, version, name), content);
    let previous: string | undefined;
    try {
      previous = readlinkSync(join(this.dir, "..data"));
    } catch {
      previous = undefined;
    }
    const tempLink = join(this.dir, "..data_tmp");
    symlinkSync(version, tempLink);
    renameSync(tempLink, join(this.dir, "..data"));
    for (const name of Object.keys(files)) {
      try {
        symlinkSync(join("..data", name), join(this.dir, name));
      } catch {
        // The per-file link already points into ..data.
      }
    }
    if (previous) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }
}
