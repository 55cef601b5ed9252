/**
 * Errors about a file the config names should lead back to the config: the
 * key that names the file and the `file:line:col` where it does. A missing
 * file is the config's problem (a typo, a mount that is not there), so its
 * error stands at that line and says what was expected there; an error
 * inside the file keeps its own position and adds the key that named it.
 */
import { resolve } from "node:path";
import { GuardpostError, isGuardpostError } from "../errors.js";
import type { Config, ConfigFile } from "./schema.js";

/** What belongs at each kind of file key, for "expected ... there". */
const EXPECTED: ReadonlyMap<string, string> = new Map([
  ["cert", "this service's certificate: PEM, the leaf first, then any intermediates (guardpost pki issue writes one)"],
  ["key", "the private key of tls.cert: PEM, unencrypted"],
  ["ca", "the CA certificates that peers must chain to: a PEM bundle (guardpost pki init writes ca.crt)"],
  ["crl", 'a PEM CRL ("-----BEGIN X509 CRL-----") issued by a CA in tls.ca'],
  ["acl", "an ACL file, as in the README's ACL reference (guardpost acl check validates one)"],
]);

const CODE_KEYS: ReadonlyMap<string, string> = new Map([
  ["GP_ERR_TLS_CERT", "tls.cert"],
  ["GP_ERR_TLS_EXPIRED", "tls.cert"],
  ["GP_ERR_TLS_KEY", "tls.key"],
  ["GP_ERR_TLS_CA", "tls.ca"],
  ["GP_ERR_TLS_CRL", "tls.crl"],
]);

const READ_FAILURES: ReadonlyMap<string, string> = new Map([
  ["ENOENT", "which does not exist"],
  ["ENOTDIR", "which does not exist (a part of the path is not a folder)"],
  ["EACCES", "which guardpost may not read (EACCES: check its owner and mode)"],
  ["EPERM", "which guardpost may not read (EPERM)"],
  ["EISDIR", "which is a folder, not a file"],
]);

export function expectedAt(key: string): string | undefined {
  return EXPECTED.get(key.slice(key.lastIndexOf(".") + 1));
}

/**
 * `err` with the config key and position of the file it is about, when the
 * config names that file; anything else is returned as it is.
 */
export function pointHome(err: unknown, config: Config): unknown {
  if (!isGuardpostError(err) || err.file === undefined || config.file === null) return err;
  const errFile = resolve(err.file);
  // One file may sit under several keys (a leaf given as tls.ca by mistake is also tls.cert); the error's code says which.
  const refs = config.files.filter((f) => f.path === errFile);
  const ref = refs.find((f) => CODE_KEYS.get(err.code) === f.key) ?? refs[0];
  if (!ref) return err;
  const readCode = readFailureCode(err);
  if (readCode !== undefined) {
    const failure = READ_FAILURES.get(readCode) ?? `which cannot be read (${readCode})`;
    const expected = expectedAt(ref.key);
    const defaulted = ref.at === null ? ` (the default: ${ref.key} is not set in the config)` : "";
    const message = `${ref.key} names ${ref.path}${defaulted}, ${failure}${expected ? `. Expected there: ${expected}` : ""}`;
    return new GuardpostError(err.code, message, ref.at ?? { file: config.file }, { cause: err });
  }
  return new GuardpostError(err.code, `${err.message} (${namedBy(ref, config.file)})`, err.position ?? { file: err.file }, { cause: err });
}

/** "tls.cert at /etc/guardpost/guardpost.yaml:3:9", or the default's wording. */
export function namedBy(ref: ConfigFile, configFile: string): string {
  return ref.at ? `${ref.key} at ${ref.at.file}:${ref.at.line}:${ref.at.col}` : `${ref.key}, by default, in ${configFile}`;
}

/** The errno code when the error is that the file could not be read at all. */
function readFailureCode(err: GuardpostError): string | undefined {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}
