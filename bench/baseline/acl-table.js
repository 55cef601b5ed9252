/**
 * The yardstick's ACL: an ACL file (the README's ACL reference) reduced to the cases the
 * benchmark uses (exact paths; principals `OU=value` or "*"), compiled into
 * one Map lookup per request. Anything richer is refused, so the baseline
 * never silently grants less or more than the file says.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const ANY = "*";

/** @typedef {Map<string, Set<string>>} AclTable "METHOD /path" -> Set of OUs ("*": any verified peer) */

/**
 * "METHOD /path" -> Set of OUs ("*": any verified peer).
 * @param {string} file
 * @returns {AclTable}
 */
export function compileAcl(file) {
  const table = new Map();
  const { paths } = /** @type {{ paths: Record<string, Record<string, string[]>> }} */ (parse(readFileSync(file, "utf8")));
  for (const [path, methods] of Object.entries(paths)) {
    if (path.includes("{") || path.includes("*")) throw new Error(`${file}: baseline ACL takes exact paths only, got ${path}`);
    for (const [method, principals] of Object.entries(methods)) {
      const ous = principals.map((p) => {
        if (p === ANY) return ANY;
        const m = /^OU=(.+)$/i.exec(p);
        if (!m) throw new Error(`${file}: baseline ACL takes OU=value or "*", got ${JSON.stringify(p)}`);
        return m[1];
      });
      table.set(`${method} ${path}`, new Set(ous));
    }
  }
  return table;
}

/**
 * The peer's OUs as an array; computed once per TLS connection by the callers.
 * @param {import("node:tls").TLSSocket} tlsSocket
 * @returns {string[]}
 */
export function peerOus(tlsSocket) {
  // a string for one OU, an array for several (Node's types say string only)
  const ou = /** @type {string | string[] | undefined} */ (tlsSocket.getPeerCertificate().subject?.OU);
  return ou === undefined ? [] : /** @type {string[]} */ ([]).concat(ou);
}

/**
 * @param {AclTable} table
 * @param {string} method
 * @param {string} url
 * @param {string[]} ous
 */
export function isAllowed(table, method, url, ous) {
  const q = url.indexOf("?"); // the query string plays no part (the README's ACL reference)
  const entry = table.get(`${method} ${q === -1 ? url : url.slice(0, q)}`);
  if (entry === undefined) return false;
  if (entry.has(ANY)) return true;
  for (const ou of ous) if (entry.has(ou)) return true;
  return false;
}

/**
 * The 403 every Node contender sends, shaped like guardpost's (the README's "What happens on the wire").
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 */
export function forbidden(req, res) {
  const body = JSON.stringify({ error: "forbidden", method: req.method, path: req.url });
  res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
