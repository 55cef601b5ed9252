/**
 * A keep-alive HTTP/1.1 client over one raw mTLS socket, for sending request
 * targets byte for byte: no HTTP client normalizes, encodes or refuses
 * anything on the way. Reads responses framed by content-length or chunked
 * encoding, in order.
 */
import { connect, type TLSSocket } from "node:tls";
import type { CertificateAuthority, IssuedCertificate } from "../helpers/pki.js";
import { parseResponse } from "../helpers/wire.js";

export interface RawResponse {
  readonly status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private closedFlag = false;
  /** The last response said `connection: close`: the server will send nothing more. */
  private closing = false;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: TLSSocket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on("close", () => {
      this.closedFlag = true;
      this.notify();
    });
    socket.on("error", () => undefined);
  }

  static open(port: number, ca: CertificateAuthority, cert: IssuedCertificate): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: cert.chain, key: cert.key }, () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Closed (or closing) by the server, and every byte it sent has been read. */
  get closed(): boolean {
    return (this.closedFlag || this.closing) && this.buffer.length === 0;
  }

  /** Open, and nothing received yet: fit for a first request. */
  get untouched(): boolean {
    return !this.closedFlag && !this.closing && this.buffer.length === 0;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * The next response, or null when the connection closes first; rejects
   * after `timeoutMs` (a hang). `head`: the request was HEAD, so the response
   * has no body whatever its content-length says.
   */
  async read(timeoutMs = 3000, head = false): Promise<RawResponse | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = this.parse(head);
      if (response) return response;
      if (this.closedFlag) {
        this.buffer = Buffer.alloc(0);
        return null;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete response within ${timeoutMs} ms (have ${JSON.stringify(this.buffer.toString("latin1").slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Takes one complete response off the buffer, if there is one. */
  private parse(noBody: boolean): RawResponse | null {
    const text = this.buffer.toString("latin1");
    const parsed = parseResponse(text, noBody);
    if (parsed === null) {
      if (text.includes("\r\n\r\n")) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, text.indexOf("\r\n")))}`);
      return null;
    }
    const { response, consumed } = parsed;
    if (!response.complete) return null;
    // After `connection: close` nothing more belongs to a response (a refusal may carry a body even for HEAD).
    this.closing = response.headers.connection?.toLowerCase() === "close";
    this.buffer = this.closing ? Buffer.alloc(0) : this.buffer.subarray(consumed);
    // The text is latin1, one character per byte; the body is read as the UTF-8 guardpost writes.
    return { status: response.status, headers: response.headers, body: Buffer.from(response.body, "latin1").toString("utf8") };
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
    if (!this.current || this.current.closed) {
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
