/**
 * A WebSocket tunnel: once the upstream has answered an upgrade with 101,
 * the client's socket and the upstream's are joined byte for byte, with
 * backpressure both ways (`pipe` pauses the side whose reader is behind). The
 * tunnel owns both sockets until it closes, and closes:
 *
 *   client / upstream  that side closed; the other is ended after it (its pending bytes flushed)
 *   idle               no byte either way for `idleTimeout`
 *   peer_expired       the client certificate passed its notAfter
 *   peer_untrusted     a CA or CRL reload no longer trusts the client certificate
 *   drain              the listener's drainTimeout passed
 *   shutdown           guardpost stopped
 *   error              either socket failed
 *
 * guardpost never parses WebSocket frames, so it cannot send a Close frame
 * without risking one in the middle of a message: a tunnel it closes itself
 * ends both TCP (TLS) connections, which clients report as 1006.
 */
import type { Duplex } from "node:stream";

export type TunnelEnd = "client" | "upstream" | "idle" | "peer_expired" | "peer_untrusted" | "drain" | "shutdown" | "error";

/** What a closed tunnel reports: why it closed and the bytes it carried each way (WebSocket frames, not TLS records). */
export interface TunnelStats {
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly closedBy: TunnelEnd | null;
  /** performance.now() when the 101 went to the client. */
  readonly openedAt: number;
}

export interface TunnelOptions {
  /** No byte either way for this long closes the tunnel; 0: never. */
  readonly idleMs: number;
  /** Date.now() at which the tunnel closes (the client certificate's notAfter); Infinity: never. */
  readonly closeAtMs: number;
}

/** How long a side that was ended gets to flush and close before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** The longest a Node timer can wait; a later deadline is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Tunnel implements TunnelStats {
  bytesFromClient = 0;
  bytesToClient = 0;
  closedBy: TunnelEnd | null = null;
  readonly openedAt = performance.now();
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private open = 2;
  private finished = false;

  constructor(
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    private readonly options: TunnelOptions,
    private readonly onClose: (tunnel: Tunnel) => void,
  ) {
    client.on("data", (chunk: Buffer) => {
      this.bytesFromClient += chunk.length;
      this.lastActivity = Date.now();
    });
    upstream.on("data", (chunk: Buffer) => {
      this.bytesToClient += chunk.length;
      this.lastActivity = Date.now();
    });
    client.on("error", () => this.close("error"));
    upstream.on("error", () => this.close("error"));
    client.once("close", () => this.sideClosed("client", upstream));
    upstream.once("close", () => this.sideClosed("upstream", client));
    // pipe() ends the other side when one ends (a half-close passes through) and pauses a side whose reader is behind.
    client.pipe(upstream);
    upstream.pipe(client);
    if (options.idleMs > 0) this.idleTimer = setTimeout(this.checkIdle, options.idleMs);
    this.armExpiry();
  }

  /** Closes both sides now, for `reason` (nothing if the tunnel is already closing). */
  close(reason: TunnelEnd): void {
    if (this.closedBy === null) this.closedBy = reason;
    this.stopTimers();
    this.client.destroy();
    this.upstream.destroy();
  }

  private sideClosed(side: "client" | "upstream", other: Duplex): void {
    if (this.closedBy === null) this.closedBy = side;
    this.open--;
    if (this.open === 0) return this.finish();
    // What the closed side sent is still flushed to the other, which is then ended; one that does not close in time is destroyed.
    if (!other.destroyed) other.end();
    this.graceTimer ??= setTimeout(() => other.destroy(), CLOSE_GRACE_MS);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    this.onClose(this);
  }

  private readonly checkIdle = (): void => {
    const quiet = Date.now() - this.lastActivity;
    if (quiet >= this.options.idleMs) return this.close("idle");
    this.idleTimer = setTimeout(this.checkIdle, this.options.idleMs - quiet);
  };

  private armExpiry(): void {
    const left = this.options.closeAtMs - Date.now();
    if (left === Infinity) return;
    if (left <= 0) return this.close("peer_expired");
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(left, MAX_TIMER_MS));
  }

  private stopTimers(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    if (this.graceTimer !== null && this.finished) clearTimeout(this.graceTimer);
  }
}
