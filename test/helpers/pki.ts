/**
 * Test PKI: `createCa()` and `ca.issue({ ou, cn, sans, eku, notAfter })` from
 * the project's own authority module, plus writing material to a temp dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onCleanup } from "./cleanup.js";

export { createCa } from "../../src/pki/authority.js";
export type { CertificateAuthority, IssuedCertificate, IssueOptions, SubjectAttribute, SubjectFields, SubjectValue } from "../../src/pki/authority.js";

/** A temp dir removed after the current test file. */
export function tempDir(prefix = "guardpost-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (name -> content) into `dir`; returns the absolute paths by name. */
export function writeFiles<T extends Record<string, string>>(dir: string, files: T): { [K in keyof T]: string } {
  const out = {} as { [K in keyof T]: string };
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileSync(path, content);
    out[name as keyof T] = path;
  }
  return out;
}
