/**
 * `guardpost pki`: certificates for development and tests, made by the same
 * code the test suite and the demo use (src/pki). `init` makes a CA in a
 * folder, `issue` a certificate and key from it with the usages guardpost
 * needs, `inspect` shows what guardpost reads from a certificate and which
 * role it fits. For production, use your CA (cert-manager, Vault, step-ca);
 * `inspect` works on their certificates too.
 */
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import { GuardpostError } from "../errors.js";
import { readFailure } from "../text/read-failure.js";
import { formatPeer } from "../identity/attributes.js";
import { createCa, loadCa, type ExtendedKeyUsageName, type IssueOptions } from "../pki/authority.js";
import { certificateFacts, chainTo, fitsAsClient, fitsAsOutboundIdentity, fitsAsServer, type CertificateFacts, type Fit } from "../pki/inspect.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Certificates that are not yet valid by this much are refused by some peers: start slightly in the past. */
const BACKDATE_MS = 5 * 60_000;

const CA_CERT = "ca.crt";
const CA_KEY = "ca.key";

export const pkiInitCommand: Command = {
  name: "pki init",
  summary: "make a development CA (ECDSA P-256) in a folder",
  usage: `usage: guardpost pki init DIR [--cn NAME] [--days N] [--force]

Makes a certificate authority for development and tests: an ECDSA P-256 key
and a self-signed CA certificate, written to DIR/${CA_CERT} and DIR/${CA_KEY}
(mode 0600). DIR/${CA_CERT} is what tls.ca names; guardpost pki issue DIR signs
with DIR/${CA_KEY}. For production, use your own CA.

  --cn NAME   the CA's common name (default: guardpost development CA)
  --days N    how long the CA is valid (default 365)
  --force     overwrite an existing CA in DIR

exit codes: 0 written, 2 bad usage or a file that cannot be written
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("pki init", args, { cn: { type: "string" }, days: { type: "string" }, force: { type: "boolean" } });
    const dir = onePositional("pki init", positionals, "no folder given (guardpost pki init DIR)");
    const days = count("pki init", "--days", values.days ?? "365");
    const certFile = join(dir, CA_CERT);
    const keyFile = join(dir, CA_KEY);
    if (!values.force) refuseOverwrite("pki init", [certFile, keyFile]);
    const cn = values.cn ?? "guardpost development CA";
    const ca = await createCa({ cn, notBefore: new Date(Date.now() - BACKDATE_MS), notAfter: new Date(Date.now() + days * DAY_MS) });
    writeOut(certFile, ca.cert, 0o644);
    writeOut(keyFile, ca.key, 0o600);
    io.stdout.write(
      [
        `wrote ${certFile}  CA certificate: CN=${cn}, ECDSA P-256, valid until ${iso(ca.notAfter)} (name it in tls.ca)`,
        `wrote ${keyFile}  its private key, mode 0600: keep it out of images and repositories`,
        `next: guardpost pki issue ${dir} --cn api --ou payments --san DNS:localhost --server --client`,
        "",
      ].join("\n"),
    );
    return 0;
  },
};

export const pkiIssueCommand: Command = {
  name: "pki issue",
  summary: "issue a certificate and key from that CA",
  usage: `usage: guardpost pki issue DIR --cn NAME [--ou OU]... [--o ORG]... [--san TYPE:VALUE]...
                           (--server | --client | --server --client)
                           [--days N | --hours N] [--name FILE] [--force]

Issues a certificate signed by the CA in DIR (made by guardpost pki init) and
writes DIR/FILE.crt and DIR/FILE.key (mode 0600); FILE defaults to the CN.
The key is ECDSA P-256; key usage is digitalSignature.

  --cn NAME         subject common name (an ACL matches it as CN=NAME)
  --ou OU           organizational unit, repeatable (OU=OU in an ACL)
  --o ORG           organization, repeatable
  --san TYPE:VALUE  subject alternative name, repeatable: DNS:api.internal,
                    IP:127.0.0.1, URI:spiffe://prod/ns/pay/sa/api, EMAIL:ops@example.com
  --server          extended key usage serverAuth: for tls.cert (give it the
                    DNS or IP names clients connect to)
  --client          extended key usage clientAuth: for callers of guardpost,
                    and for tls.cert when outbound listeners are configured
  --days N, --hours N   validity (default 30 days; never past the CA's own)
  --name FILE       file name without extension (default: the CN)
  --force           overwrite existing files

exit codes: 0 written, 2 bad usage, no CA in DIR, or a file that cannot be written
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("pki issue", args, {
      cn: { type: "string" },
      ou: { type: "string", multiple: true },
      o: { type: "string", multiple: true },
      san: { type: "string", multiple: true },
      server: { type: "boolean" },
      client: { type: "boolean" },
      days: { type: "string" },
      hours: { type: "string" },
      name: { type: "string" },
      force: { type: "boolean" },
    });
    const dir = onePositional("pki issue", positionals, "no CA folder given (guardpost pki issue DIR --cn NAME ...)");
    if (values.cn === undefined || values.cn === "") throw usageError("pki issue", "--cn is required (the name an ACL matches as CN=...)");
    const eku: ExtendedKeyUsageName[] = [...(values.server ? (["serverAuth"] as const) : []), ...(values.client ? (["clientAuth"] as const) : [])];
    if (eku.length === 0) {
      throw usageError("pki issue", "say what the certificate is for: --server (guardpost's own tls.cert), --client (a caller), or both (tls.cert with outbound listeners)");
    }
    if (values.days !== undefined && values.hours !== undefined) throw usageError("pki issue", "give --days or --hours, not both");
    const lifetimeMs = values.hours !== undefined ? count("pki issue", "--hours", values.hours) * HOUR_MS : count("pki issue", "--days", values.days ?? "30") * DAY_MS;
    const sans = parseSans(values.san ?? []);
    const name = values.name ?? values.cn.replace(/[^A-Za-z0-9._-]+/g, "-");
    if (name === CA_CERT.replace(".crt", "")) throw usageError("pki issue", `"${name}" is the CA's own file name; choose another with --name`);
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);

    const caCertFile = join(dir, CA_CERT);
    const caKeyFile = join(dir, CA_KEY);
    const ca = await loadCa(readCaFile(caCertFile), readCaFile(caKeyFile)).catch((err: unknown) => {
      if (err instanceof GuardpostError) throw err;
      throw new GuardpostError("GP_ERR_PKI", `cannot sign with the CA in ${dir}: ${(err as Error).message}`, { file: caKeyFile });
    });
    const notAfter = new Date(Date.now() + lifetimeMs);
    const caNotAfter = new X509Certificate(ca.cert).validTo;
    if (notAfter > new Date(caNotAfter)) {
      throw new GuardpostError("GP_ERR_PKI", `the certificate would outlive its CA (valid until ${iso(new Date(caNotAfter))}); ask for fewer days, or make a new CA with guardpost pki init ${dir} --force`, { file: caCertFile });
    }
    if (!values.force) refuseOverwrite("pki issue", [certFile, keyFile]);

    const options: IssueOptions = { cn: values.cn, eku, sans, notBefore: new Date(Date.now() - BACKDATE_MS), notAfter };
    if (values.ou) options.ou = values.ou;
    if (values.o) options.o = values.o;
    const issued = await ca.issue(options);
    writeOut(certFile, issued.chain, 0o644);
    writeOut(keyFile, issued.key, 0o600);
    const facts = certificateFacts(new X509Certificate(issued.cert));
    io.stdout.write(
      [
        `wrote ${certFile}  ${facts.principal}; ${eku.join(", ")}${facts.sans.length > 0 ? `; ${facts.sans.join(", ")}` : ""}; valid until ${iso(issued.notAfter)}`,
        `wrote ${keyFile}  its private key, mode 0600`,
        "",
      ].join("\n"),
    );
    if (values.server) for (const caution of fitsAsServer(facts).cautions) io.stderr.write(`warning: ${caution}; add --san DNS:<name> or --san IP:<address>\n`);
    return 0;
  },
};

