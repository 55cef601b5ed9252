import { loadAcl } from "../acl/compile.js";
import type { Decision } from "../acl/decide.js";
import { GuardpostError, isGuardpostError } from "../errors.js";
import { parseRequestLine } from "../acl/policy-test.js";
import { normalizeTarget } from "../http/path.js";
import { formatPeer } from "../identity/attributes.js";
import { parsePeerSpec, readPeerCertificate } from "../identity/peer.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

export const aclExplainCommand: Command = {
  name: "acl explain",
  summary: "show the decision and deciding entry for one request",
  usage: `usage: guardpost acl explain ACL (--peer P | --peer-cert FILE.pem) [--source ADDR] --request "METHOD /path"

Decides one request as the proxy would and prints "allow" or "deny", the
entry that decided (e.g. GET /user/{id}) with its place in the ACL, and why.
The path is normalized first, as the proxy does; the query plays no part.

  --peer P            the caller's attributes: ATTR=VALUE pairs joined by commas,
                      e.g. OU=web,CN=web-01; repeat an attribute for several values
                      (OU=web,OU=ops); a backslash escapes a comma in a value
  --peer-cert FILE    read the attributes from a PEM certificate instead
  --source ADDR       the client's source address (10.1.2.3, 2001:db8::7), for SRC=
                      principals; required when one of them decides
  --request LINE      "METHOD /path", e.g. "DELETE /user"

exit codes: 0 allow, 1 deny, 2 bad usage or invalid input
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("acl explain", args, {
      peer: { type: "string" },
      "peer-cert": { type: "string" },
      request: { type: "string" },
      source: { type: "string" },
    });
    if (positionals.length !== 1) throw usageError("acl explain", positionals.length === 0 ? "no ACL file given" : "give exactly one ACL file");
    if ((values.peer === undefined) === (values["peer-cert"] === undefined)) throw usageError("acl explain", "give exactly one of --peer and --peer-cert");
    if (values.request === undefined) throw usageError("acl explain", "--request is required");

    const acl = loadAcl(positionals[0]!);
    const { method, target } = parseRequestLine(values.request);
    const peer = values.peer !== undefined ? parsePeerSpec(values.peer) : readPeerCertificate(values["peer-cert"]!);
    let decision: Decision;
    try {
      decision = acl.decide({ method, path: target, peer, source: values.source });
    } catch (err) {
      if (!isGuardpostError(err) || err.code !== "GP_ERR_ACL_SOURCE_REQUIRED") throw err;
      throw new GuardpostError(err.code, `${err.message}; pass --source ADDR`, undefined, { cause: err });
    }

    const where = acl.entries.find((e) => e.entry === decision.entry)?.position;
    const lines = [
      decision.allow ? "allow" : "deny",
      `entry:  ${decision.entry === null ? "none" : decision.entry}${where ? `  (${where.file}:${where.line}:${where.col})` : ""}`,
      `reason: ${decision.reason}`,
      `peer:   ${formatPeer(peer)}`,
    ];
    if (values.source !== undefined) lines.push(`source: ${values.source}`);
    const normalized = normalizeTarget(target);
    if (normalized.ok && normalized.path + normalized.query !== target) lines.push(`path:   ${normalized.path} (normalized from ${target})`);
    if (acl.mode === "audit") lines.push("mode:   audit (the proxy logs this decision but lets the request through)");
    io.stdout.write(`${lines.join("\n")}\n`);
    return decision.allow ? 0 : 1;
  },
};
