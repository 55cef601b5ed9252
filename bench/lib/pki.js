/**
 * One throwaway PKI per run, ECDSA P-256, made with the project's own
 * authority (dist/pki/authority.js, built by `npm run build`). Every contender
 * gets the same files.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_OU, OTHER_OU } from "./wire.js";

/** @typedef {Awaited<ReturnType<typeof makePki>>} Pki */

/** @param {string} dir where the files are written */
export async function makePki(dir) {
  const { createCa } = await import("../../dist/pki/authority.js");
  const ca = await createCa({ cn: "guardpost bench CA" });
  const server = await ca.issue({ cn: "bench-proxy", ou: "bench", sans: { dns: ["localhost"], ip: ["127.0.0.1"] }, eku: ["serverAuth"] });
  const client = await ca.issue({ cn: "web-01", ou: CLIENT_OU, eku: ["clientAuth"] });
  const other = await ca.issue({ cn: "mkt-01", ou: OTHER_OU, eku: ["clientAuth"] });
  const files = {
    ca: "ca.crt",
    cert: "server.crt",
    key: "server.key",
    // haproxy wants the certificate and its key in one file
    certAndKey: "server.pem",
    clientCert: "client.crt",
    clientKey: "client.key",
    otherCert: "other.crt",
    otherKey: "other.key",
  };
  const contents = {
    ca: ca.cert,
    cert: server.chain,
    key: server.key,
    certAndKey: server.chain + server.key,
    clientCert: client.chain,
    clientKey: client.key,
    otherCert: other.chain,
    otherKey: other.key,
  };
  const paths = /** @type {Record<keyof typeof files, string>} */ ({});
  for (const name of /** @type {(keyof typeof files)[]} */ (Object.keys(files))) {
    paths[name] = join(dir, files[name]);
    writeFileSync(paths[name], contents[name], { mode: 0o644 });
  }
  return {
    paths,
    /** TLS options for a client presenting the allowed identity (OU=web). */
    client: { cert: client.chain, key: client.key, ca: ca.cert },
    /** The same CA, a refused identity (OU=marketing). */
    other: { cert: other.chain, key: other.key, ca: ca.cert },
    /** Trusts the server but presents no certificate. */
    anonymous: { ca: ca.cert },
  };
}
