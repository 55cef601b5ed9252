/**
 * HTTP/2 written frame by frame (RFC 9113), for what no client library will
 * send: floods of resets, CONTINUATION without end, HPACK bombs, malformed
 * pseudo-headers. `RawH2` is one TLS connection with ALPN h2 and a client
 * certificate; it parses what the server sends back into frames and ACKs
 * the server's SETTINGS (nothing else is answered on its own).
 *
 * HPACK here is the minimum an attacker needs (RFC 7541): literal fields
 * with or without indexing, never Huffman-coded, and indexed references.
 * Reading a response's :status is supported for the first response on a
 * connection (the server's dynamic table is still empty then).
 */
import { connect, type TLSSocket } from "node:tls";
import { onCleanup } from "./cleanup.js";
import type { CertificateAuthority, IssuedCertificate } from "./pki.js";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 0xb } as const;
export const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One frame: 9-byte header (24-bit length, type, flags, 31-bit stream id) and its payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settings(entries: ReadonlyArray<readonly [id: number, value: number]> = []): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export const settingsAck = (): Buffer => frame(FrameType.SETTINGS, Flag.ACK, 0);

export function headers(streamId: number, block: Buffer, options: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const flags = (options.endStream ?? true ? Flag.END_STREAM : 0) | (options.endHeaders ?? true ? Flag.END_HEADERS : 0);
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export function continuation(streamId: number, block: Buffer, endHeaders = false): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
}

export function data(streamId: number, payload: Buffer, endStream = false): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, payload);
}

export function rstStream(streamId: number, code: number = ErrorCode.CANCEL): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function ping(opaque: Buffer = Buffer.alloc(8), ack = false): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, opaque);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment & 0x7fffffff);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export interface GoAway {
  readonly lastStreamId: number;
  readonly code: number;
  readonly debug: string;
}

export function parseGoAway(f: Frame): GoAway {
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString("latin1") };
}

/** RFC 7541 section 5.1: an integer with an N-bit prefix, the prefix's high bits set to `high`. */
export function hpackInt(value: number, prefixBits: number, high = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** A string literal, never Huffman-coded (H bit 0). Latin1, so any byte can be sent. */
function hpackString(value: string): Buffer {
  const bytes = Buffer.from(value, "latin1");
  return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
}

/** A literal field without indexing, new name (RFC 7541 section 6.2.2). */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** A literal field with incremental indexing, new name (section 6.2.1): it enters the dynamic table at index 62. */
export function literalIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** An indexed field (section 6.1): 1-61 the static table, 62 on the dynamic one. */
export function indexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

/** A header block of literal fields, in the order given (pseudo-headers are just names starting with ':'). */
export function block(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.map(([name, value]) => literal(name, value)));
}

/** The pseudo-headers of a GET for `path` (plus `extra` fields after them). */
export function getBlock(path: string, extra: ReadonlyArray<readonly [string, string]> = [], method = "GET"): Buffer {
  return block([[":method", method], [":scheme", "https"], [":path", path], [":authority", "localhost"], ...extra]);
}

/** HPACK static table (RFC 7541 appendix A) entries 8-14: the :status values it holds. */
const STATIC_STATUS: ReadonlyMap<number, number> = new Map([
  [8, 200],
  [9, 204],
  [10, 206],
  [11, 304],
  [12, 400],
  [13, 404],
  [14, 500],
]);

/** The Huffman codes of the ten digits (RFC 7541 appendix B): all a :status value can hold. */
const HUFFMAN_DIGITS: ReadonlyMap<string, string> = new Map([
  ["00000", "0"],
  ["00001", "1"],
  ["00010", "2"],
  ["011001", "3"],
  ["011010", "4"],
  ["011011", "5"],
  ["011100", "6"],
  ["011101", "7"],
  ["011110", "8"],
  ["011111", "9"],
]);

function huffmanDigits(bytes: Buffer): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, "0")).join("");
  let out = "";
  let code = "";
  for (const bit of bits) {
    code += bit;
    const digit = HUFFMAN_DIGITS.get(code);
    if (digit !== undefined) {
      out += digit;
      code = "";
    }
  }
  // What is left is padding: the most significant bits of EOS, all ones.
  if (!/^1{0,7}$/.test(code)) throw new Error(`a :status that is not Huffman-coded digits: ${bytes.toString("hex")}`);
  return out;
}

/**
 * The :status of a response header block that opens with it (as servers
 * send it) while the server's dynamic table is empty: an indexed static
 * entry, or a literal with the static name :status (index 8). Undefined for
 * any other representation.
 */
