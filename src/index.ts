/**
 * guardpost as a library: the ACL loader and decision types for policy tests
 * written in TypeScript, and the error registry.
 */
export { ERROR_CODES, GuardpostError, isGuardpostError } from "./errors.js";
export type { ErrorCode, ErrorCodeInfo, SourcePosition } from "./errors.js";
