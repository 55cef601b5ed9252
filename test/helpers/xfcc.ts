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
