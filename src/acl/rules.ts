/**
 * An ACL as plain objects: what the file says, checked and with principals
 * compiled, before any layout. The compiler produces it; the decision table
 * (decide.ts) is laid out from it; the reference evaluator (reference.ts)
 * reads it directly; `acl diff` derives its regions from it.
 */
import type { SourcePosition } from "../errors.js";
import type { PathPattern } from "./path-pattern.js";
import type { Principal } from "./principal.js";

export interface Decision {
  readonly allow: boolean;
  /** The entry that decided, `METHOD pattern` as written in the ACL (`GET /user/{id}`), or null when no entry did. */
  readonly entry: string | null;
  /** Why, in words: which principal granted, or what was missing. */
  readonly reason: string;
}

/** One method entry of one path: whom it grants, in file order, and what it decides. */
export interface RuleEntry {
  /** `METHOD pattern`: `GET /user/{id}`, `* /admin/**`. */
  readonly entry: string;
  /** The method key as written: a method token or "*". */
  readonly method: string;
  /** Where the method key is. */
  readonly position: SourcePosition;
  /** Each principal with the decision it gives when it is the first to match. */
  readonly grants: readonly { readonly principal: Principal; readonly allow: Decision }[];
  /** The decision when no principal matches. */
  readonly deny: Decision;
}

/** One path of the ACL with its method entries as written: HEAD's fallback is not resolved here. */
export interface AclRule {
  readonly pattern: PathPattern;
  /** Where the path key is. */
  readonly position: SourcePosition;
  /** Method token -> entry (not "*"). */
  readonly methods: ReadonlyMap<string, RuleEntry>;
  /** The `"*"` entry, or null. */
  readonly anyMethod: RuleEntry | null;
  /** The decision for a method this path has no entry for (and no "*"). */
  readonly noMethod: Decision;
}

export const NO_PATH: Decision = Object.freeze({ allow: false, entry: null, reason: "no path in the ACL matches" });
