/**
 * guardpost as a library: the ACL loader and decision types for policy tests
 * written in TypeScript, peer identity helpers, and the error registry.
 *
 *   import { loadAcl } from "guardpost";
 *   const acl = loadAcl("acl/payments-api.yaml");
 *   acl.decide({ method: "DELETE", path: "/user", peer: { OU: "marketing" } });
 *   // -> { allow: false, entry: "DELETE /user", reason: "no principal of DELETE /user matches the peer" }
 */
export { compileAcl, loadAcl } from "./acl/compile.js";
export type { AclEntry, AclMode, CompiledAcl } from "./acl/compile.js";
export type { Decision, DecisionRequest } from "./acl/decide.js";
export { describeFailure, loadPolicyTest, parseRequestLine, runPolicyTest, uncoveredEntries } from "./acl/policy-test.js";
export type { CaseResult, PolicyCase, PolicyTest, PolicyTestResult } from "./acl/policy-test.js";
export { ATTRIBUTES, canonicalPeer, formatPeer } from "./identity/attributes.js";
export type { Attribute, CertificateAttributes, PeerAttributes, PeerInput } from "./identity/attributes.js";
export { peerWithSource } from "./identity/source-address.js";
export type { SourceAddress } from "./identity/source-address.js";
export { parsePeerSpec, peerAttributesFromCertificate, readPeerCertificate } from "./identity/peer.js";
export type { LegacyCertificateFields } from "./identity/peer.js";
export { normalizeTarget } from "./http/path.js";
export type { NormalizedTarget } from "./http/path.js";
export { ERROR_CODES, GuardpostError, isGuardpostError } from "./errors.js";
export type { ErrorCode, ErrorCodeInfo, SourcePosition } from "./errors.js";
