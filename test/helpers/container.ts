/**
 * Checking a config as it would run in a container: its files are laid out
 * under a temp dir standing in for the container's filesystem, the absolute
 * paths it names are taken under that dir, and `guardpost serve --check`
 * loads everything start-up would (config, TLS material, ACLs).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Document } from "yaml";
import { DEFAULTS } from "../../src/config/schema.js";
import { runCli, type CliResult } from "./cli.js";
import { createCa } from "./pki.js";

/** PEM files a deployment mounts: a CA, a service certificate and key it issued, and its CRL. */
export interface Material {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly crl: string;
}

export async function createMaterial(subject: { cn: string; ou: string } = { cn: "payments", ou: "payments" }): Promise<Material> {
  const ca = await createCa();
  const service = await ca.issue({ ...subject, sans: { dns: ["localhost"] }, eku: ["serverAuth", "clientAuth"] });
  return { ca: ca.cert, cert: service.chain, key: service.key, crl: await ca.crl() };
}

/** Writes `files` (container path -> content) under `root`. */
export function layOut(root: string, files: Readonly<Record<string, string>>): void {
  for (const [path, content] of Object.entries(files)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

const TLS_FILES = ["cert", "key", "ca", "crl"] as const;

/** Every config key that names a file, as a path of keys into the document. */
function filePaths(doc: Document): (string | number)[][] {
  const paths: (string | number)[][] = TLS_FILES.map((key) => ["tls", key]);
  const inbound = doc.get("inbound");
  const listeners: (string | number)[][] = isSeq(inbound) ? inbound.items.map((_, i) => ["inbound", i]) : isMap(inbound) ? [["inbound"]] : [];
  for (const listener of listeners) {
    paths.push([...listener, "acl"]);
    const routes = doc.getIn([...listener, "routes"]);
    if (isSeq(routes)) for (let i = 0; i < routes.items.length; i++) paths.push([...listener, "routes", i, "acl"]);
  }
  return paths;
}

/**
 * Runs `guardpost serve --config <config> --check` where `config` is a
 * container path of a file already laid out under `root`; the absolute
 * file paths in it, and the default tls paths it leaves out, are rewritten
 * to lie under `root` (comments and the rest stay as written).
 */
export async function checkUnderRoot(root: string, config: string): Promise<CliResult> {
  const file = join(root, config);
  const doc = parseDocument(readFileSync(file, "utf8"));
  for (const key of ["cert", "key", "ca"] as const) {
    if (!doc.hasIn(["tls", key])) doc.setIn(["tls", key], doc.createNode(DEFAULTS.tls[key]));
  }
  for (const path of filePaths(doc)) {
    const node = doc.getIn(path, true);
    if (isScalar(node) && typeof node.value === "string" && isAbsolute(node.value)) node.value = join(root, node.value);
  }
  writeFileSync(file, doc.toString());
  return runCli("serve", "--config", file, "--check");
}
