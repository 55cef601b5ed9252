/**
 * Raw connections to guardpost for requests an HTTP client would normalize,
 * repair or refuse to send, written byte for byte: over mTLS to an inbound
 * listener, or plain TCP to an outbound one.
 *
 * - `rawExchange` sends bytes on a fresh connection and returns everything
 *   the server wrote until it closed.
 * - `RawConnection` holds one connection open for a test to drive: slow
 *   writers, pipelining, keep-alive timing, aborts. It reads the responses
 *   in order (`read`), or the output as text (`output`, `waitFor`).
 * - `ReconnectingClient` keeps one keep-alive connection, reopened whenever
 *   the server closes it, for fuzzers.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { onCleanup } from "./cleanup.js";
import type { CertificateAuthority, IssuedCertificate } from "./pki.js";
import { parseResponse, type WireResponse } from "./wire.js";

/** A response read off a raw connection: always complete (`read` waits for the whole of it). */
export type RawResponse = WireResponse;

/** Where to connect: an mTLS inbound listener (with the client's certificate), or a plain-TCP one. */
export type RawTarget = { readonly port: number; readonly ca: CertificateAuthority; readonly cert: IssuedCertificate } | { readonly port: number; readonly plain: true };

function connectTo(target: RawTarget, onConnect: () => void): Socket {
  if ("plain" in target) return tcpConnect({ host: "127.0.0.1", port: target.port }, onConnect);
  return tlsConnect({ host: "127.0.0.1", port: target.port, servername: "localhost", ca: target.ca.cert, cert: target.cert.chain, key: target.cert.key }, onConnect);
}

/**
 * Sends `raw` bytes over one connection (mTLS unless `target` says plain)
 * and returns everything the server wrote until it closed the connection
 * (or `waitMs` passed), latin1.
 */
export function rawExchange(port: number, ca: CertificateAuthority, cert: IssuedCertificate, raw: string | Buffer, waitMs = 2000): Promise<string> {
  return rawExchangeWith({ port, ca, cert }, raw, waitMs);
}

export function rawExchangeWith(target: RawTarget, raw: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTo(target, () => socket.write(raw));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString("latin1"));
      else reject(err);
    });
  });
}

/** The status code of the first response in raw HTTP/1.1 output. */
export function rawStatus(output: string): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(output);
  return match ? Number(match[1]) : 0;
}

