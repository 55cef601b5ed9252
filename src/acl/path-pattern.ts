/**
 * ACL path patterns: `/user` (exactly that path), `{name}` (one non-empty
 * segment), a final `/**` (the path before it and everything below it).
 *
 * Literal segments are normalized with the rules request paths get
 * (`normalizeTarget`), so `/%75ser` and `/user` are the same pattern and
 * compare equal to the normalized request path. Anything a normalized
 * request path can never contain is refused: empty or dot segments, a
 * trailing slash (trailing slashes never change a decision), a query.
 */
import { GuardpostError } from "../errors.js";
import { normalizeTarget } from "../http/path.js";

export type PatternSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "param"; readonly name: string }
  | { readonly kind: "rest" };

export interface PathPattern {
  /** The pattern as written in the file. */
  readonly text: string;
  readonly segments: readonly PatternSegment[];
  /** Equal for two patterns exactly when they match the same paths (`/u/{id}` and `/u/{name}`). */
  readonly key: string;
  /** The normalized path when every segment is literal, else null. */
  readonly exact: string | null;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bad(text: string, why: string): GuardpostError {
  return new GuardpostError("GP_ERR_ACL_BAD_PATH", `bad path ${JSON.stringify(text)}: ${why}`);
}

/** Parses and validates a pattern; throws GP_ERR_ACL_BAD_PATH (without a position) saying what is wrong. */
export function parsePathPattern(text: string): PathPattern {
  if (!text.startsWith("/")) throw bad(text, "a path starts with /");
  if (text.includes("?")) throw bad(text, "a path pattern has no query (the query plays no part in decisions)");
  if (text === "/") return { text, segments: [], key: "/", exact: "/" };
  if (text.endsWith("/")) throw bad(text, `trailing slash (a trailing slash never changes a decision; write ${text.replace(/\/+$/, "") || "/"})`);

  const raw = text.slice(1).split("/");
  const segments: PatternSegment[] = [];
  const params = new Set<string>();
  raw.forEach((segment, index) => {
    if (segment === "") throw bad(text, "empty segment (//)");
    if (segment === "**") {
      if (index !== raw.length - 1) throw bad(text, "** must be the last segment");
      segments.push({ kind: "rest" });
      return;
    }
    if (segment.startsWith("{") && segment.endsWith("}")) {
      const name = segment.slice(1, -1);
      if (!PARAM_NAME.test(name)) throw bad(text, `parameter name ${JSON.stringify(name)} must be letters, digits or _ (e.g. {id})`);
      if (params.has(name)) throw bad(text, `parameter {${name}} appears twice`);
      params.add(name);
      segments.push({ kind: "param", name });
      return;
    }
    if (segment.includes("{") || segment.includes("}")) throw bad(text, `{name} must be a whole segment, not part of ${JSON.stringify(segment)}`);
    if (segment.includes("*")) throw bad(text, `* in ${JSON.stringify(segment)}: use {name} for one segment or a final /** for everything below`);
    const dots = segment.replace(/%2e/gi, ".");
    if (dots === "." || dots === "..") throw bad(text, `dot segment ${JSON.stringify(segment)} (requests are judged after . and .. are resolved)`);
    const normalized = normalizeTarget(`/${segment}`);
    if (!normalized.ok) throw bad(text, normalized.reason);
    segments.push({ kind: "literal", value: normalized.path.slice(1) });
  });

  const key = `/${segments.map((s) => (s.kind === "literal" ? s.value : s.kind === "param" ? "{}" : "**")).join("/")}`;
  const exact = segments.every((s) => s.kind === "literal") ? key : null;
  return { text, segments, key, exact };
}
