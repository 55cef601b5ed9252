/**
 * The staged close after an early answer (RFC 9112 section 9.6; nginx's
 * lingering close). guardpost often answers before it has read the whole
 * request (a malformed or too large head, a request too slow, a refusal
 * while the body is still coming). Closing the socket then, with request
 * bytes unread or still arriving, makes the kernel answer them with a
 * reset, and the reset wipes the answer from the client's receive buffer
 * before the client reads it: a 431 becomes "connection reset".
 *
 * So the socket is half-closed after the answer (the answer, then FIN; on
 * TLS close_notify first), and whatever the client still sends is read and
 * discarded, for a bounded time and size, until the client closes its side.
 * Then the socket is closed.
 */
import type { Socket } from "node:net";

/** How long a lingering socket is kept reading at most. */
export const LINGER_MS = 2_000;
/** How many bytes a lingering socket reads and discards at most. */
export const LINGER_BYTES = 1024 * 1024;

const LINGERING = Symbol("guardpost.lingering");
type LingeringSocket = Socket & { [LINGERING]?: true };

/** Whether `socket` is in its staged close: nothing it still receives is a request. */
export function isLingering(socket: Socket): boolean {
  return (socket as LingeringSocket)[LINGERING] === true;
}

/**
 * Ends `socket` after `data` (if any) and keeps reading, discarding, until
 * the client closes, LINGER_BYTES arrive or LINGER_MS pass; then destroys it.
 */
export function lingeringClose(socket: Socket, data?: string): void {
  const lingering = socket as LingeringSocket;
  if (socket.destroyed || lingering[LINGERING]) return;
  lingering[LINGERING] = true;
  const readAtStart = socket.bytesRead;
  const done = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(done, LINGER_MS);
  timer.unref();
  socket.on("data", () => {
    if (socket.bytesRead - readAtStart > LINGER_BYTES) done();
  });
  socket.once("end", done);
  socket.once("close", () => clearTimeout(timer));
  if (data === undefined) socket.end();
  else socket.end(data);
  // Whatever paused the socket (Node's HTTP server does, while a response is pending), the rest is discarded.
  socket.resume();
}

/**
 * Arranges a staged close for when Node's HTTP server ends the connection
 * after the current response (it does so with `destroySoon` once a response
 * that said `Connection: close` has been written).
 */
export function lingerAfterResponse(socket: Socket | null): void {
  if (socket === null || socket.destroyed) return;
  socket.destroySoon = function (this: Socket) {
    lingeringClose(this);
  };
}
