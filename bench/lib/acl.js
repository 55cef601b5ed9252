/**
 * The benchmark's access rules, kept as data and rendered for each contender:
 * an ACL YAML file (the README's format) for guardpost and the Node contenders, an allow
 * list for haproxy, a map for nginx. One source, so every contender enforces
 * the same thing.
 */
import { BIG_ACL_SIZE, bigAclPath, CLIENT_OU, GRPC_PATHS, PATHS, WS_PATHS } from "./wire.js";

/** @typedef {{ path: string, method: string, ous: string[] }} Rule */

/** @returns {Rule[]} */
export function smallRules() {
  return [
    { path: PATHS.small, method: "GET", ous: [CLIENT_OU] },
    { path: PATHS.upload, method: "POST", ous: [CLIENT_OU] },
    { path: PATHS.admin, method: "GET", ous: ["ops"] },
  ];
}

/** The small rules plus 10,000 exact paths, each readable by OU=web. */
export function bigRules() {
  const rules = smallRules();
  for (let i = 0; i < BIG_ACL_SIZE; i++) rules.push({ path: bigAclPath(i), method: "GET", ous: [CLIENT_OU] });
  return rules;
}

/**
 * For the gRPC service: gRPC calls are POSTs to their method path (the README's "HTTP/2 and gRPC").
 * @returns {Rule[]}
 */
export function grpcRules() {
  return [
    { path: GRPC_PATHS.say, method: "POST", ous: [CLIENT_OU] },
    { path: GRPC_PATHS.denied, method: "POST", ous: ["ops"] },
  ];
}

/**
 * For the WebSocket echo service: a handshake is decided as a GET of its path (the README's "WebSocket").
 * @returns {Rule[]}
 */
export function wsRules() {
  return [
    { path: WS_PATHS.echo, method: "GET", ous: [CLIENT_OU] },
    { path: WS_PATHS.denied, method: "GET", ous: ["ops"] },
  ];
}

/**
 * The README's ACL format.
 * @param {Rule[]} rules
 */
export function toYaml(rules) {
  /** @type {Map<string, Rule[]>} */
  const byPath = new Map();
  for (const rule of rules) {
    if (!byPath.has(rule.path)) byPath.set(rule.path, []);
    byPath.get(rule.path)?.push(rule);
  }
  const lines = ["version: 1", "paths:"];
  for (const [path, entries] of byPath) {
    lines.push(`  ${path}:`);
    for (const { method, ous } of entries) lines.push(`    ${method}: [${ous.map((ou) => `OU=${ou}`).join(", ")}]`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * One "METHOD path OU" key per line, matched exactly by haproxy's `-f` list.
 * @param {Rule[]} rules
 */
export function toHaproxyList(rules) {
  return rules.flatMap(({ path, method, ous }) => ous.map((ou) => `${method} ${path} ${ou}`)).join("\n") + "\n";
}

/**
 * Entries for an nginx `map "$request_method $uri $ou"` block.
 * @param {Rule[]} rules
 */
export function toNginxMap(rules) {
  return rules.flatMap(({ path, method, ous }) => ous.map((ou) => `    "${method} ${path} ${ou}" 1;`)).join("\n");
}
