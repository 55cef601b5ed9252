/**
 * `limits.maxHeaderCount`: how many header fields one request may carry (in
 * its head, its trailers, and an HTTP/2 header list); above it guardpost
 * answers 431 and forwards nothing. Envoy's `max_headers_count` defaults to
 * 100 too.
 *
 * Node's own count limit (`server.maxHeadersCount`) cannot be the check: on
 * Node 20 a list past it is silently cut (the parser stops collecting, so a
 * header that `Connection` names can vanish while the named header is
 * forwarded); on Node 24 the parser refuses it as a header overflow.
 * (HTTP/2 header lists are bounded in bytes by nghttp2 and counted here.) Node is
 * therefore set one above the limit (`nodeMaxHeadersCount`): a list over the
 * limit then always arrives with more than `max` fields, either whole or cut
 * to at least `max + 1`, and `headerCountExceeded` sees it.
 */

/** The value for Node's `server.maxHeadersCount` under `limits.maxHeaderCount`. */
export function nodeMaxHeadersCount(maxHeaderCount: number): number {
  return maxHeaderCount + 1;
}

/** Whether a raw header list (`[name, value, ...]`, as Node's rawHeaders and rawTrailers) holds more than `max` fields. */
export function headerCountExceeded(raw: readonly string[], max: number): boolean {
  return raw.length > max * 2;
}

/** Whether an HTTP/2 header list (flat, as node:http2 gives it) holds more than `max` fields, its pseudo-headers aside. */
export function http2HeaderCountExceeded(raw: readonly string[], max: number): boolean {
  if (raw.length <= max * 2) return false;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 0x3a) count++;
  return count > max;
}
