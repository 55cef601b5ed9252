// Per-connection cost of the peer identity (ACL attributes, the XFCC value
// with its RFC 2253 subject, serial, notAfter): peerIdentity() called on the
// server side of a real mTLS connection, so getPeerCertificate() is the
// native call the proxy makes. guardpost computes this once per TLS
// connection; what matters is that it stays small next to a handshake.
//
//   npm run build && node bench/micro/peer-identity.mjs [--rounds N] [--json]
//
// Two client certificates: `plain` (OU=web, CN=web-01, one URI SAN), and
// `wide` (C, ST, L, O, three OUs, a multi-valued RDN, CN with characters that
// need RFC 4514 escaping, non-ASCII, two URI and two DNS SANs). For each,
// `identity` times peerIdentity() on the live socket (the subject cache, when
// there is one, is warm after the first call, as for every connection after
// the first from that certificate), and `getPeerCertificate` times the
// native call alone, the floor under it; `subjectFromDer` times writing the
// RFC 2253 subject from the DER without the cache, the cost a certificate
// pays on its first connection. Every identity is checked before anything is
// timed.
import { createServer, connect } from "node:tls";
import { parseArgs } from "node:util";
import { createCa } from "../../dist/pki/authority.js";
import { peerIdentity } from "../../dist/identity/connection.js";
// Absent before the subject was read from the DER (commit 70946d7 and earlier): that column is then left out.
const rfc2253SubjectFromDer = await import("../../dist/identity/distinguished-name.js").then((m) => m.rfc2253SubjectFromDer, () => null);

const { values: options } = parseArgs({ options: { rounds: { type: "string", default: "15" }, json: { type: "boolean", default: false } } });
const ROUNDS = Number(options.rounds);
const CALLS = 20_000; // per round and setup

const ca = await createCa();
const server = await ca.issue({ cn: "bench-server", sans: { dns: ["localhost"] } });
const certs = {
  plain: await ca.issue({ cn: "web-01", ou: "web", sans: { uri: ["spiffe://prod/ns/shop/sa/web"] } }),
  wide: await ca.issue({
    c: "DE",
    st: "Berlin",
    l: "Kreuzberg",
    o: "Acme, Inc.",
    ou: ["payments", "web", "ops"],
    cn: ' api-07 "edge" <eu>; caf\u00e9 ',
    sans: { uri: ["spiffe://prod/ns/shop/sa/api", "urn:x"], dns: ["api-07.internal", "api.internal"] },
  }),
};

/**
 * The server side of one live mTLS connection presenting `cert`.
 * @param {import("../../dist/pki/authority.js").IssuedCertificate} cert
 */
async function liveSocket(cert) {
  const srv = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true });
  /** @type {Promise<import("node:tls").TLSSocket>} */
  const accepted = new Promise((resolve) => srv.once("secureConnection", resolve));
  /** @type {Promise<void>} */
  const listening = new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  await listening;
  const { port } = /** @type {import("node:net").AddressInfo} */ (srv.address());
  const client = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: cert.chain, key: cert.key });
  client.on("error", () => undefined);
  const socket = await accepted;
  const close = () => {
    client.destroy();
    srv.close();
  };
  return { socket, close };
}

/** @typedef {"identity" | "getPeerCertificate" | "subjectFromDer"} What */

/** @type {{ name: string, live: Awaited<ReturnType<typeof liveSocket>>, xfcc: string, raw: Uint8Array, samples: Record<What, number[]> }[]} */
const setups = [];
for (const [name, cert] of Object.entries(certs)) {
  const live = await liveSocket(cert);
  const identity = peerIdentity(live.socket);
  if (!identity?.xfcc.startsWith("Hash=") || identity.serial !== cert.serial) throw new Error(`${name}: unexpected identity ${JSON.stringify(identity)}`);
  setups.push({ name, live, xfcc: identity.xfcc, raw: cert.der, samples: { identity: [], getPeerCertificate: [], subjectFromDer: [] } });
}

let sink = 0;
/**
 * @param {(typeof setups)[number]} setup
 * @param {What} what
 */
function time(setup, what) {
  const socket = setup.live.socket;
  const started = process.hrtime.bigint();
  // the identity was checked non-null above; subjectFromDer is timed only when the module has it
  if (what === "identity") for (let i = 0; i < CALLS; i++) sink += /** @type {import("../../dist/identity/connection.js").PeerIdentity} */ (peerIdentity(socket)).xfcc.length;
  else if (what === "subjectFromDer") for (let i = 0; i < CALLS; i++) sink += /** @type {NonNullable<typeof rfc2253SubjectFromDer>} */ (rfc2253SubjectFromDer)(setup.raw).length;
  else for (let i = 0; i < CALLS; i++) sink += socket.getPeerCertificate().serialNumber.length;
  return Number(process.hrtime.bigint() - started) / CALLS / 1000; // µs per call
}

/** @type {What[]} */
const WHAT = rfc2253SubjectFromDer === null ? ["identity", "getPeerCertificate"] : ["identity", "getPeerCertificate", "subjectFromDer"];
for (const setup of setups) for (let w = 0; w < 3; w++) for (const what of WHAT) time(setup, what);
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < setups.length; k++) {
    const setup = setups[(round + k) % setups.length];
    for (let j = 0; j < WHAT.length; j++) {
      const what = WHAT[(round + j) % WHAT.length];
      setup.samples[what].push(time(setup, what));
    }
  }
}
for (const setup of setups) setup.live.close();

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = setups.map((s) => ({
  certificate: s.name,
  identityMicros: Number(median(s.samples.identity).toFixed(2)),
  getPeerCertificateMicros: Number(median(s.samples.getPeerCertificate).toFixed(2)),
  subjectFromDerMicros: s.samples.subjectFromDer.length === 0 ? null : Number(median(s.samples.subjectFromDer).toFixed(2)),
  // Within each round, then the median: drift between rounds does not enter it.
  ratioToGetPeerCertificate: Number(median(s.samples.identity.map((x, i) => x / s.samples.getPeerCertificate[i])).toFixed(2)),
  xfccLength: s.xfcc.length,
}));
if (options.json) console.log(JSON.stringify({ node: process.version, rounds: ROUNDS, calls: CALLS, rows, sink }, null, 2));
else {
  console.log(`node ${process.version}, ${ROUNDS} rounds of ${CALLS} calls; median µs per call`);
  console.table(rows);
}
