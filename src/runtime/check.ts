/**
 * `serve --check`: everything start-up would validate, without listening.
 * Lets a deployment pipeline refuse a bad config, certificate or ACL before
 * it reaches a running proxy.
 */
import { loadAcl } from "../acl/compile.js";
import type { Config } from "../config/schema.js";
import { loadTlsMaterial } from "../tls/material.js";

export async function checkConfig(config: Config): Promise<void> {
  await loadTlsMaterial(config.tls);
  const aclFiles = new Set(config.inbound.flatMap((inbound) => inbound.routes.map((route) => route.acl)));
  for (const file of aclFiles) loadAcl(file);
}