export const pkiInspectCommand: Command = {
  name: "pki inspect",
  summary: "show what guardpost reads from a certificate and what it fits",
  usage: `usage: guardpost pki inspect FILE [--ca CAFILE]

Prints, for each certificate in the PEM file FILE: the attributes an ACL
principal matches (read exactly as the proxy reads a peer), subject, issuer,
serial, validity, key, subject alternative names, key usage and extended key
usage; then the chain up to a CA in CAFILE (default: ca.crt next to FILE, if
there is one), and whether the certificate fits as guardpost's server
certificate (tls.cert), as a caller's client certificate, and as tls.cert
with outbound listeners (which needs both usages).

exit codes: 0 printed, 2 a file that cannot be read or holds no certificate
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("pki inspect", args, { ca: { type: "string" } });
    const file = onePositional("pki inspect", positionals, "no certificate file given (guardpost pki inspect FILE)");
    const certs = readCertificates(file);
    const caFile = values.ca ?? (existsSync(join(dirname(file), CA_CERT)) && join(dirname(file), CA_CERT) !== file ? join(dirname(file), CA_CERT) : undefined);
    const cas = caFile === undefined ? null : readCertificates(caFile);
    const facts = certs.map((cert) => certificateFacts(cert));
    const out: string[] = [];
    facts.forEach((f, index) => {
      out.push(`${file}: certificate ${index + 1} of ${facts.length}${index === 0 ? (f.isCa ? " (a CA certificate)" : " (the leaf)") : " (sent with the leaf as part of its chain)"}`);
      out.push(...describe(f).map((line) => `  ${line}`));
      out.push("");
    });
    const leaf = facts[0]!;
    out.push(`chain: ${describeChain(certs, cas, caFile)}`);
    out.push("");
    if (leaf.isCa) {
      out.push("fits as:");
      out.push("  tls.ca (a CA that peers chain to): yes");
      out.push("  tls.cert or a client certificate: no; issue one from this CA (guardpost pki issue)");
    } else {
      out.push("fits as:");
      out.push(...fitLines("guardpost's server certificate (tls.cert)", fitsAsServer(leaf)));
      out.push(...fitLines("a caller's client certificate", fitsAsClient(leaf)));
      out.push(...fitLines("tls.cert with outbound listeners (server and client)", fitsAsOutboundIdentity(leaf)));
    }
    io.stdout.write(`${out.join("\n")}\n`);
    return 0;
  },
};

function describe(f: CertificateFacts): string[] {
  const left = f.notAfter.getTime() - Date.now();
  const remaining = left <= 0 ? "EXPIRED" : left < DAY_MS ? `${Math.floor(left / HOUR_MS)} hours left` : `${Math.floor(left / DAY_MS)} days left`;
  const lines = [
    `ACL attributes:  ${formatPeer(f.attributes)}`,
    `subject:         ${f.subject || "(empty)"}`,
    `issuer:          ${f.issuer}${f.selfSigned ? " (self-signed)" : ""}`,
    `serial:          ${f.serial}`,
    `valid:           ${iso(f.notBefore)} to ${iso(f.notAfter)} (${f.notBefore.getTime() > Date.now() ? "NOT YET VALID" : remaining})`,
    `key:             ${f.keyType}`,
    `SANs:            ${f.sans.length > 0 ? f.sans.join(", ") : "(none)"}`,
    `key usage:       ${f.keyUsage === null ? "(no extension: any)" : f.keyUsage.join(", ") || "(none)"}`,
    `extended usage:  ${f.extendedKeyUsage === null ? "(no extension: any)" : f.extendedKeyUsage.join(", ") || "(none)"}`,
    `CA:              ${f.isCa ? "yes" : "no"}`,
  ];
  return lines;
}

function describeChain(certs: readonly X509Certificate[], cas: readonly X509Certificate[] | null, caFile: string | undefined): string {
  if (cas === null) {
    const leaf = certs[0]!;
    if (leaf.checkIssued(leaf)) return "self-signed; no CA file to check against (give --ca FILE)";
    return "no CA file to check against (give --ca FILE, or keep ca.crt next to the certificate)";
  }
  const path = chainTo(certs, cas);
  if (path === null) return `does not chain to any CA in ${caFile}: peers that trust only those CAs refuse it`;
  return `${path.map((c) => certificateFacts(c).subject || "(empty subject)").join(" -> ")} (in ${caFile}): verified`;
}

function fitLines(role: string, fit: Fit): string[] {
  return [
    `  ${role}: ${fit.fits ? "yes" : "no"}`,
    ...fit.problems.map((p) => `    - ${p}`),
    ...fit.cautions.map((c) => `    ! ${c}`),
  ];
}

function onePositional(command: string, positionals: readonly string[], missing: string): string {
  if (positionals.length === 0) throw usageError(command, missing);
  if (positionals.length > 1) throw usageError(command, `unexpected argument ${JSON.stringify(positionals[1])}`);
  return positionals[0]!;
}

function count(command: string, option: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 100 * 365 * 24) throw usageError(command, `${option} must be a whole number of at least 1 (got ${JSON.stringify(text)})`);
  return n;
}

function refuseOverwrite(command: string, files: readonly string[]): void {
  const existing = files.filter((file) => existsSync(file));
  if (existing.length > 0) throw usageError(command, `${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}; add --force to replace ${existing.length === 1 ? "it" : "them"}`);
}

function writeOut(file: string, content: string, mode: number): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode });
    // `mode` applies only when the file is created; --force over an existing key must not keep a looser one.
    chmodSync(file, mode);
  } catch (err) {
    throw new GuardpostError("GP_ERR_PKI", `cannot write the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file }, { cause: err });
  }
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new GuardpostError("GP_ERR_PKI", missing ? `no CA here; make one with guardpost pki init ${dirname(file)}` : readFailure(err), { file }, { cause: err });
  }
}

