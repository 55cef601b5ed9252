import { execFile } from "node:child_process";

/**
 * A strict reader for one `x-forwarded-client-cert` element, the way an
 * upstream would parse it: `;`-separated KEY=VALUE pairs, values optionally
 * double-quoted with backslash escapes. Tests use it to check that
 * certificate values stay inside their field.
 */
export function parseXfcc(header: string): [string, string][] {
  const fields: [string, string][] = [];
  let i = 0;
  while (i < header.length) {
    const eq = header.indexOf("=", i);
    if (eq === -1) throw new Error(`no "=" after ${JSON.stringify(header.slice(i))}`);
    const key = header.slice(i, eq);
    let value = "";
    let j = eq + 1;
    if (header[j] === '"') {
      j++;
      while (j < header.length && header[j] !== '"') {
        if (header[j] === "\\") j++;
        value += header[j];
        j++;
      }
      if (header[j] !== '"') throw new Error("unterminated quoted value");
      j++;
    } else {
      while (j < header.length && header[j] !== ";" && header[j] !== ",") value += header[j++];
    }
    fields.push([key, value]);
    if (j < header.length && header[j] !== ";") throw new Error(`unexpected ${JSON.stringify(header[j])} after ${key}`);
    i = j + 1;
  }
  return fields;
}

/**
 * What OpenSSL says a certificate's subject is in RFC 2253 form
 * (`openssl x509 -noout -subject -nameopt RFC2253`): the reference the XFCC
 * `Subject` field must equal.
 */
export async function opensslSubject(certPem: string): Promise<string> {
  const { stdout } = await runOpenssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253"], certPem);
  if (!stdout.startsWith("subject=")) throw new Error(`unexpected openssl output ${JSON.stringify(stdout)}`);
  return stdout.slice("subject=".length).replace(/\n$/, "");
}

function runOpenssl(args: readonly string[], input: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile("openssl", args, { encoding: "latin1", timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve({ stdout })));
    child.stdin!.end(input);
  });
}
