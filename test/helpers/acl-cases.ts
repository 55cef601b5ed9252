/**
 * The shared table of ACL decisions (test/fixtures/acl/cases.yaml), typed,
 * plus writers that turn it into ACL files and policy test files so every
 * implementation of the contract is driven by the same cases.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { canonicalPeer, formatPeer } from "../../src/identity/attributes.js";
import { writeFiles } from "./pki.js";

export type TablePeer = Readonly<Record<string, string | readonly string[]>>;

export interface AclCase {
  readonly name: string;
  readonly acl: string;
  readonly peer: TablePeer;
  readonly request: string;
  readonly method: string;
  readonly target: string;
  readonly expect: "allow" | "deny";
  readonly entry: string | null;
}

interface RawTable {
  acls: Record<string, string>;
  cases: Array<{ acl: string; name?: string; peer: TablePeer; request: string; expect: "allow" | "deny"; entry: string | null }>;
}

const raw = parse(readFileSync(new URL("../fixtures/acl/cases.yaml", import.meta.url), "utf8")) as RawTable;

/** ACL name -> YAML text. */
export const ACL_TEXTS: ReadonlyMap<string, string> = new Map(Object.entries(raw.acls));

export const ACL_CASES: readonly AclCase[] = raw.cases.map((c) => {
  if (!ACL_TEXTS.has(c.acl)) throw new Error(`cases.yaml: unknown acl ${c.acl}`);
  if (c.expect !== "allow" && c.expect !== "deny") throw new Error(`cases.yaml: bad expect in ${c.request}`);
  if (c.entry === undefined) throw new Error(`cases.yaml: ${c.request} must say which entry decides (null for none)`);
  const [method, target] = c.request.split(" ") as [string, string];
  return { ...c, method, target, name: c.name ?? `${c.request} as ${peerSpec(c.peer)}` };
});

/** The peer as a `--peer` argument. */
export function peerSpec(peer: TablePeer): string {
  return formatPeer(canonicalPeer(peer));
}

/** Writes every table ACL as `<name>.yaml` into `dir`; returns name -> path. */
export function writeTableAcls(dir: string): ReadonlyMap<string, string> {
  const files = writeFiles(dir, Object.fromEntries([...ACL_TEXTS].map(([name, text]) => [`${name}.yaml`, text])));
  return new Map([...ACL_TEXTS.keys()].map((name) => [name, files[`${name}.yaml`]!]));
}

/**
 * Writes one policy test file per table ACL (JSON is YAML) next to the ACLs,
 * with the expectations as given or, with `invert`, turned around; returns
 * the paths.
 */
export function writeTablePolicyTests(dir: string, options: { invert?: boolean } = {}): string[] {
  writeTableAcls(dir);
  const files: Record<string, string> = {};
  for (const name of ACL_TEXTS.keys()) {
    const cases = ACL_CASES.filter((c) => c.acl === name).map((c) => ({
      name: c.name,
      peer: c.peer,
      request: c.request,
      expect: options.invert ? (c.expect === "allow" ? "deny" : "allow") : c.expect,
      entry: c.entry,
    }));
    files[`${name}${options.invert ? ".inverted" : ""}.test.yaml`] = JSON.stringify({ acl: `${name}.yaml`, cases }, null, 2);
  }
  return Object.values(writeFiles(dir, files));
}