function readCertificates(file: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new GuardpostError("GP_ERR_TLS_CERT", readFailure(err), { file }, { cause: err });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    const hint = /PRIVATE KEY-----/.test(text) ? " (this looks like a private key; inspect the .crt file)" : "";
    throw new GuardpostError("GP_ERR_TLS_CERT", `no PEM certificate ("-----BEGIN CERTIFICATE-----") in the file${hint}`, { file });
  }
  return blocks.map((pem, index) => {
    try {
      return new X509Certificate(pem);
    } catch {
      throw new GuardpostError("GP_ERR_TLS_CERT", `certificate #${index + 1} in the file cannot be parsed`, { file });
    }
  });
}

/** `DNS:a`, `IP:127.0.0.1`, `URI:spiffe://...`, `EMAIL:a@b` (type in any case). */
function parseSans(specs: readonly string[]): NonNullable<IssueOptions["sans"]> {
  const sans = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
  for (const spec of specs) {
    const colon = spec.indexOf(":");
    const type = colon === -1 ? "" : spec.slice(0, colon).toUpperCase();
    const value = spec.slice(colon + 1);
    const bad = (why: string) => usageError("pki issue", `--san ${JSON.stringify(spec)}: ${why}`);
    if (value === "" || colon === -1) throw bad("write TYPE:VALUE, e.g. DNS:api.internal, IP:127.0.0.1, URI:spiffe://prod/ns/pay/sa/api or EMAIL:ops@example.com");
    if (type === "DNS") {
      if (!/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(value)) throw bad("not a DNS name");
      sans.dns.push(value);
    } else if (type === "IP") {
      if (isIP(value) === 0) throw bad("not an IPv4 or IPv6 address");
      sans.ip.push(value);
    } else if (type === "URI") {
      if (!URL.canParse(value)) throw bad("not an absolute URI");
      sans.uri.push(value);
    } else if (type === "EMAIL") {
      if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw bad("not an email address");
      sans.email.push(value);
    } else {
      throw bad(`unknown type ${JSON.stringify(type)} (expected DNS, IP, URI or EMAIL)`);
    }
  }
  return sans;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

