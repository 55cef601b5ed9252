/**
 * `serve --check`, and the same checks before `serve` starts: everything
 * start-up validates, without listening, plus what is valid but likely
 * wrong. Errors refuse the config; warnings are printed (and logged at
 * start-up) and fail only `--check --strict`. Every finding points at the
 * config key and line that caused it.
 */
import { loadAcl } from "../acl/compile.js";
import { namedBy, pointHome } from "../config/file-errors.js";
import type { Config, ConfigWarning } from "../config/schema.js";
import { isGuardpostError, type GuardpostError } from "../errors.js";
import { certificateFacts, chainTo, fitsAsServer } from "../pki/inspect.js";
import { loadTlsMaterial, type TlsMaterial } from "../tls/material.js";

export interface CheckReport {
  /** Each refuses the config; the CLI prints them all. */
  readonly errors: readonly GuardpostError[];
  readonly warnings: readonly ConfigWarning[];
}

export async function checkConfig(config: Config): Promise<CheckReport> {
  const errors: GuardpostError[] = [];
  const warnings: ConfigWarning[] = [...config.warnings];
  const collect = (err: unknown) => {
    const located = pointHome(err, config);
    if (!isGuardpostError(located)) throw located;
    errors.push(located);
  };

  try {
    const material = await loadTlsMaterial(config.tls, undefined, undefined, { clientAuth: config.outbound.length > 0 });
    warnings.push(...materialWarnings(material, config));
  } catch (err) {
    collect(err);
  }
  const aclFiles = new Set(config.inbound.flatMap((inbound) => inbound.routes.map((route) => route.acl)));
  for (const file of aclFiles) {
    try {
      loadAcl(file);
    } catch (err) {
      collect(err);
    }
  }
  return { errors, warnings };
}

/** Valid material that peers may still refuse. */
function materialWarnings(material: TlsMaterial, config: Config): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const ref = config.files.find((f) => f.key === "tls.cert");
  const at = ref?.at ?? null;
  const named = ref && config.file ? ` (${namedBy(ref, config.file)})` : "";
  const facts = certificateFacts(material.leaf);
  for (const caution of fitsAsServer(facts).cautions) {
    warnings.push({ code: "GP_WARN_CERT_USAGE", message: `tls.cert ${material.paths.cert}${named}: ${caution}`, at });
  }
  if (chainTo(material.chain, material.caCertificates) === null) {
    warnings.push({
      code: "GP_WARN_CERT_NOT_FROM_CA",
      message:
        `tls.cert ${material.paths.cert} (${facts.subject}, issued by ${facts.issuer}) does not chain to any CA in tls.ca ${material.paths.ca}: ` +
        "peers that trust only those CAs will refuse guardpost. That is fine when your peers trust another CA (tls.ca is whom guardpost trusts, not who trusts guardpost)",
      at,
    });
  }
  return warnings;
}

/** `file:line:col: warning: message [code]`, as the CLI prints a warning. */
export function formatWarning(warning: ConfigWarning): string {
  const where = warning.at ? `${warning.at.file}:${warning.at.line}:${warning.at.col}: ` : "";
  return `${where}warning: ${warning.message} [${warning.code}]`;
}