/** One connection held open, its output kept, its responses read in order. */
export class RawConnection {
  /** Everything received, in order. */
  private received = Buffer.alloc(0);
  /** How much of `received` `read` has consumed. */
  private readAt = 0;
  private closedFlag = false;
  /** The last response read said `connection: close`: the server will send nothing more. */
  private closing = false;
  private readonly waiters = new Set<() => void>();
  private since = Date.now();
  /** Resolves when the connection is closed, by either side, with ms since it connected (or since `markTime`). */
  readonly closed: Promise<number>;
  /** The error the socket reported, if any (ECONNRESET when an answer was lost to a reset). */
  error: NodeJS.ErrnoException | null = null;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.closedFlag = true;
        this.notify();
        resolve(Date.now() - this.since);
      }),
    );
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.notify();
    });
    socket.on("error", (err) => (this.error = err));
    onCleanup(() => socket.destroy());
  }

  /** An mTLS connection to an inbound listener, presenting `cert`; resolves once the handshake completed. */
  static open(port: number, ca: CertificateAuthority, cert: IssuedCertificate): Promise<RawConnection> {
    return RawConnection.openTo({ port, ca, cert });
  }

  /** A plain TCP connection (an outbound listener). */
  static openPlain(port: number): Promise<RawConnection> {
    return RawConnection.openTo({ port, plain: true });
  }

  static openTo(target: RawTarget): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connectTo(target, () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Everything the server wrote so far, latin1. */
  output(): string {
    return this.received.toString("latin1");
  }

  isClosed(): boolean {
    return this.closedFlag;
  }

  /** Closed (or closing) by the server, and every byte it sent has been read. */
  get spent(): boolean {
    return (this.closedFlag || this.closing) && this.readAt >= this.received.length;
  }

  /** Open, and nothing received yet: fit for a first request. */
  get untouched(): boolean {
    return !this.closedFlag && !this.closing && this.received.length === 0;
  }

  /** Marks the moment `closed` counts from. */
  markTime(): void {
    this.since = Date.now();
  }

  /** Writes `data` (a string as latin1); resolves once it is handed to the socket, at once if the socket is gone. */
  write(data: string | Buffer): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    return new Promise((done) => (this.socket.writable ? this.socket.write(bytes, () => done()) : done()));
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with the output once it matches `pattern`; rejects when the connection closes first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return this.until(
      () => {
        const text = this.output();
        if (pattern.test(text)) return { value: text };
        if (this.closedFlag) throw new Error(`connection closed before ${String(pattern)}; got ${JSON.stringify(text.slice(0, 500))}`);
        return null;
      },
      timeoutMs,
      () => `no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(this.output().slice(0, 500))}`,
    );
  }

  /**
   * The next response, or null when the connection closes first; rejects
   * after `timeoutMs` (a hang). `head`: the request was HEAD, so the
   * response has no body whatever its content-length says.
   */
  read(timeoutMs = 3000, head = false): Promise<RawResponse | null> {
    return this.until(
      () => {
        const response = this.take(head);
        if (response) return { value: response };
        if (this.closedFlag) {
          this.readAt = this.received.length;
          return { value: null };
        }
        return null;
      },
      timeoutMs,
      () => `no complete response within ${timeoutMs} ms (have ${JSON.stringify(this.received.subarray(this.readAt).toString("latin1").slice(0, 200))})`,
    );
  }

  /** Polls `check` whenever bytes arrive or the connection closes, until it gives a value or throws. */
  private until<T>(check: () => { value: T } | null, timeoutMs: number, timeoutMessage: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(attempt);
        reject(new Error(timeoutMessage()));
      }, timeoutMs);
      const attempt = () => {
        let outcome: { value: T } | null;
        try {
          outcome = check();
        } catch (err) {
          clearTimeout(timer);
          this.waiters.delete(attempt);
          reject(err as Error);
          return;
        }
        if (outcome === null) return;
        clearTimeout(timer);
        this.waiters.delete(attempt);
        resolve(outcome.value);
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Takes one complete response off the unread output, if there is one. */
  private take(noBody: boolean): RawResponse | null {
    const text = this.received.subarray(this.readAt).toString("latin1");
    const parsed = parseResponse(text, noBody);
    if (parsed === null) {
      if (text.includes("\r\n\r\n")) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, text.indexOf("\r\n")))}`);
      return null;
    }
    const { response, consumed } = parsed;
    if (!response.complete) return null;
    // After `connection: close` nothing more belongs to a response (a refusal may carry a body even for HEAD).
    this.closing = response.headers.connection?.toLowerCase() === "close";
    this.readAt = this.closing ? this.received.length : this.readAt + consumed;
    // The text is latin1, one character per byte; the body is read as the UTF-8 guardpost writes.
    return { status: response.status, headers: response.headers, body: Buffer.from(response.body, "latin1").toString("utf8"), complete: true };
  }
}

/**
 * One keep-alive connection at a time, reopened whenever the server closes
 * it. A spare connection is handshaken in the background, so a fuzzer whose
 * inputs often make the server close (Node's parser refusing bytes) does not
 * wait for a TLS handshake each time.
 */
export class ReconnectingClient {
  private current: RawConnection | null = null;
  private spare: Promise<RawConnection> | null = null;
  /** Connections opened so far. */
  opened = 0;

  constructor(
    private readonly port: number,
    private readonly ca: CertificateAuthority,
    private readonly cert: IssuedCertificate,
  ) {}

  async get(): Promise<RawConnection> {
    if (!this.current || this.current.spent) {
      this.current?.destroy();
      const spare = this.spare ? await this.spare.catch(() => null) : null;
      // A spare the server has closed (or timed out) meanwhile is no use.
      if (spare?.untouched) this.current = spare;
      else {
        spare?.destroy();
        this.current = await this.open();
      }
      this.spare = this.open();
      // A spare that fails to connect is replaced on use; it must not be an unhandled rejection meanwhile.
      this.spare.catch(() => undefined);
    }
    return this.current;
  }

  close(): void {
    this.current?.destroy();
    this.current = null;
    void this.spare?.then((c) => c.destroy(), () => undefined);
    this.spare = null;
  }

  private open(): Promise<RawConnection> {
    this.opened++;
    return RawConnection.open(this.port, this.ca, this.cert);
  }
}
