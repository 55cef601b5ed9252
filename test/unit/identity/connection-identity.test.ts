/**
 * peerIdentity over real TLS connections: a client that reconnects with the
 * same certificate gets the identity derived the first time (one object,
 * shared), and a different certificate never gets another's, even with the
 * same subject.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { peerIdentity, type PeerIdentity } from "../../../src/identity/connection.js";
import { peerLogFields } from "../../../src/log/access-log.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../../helpers/pki.js";

let ca: CertificateAuthority;
let server: ReturnType<typeof createServer>;
const seen: (PeerIdentity | null)[] = [];

beforeAll(async () => {
  ca = await createCa();
  const cert = await ca.issue({ cn: "server", sans: { dns: ["localhost"] } });
  server = createServer({ cert: cert.chain, key: cert.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    seen.push(peerIdentity(socket));
    socket.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});
afterAll(() => server.close());

async function identityFor(client: IssuedCertificate): Promise<PeerIdentity> {
  const socket = connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, servername: "localhost", ca: ca.cert, cert: client.chain, key: client.key });
  socket.resume();
  await once(socket, "close");
  const identity = seen.pop();
  if (!identity) throw new Error("the server saw no peer identity");
  return identity;
}

describe("peer identity per certificate", () => {
  test("reconnecting with the same certificate reuses its identity; another certificate with the same subject gets its own", async () => {
    const a = await ca.issue({ cn: "web-01", ou: "web", eku: ["clientAuth"] });
    const b = await ca.issue({ cn: "web-01", ou: "web", eku: ["clientAuth"] });
    const first = await identityFor(a);
    const again = await identityFor(a);
    const other = await identityFor(b);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(other.serial).not.toBe(first.serial);
    expect(other.xfcc).not.toBe(first.xfcc); // the XFCC value carries the certificate's hash
    expect(first.attributes).toEqual({ CN: ["web-01"], OU: ["web"] });
    expect(Object.isFrozen(first)).toBe(true);
    // the access log's fields follow the same identity
    expect(peerLogFields(again.attributes, again.serial)).toBe(peerLogFields(first.attributes, first.serial));
    expect(peerLogFields(other.attributes, other.serial).serial).toBe(other.serial);
  });
});
