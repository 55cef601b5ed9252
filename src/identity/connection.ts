/**
 * The peer identity of one TLS connection, computed once when its first
 * request arrives and kept on the socket: attributes for the ACL, the XFCC
 * header value, the certificate's expiry. Measured: recomputing this per
 * request costs about 3x throughput.
 *
 * A client reconnects with the same certificate again and again, so the
 * identity derived from it is kept by the certificate's SHA-256 fingerprint
 * (which names its exact DER bytes) and shared, frozen, between connections.
 * Measured in the bench's handshake scenario (a new connection per request):
 * deriving attributes, XFCC value and log fields was about 5% of the
 * process's busy time. Whether the certificate is trusted is still decided by
 * OpenSSL at every handshake; only what is read from it is reused.
 */
import type { TLSSocket } from "node:tls";
import type { PeerAttributes } from "./attributes.js";
import { peerAttributesFromCertificate } from "./peer.js";
import { xfccHeaderValue } from "./xfcc.js";

export interface PeerIdentity {
  readonly attributes: PeerAttributes;
  /** `x-forwarded-client-cert` value for requests on this connection. */
  readonly xfcc: string;
  readonly serial: string;
  /** The certificate's notAfter: no request is served on this connection after it. */
  readonly notAfterMs: number;
}

/** Distinct client certificates remembered; past this the oldest is forgotten (a Map keeps insertion order). */
const IDENTITY_CACHE_SIZE = 512;
const identities = new Map<string, PeerIdentity>();

/**
 * Null when the socket has no verified peer certificate. The inbound
 * listener never hands such a socket to HTTP (src/tls/refusal.ts); the
 * check here keeps it so should that ever change: no identity, no request.
 */
export function peerIdentity(socket: TLSSocket): PeerIdentity | null {
  if (!socket.authorized) return null;
  // The legacy object reuses the certificate OpenSSL parsed in the handshake;
  // getPeerX509Certificate() would decode it again.
  const cert = socket.getPeerCertificate();
  if (!cert || cert.fingerprint256 === undefined) return null;
  const known = identities.get(cert.fingerprint256);
  if (known !== undefined) return known;
  const attributes = peerAttributesFromCertificate(cert);
  const identity: PeerIdentity = Object.freeze({
    attributes,
    xfcc: xfccHeaderValue(cert, attributes),
    serial: cert.serialNumber,
    notAfterMs: Date.parse(cert.valid_to),
  });
  if (identities.size >= IDENTITY_CACHE_SIZE) identities.delete(identities.keys().next().value!);
  identities.set(cert.fingerprint256, identity);
  return identity;
}
