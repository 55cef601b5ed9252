/**
 * grpc-message as the gRPC HTTP/2 protocol spells it: UTF-8, with `%` and every
 * byte outside 0x20-0x7E percent-encoded (clients decode with decodeURI, so
 * encodeURIComponent's extra escapes would show).
 */
export function grpcMessage(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
