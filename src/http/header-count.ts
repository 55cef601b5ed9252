/**
 * `limits.maxHeaderCount`: how many header fields one request may carry (in
 * its head, its trailers, and an HTTP/2 header list); above it guardpost
 * answers 431 and forwards nothing. Envoy's `max_headers_count` defaults to
 * 100 too.
 *
 * Node's own count limit (`server.maxHeadersCount`) cannot be the check: on
 * Node 20 a list past it is silently cut (the parser stops collecting, so a
 * header that `Connection` names can vanish while the named header is
 * forwarded); on Node 24 the parser refuses it as a header overflow. Node is
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