export function responseStatus(headerBlock: Buffer): number | undefined {
  const first = headerBlock[0];
  if (first === undefined) return undefined;
  if (first & 0x80) return STATIC_STATUS.get(first & 0x7f);
  // 01xxxxxx (incremental indexing, 6-bit index), 0000xxxx (without indexing), 0001xxxx (never indexed): name index 8.
  const nameIndex = (first & 0xc0) === 0x40 ? first & 0x3f : first & 0x0f;
  if (nameIndex !== 8) return undefined;
  const length = headerBlock[1]! & 0x7f;
  const value = headerBlock.subarray(2, 2 + length);
  return Number(headerBlock[1]! & 0x80 ? huffmanDigits(value) : value.toString("latin1"));
}

/** One TLS connection to guardpost speaking HTTP/2 with ALPN h2 and a client certificate, frame by frame. */
export class RawH2 {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Resolves when the connection has closed, whoever closed it. */
  readonly closed: Promise<void>;
  /** Set once closed. */
  closedAt: number | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: TLSSocket) {
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.closedAt = Date.now();
        this.wake();
        resolve();
      }),
    );
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  /**
   * Connects, checks that h2 was negotiated, and sends the preface and
   * `initial` SETTINGS (none by default: the server's defaults hold).
   */
  static open(port: number, ca: CertificateAuthority, cert: IssuedCertificate, initial: Buffer = settings()): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, cert: cert.chain, key: cert.key, ALPNProtocols: ["h2"] }, () => {
        if (socket.alpnProtocol !== "h2") {
          socket.destroy();
          reject(new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`));
          return;
        }
        const conn = new RawH2(socket);
        onCleanup(() => socket.destroy());
        conn.send(PREFACE, initial);
        resolve(conn);
      });
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Neither closed nor told to go away: an attack loop's condition to go on. */
  get alive(): boolean {
    return !this.isClosed && this.goAway() === undefined;
  }

  /**
   * Writes `buffers`; resolves once the socket has taken them (at once, or
   * after a drain), false if the connection closed first. A flood that
   * awaits each send goes no faster than the server reads.
   */
  send(...buffers: Buffer[]): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    const more = this.socket.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers));
    if (more) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.socket.off("drain", onDrain);
        this.socket.off("close", onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  /** The GOAWAY the server sent, if any. */
  goAway(): GoAway | undefined {
    const f = this.frames.find((x) => x.type === FrameType.GOAWAY);
    return f && parseGoAway(f);
  }

  /** Frames of `type` (on `streamId` when given). */
  framesOf(type: number, streamId?: number): Frame[] {
    return this.frames.filter((f) => f.type === type && (streamId === undefined || f.streamId === streamId));
  }

  /** Waits until `test` holds (checked on every frame and on close), up to `timeoutMs`; returns whether it held. */
  async until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 200));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
    return true;
  }

  /** Waits for the server to end the connection: a GOAWAY, or the socket closing. Returns ms waited, or null on timeout. */
  async ended(timeoutMs: number): Promise<number | null> {
    const start = Date.now();
    const ok = await this.until(() => this.isClosed || this.goAway() !== undefined, timeoutMs);
    return ok ? Date.now() - start : null;
  }

  /** What the server answered on `streamId`: its :status (first response on the connection only), or the RST_STREAM code. */
  answer(streamId: number): { status?: number; reset?: number } | undefined {
    const head = this.frames.find((f) => f.streamId === streamId && f.type === FrameType.HEADERS);
    if (head) return { status: responseStatus(headerBlockOf(head)) };
    const rst = this.frames.find((f) => f.streamId === streamId && f.type === FrameType.RST_STREAM);
    if (rst) return { reset: rst.payload.readUInt32BE(0) };
    return undefined;
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 9) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) break;
      const f: Frame = { type: this.pending[3]!, flags: this.pending[4]!, streamId: this.pending.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(this.pending.subarray(9, 9 + length)) };
      this.pending = this.pending.subarray(9 + length);
      this.frames.push(f);
      if (f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK)) void this.send(settingsAck());
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      waiter();
    }
  }
}

/** A HEADERS frame's header block, without padding and priority fields. */
export function headerBlockOf(f: Frame): Buffer {
  let start = 0;
  let end = f.payload.length;
  if (f.flags & Flag.PADDED) {
    end -= f.payload[0]!;
    start = 1;
  }
  if (f.flags & Flag.PRIORITY) start += 5;
  return f.payload.subarray(start, end);
}
