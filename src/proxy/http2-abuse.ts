/**
 * HTTP/2 sessions that make guardpost work for nothing: most of their
 * streams never become requests it answers. nghttp2 and Node end some
 * abusive sessions themselves (CONTINUATION and control-frame floods, stream
 * limit overruns, its own rapid-reset rate limit), but two patterns pass:
 *
 * - Streams refused before they reach guardpost: a header list over
 *   maxHeaderSize or Node's pair limit (an HPACK bomb, an oversized block)
 *   is reset stream by stream (ENHANCE_YOUR_CALM), and Node never counts it
 *   against the session, so a client may send such streams without end.
 * - Streams the client resets right after opening them (rapid reset,
 *   CVE-2023-44487): nghttp2 allows about a thousand before it sends GOAWAY,
 *   and on Node 20 the socket of a session it ended stays open until the
 *   idle timeout, uncounted.
 *
 * A session whose streams are mostly such streams (at least ABUSIVE_STREAMS
 * of them, and more than the rest) gets GOAWAY ENHANCE_YOUR_CALM and is
 * closed, as Envoy ends a connection for premature resets. A well-behaved
 * client with an occasional cancel or refusal is never near it.
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";

/** How many refused, or prematurely reset, streams a session may have before it can be judged abusive. */
export const ABUSIVE_STREAMS = 100;
/** A stream the client resets within this long of opening it counts as a premature reset. */
export const PREMATURE_RESET_MS = 1000;
/** How often open sessions are checked for refused streams (they raise no event guardpost can see). */
const SWEEP_MS = 500;

interface Counts {
  /** Streams that reached guardpost. */
  streams: number;
  /** Of those, how many the client reset within PREMATURE_RESET_MS. */
  premature: number;
}

const COUNTS = Symbol("guardpost.http2Abuse");
type CountedSession = ServerHttp2Session & { [COUNTS]?: Counts };

function abusive(bad: number, total: number): boolean {
  return bad >= ABUSIVE_STREAMS && bad * 2 > total;
}

export class Http2AbuseGuard {
  private readonly sessions = new Set<CountedSession>();
  private sweep: NodeJS.Timeout | null = null;

  /** `onAbuse` is told why, just before `session` is ended. */
  constructor(private readonly onAbuse: (session: ServerHttp2Session, reason: string) => void) {}

  /** Watches a new session until it closes. */
  track(session: ServerHttp2Session): void {
    const counted = session as CountedSession;
    counted[COUNTS] = { streams: 0, premature: 0 };
    this.sessions.add(counted);
    session.once("close", () => {
      this.sessions.delete(counted);
      if (this.sessions.size === 0 && this.sweep !== null) {
        clearInterval(this.sweep);
        this.sweep = null;
      }
    });
    if (this.sweep === null) {
      this.sweep = setInterval(this.checkRefused, SWEEP_MS);
      this.sweep.unref();
    }
  }

  /** A stream of a tracked session reached guardpost at `startedAt` (performance.now()). */
  stream(session: ServerHttp2Session, stream: ServerHttp2Stream, startedAt: number): void {
    const counts = (session as CountedSession)[COUNTS];
    if (counts === undefined) return;
    counts.streams++;
    // "aborted": the stream was reset before guardpost finished answering it.
    stream.once("aborted", () => {
      if (performance.now() - startedAt >= PREMATURE_RESET_MS) return;
      counts.premature++;
      if (abusive(counts.premature, counts.streams)) this.end(session, `${counts.premature} of ${counts.streams} streams reset by the client right after opening (rapid reset, CVE-2023-44487)`);
    });
  }

  /**
   * Client streams carry odd ids, 1, 3, 5, ...: those up to the last one
   * nghttp2 processed, less those that reached guardpost, were refused
   * before they did.
   */
  private readonly checkRefused = (): void => {
    for (const session of this.sessions) {
      const last = session.state.lastProcStreamID;
      const counts = session[COUNTS];
      if (last === undefined || counts === undefined) continue;
      const refused = (last + 1) / 2 - counts.streams;
      if (abusive(refused, refused + counts.streams)) {
        this.end(session, `${refused} streams refused before they became requests (header lists over maxHeaderSize, HPACK bombs, malformed or excess streams), ${counts.streams} served`);
      }
    }
  };

  private end(session: CountedSession, reason: string): void {
    this.sessions.delete(session);
    if (session.destroyed) return;
    this.onAbuse(session, reason);
    // The GOAWAY tells the client why; destroy alone would send NO_ERROR on Node 20. destroy flushes it, then closes the socket.
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy(undefined, constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }
}
