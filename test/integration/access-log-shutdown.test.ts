/**
 * The access log loses no line when the proxy stops: `guardpost serve` under
 * load (many requests in flight, lines batched in memory), then SIGTERM or
 * SIGINT. Every request the client saw answered has exactly one access line
 * with its request id, and no line names a request that was not answered.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { onCleanup } from "../helpers/cleanup.js";
import { createCa } from "../helpers/pki.js";
import { serveProxy } from "../helpers/proxy.js";
import { startUpstream } from "../helpers/upstream.js";

const ACL = "version: 1\npaths:\n  /work:\n    GET: [OU=web]\n";
const CONNECTIONS = 32;

async function stopUnderLoad(signal: NodeJS.Signals) {
  const upstream = await startUpstream();
  // Slow enough that many requests are in flight when the signal lands.
  upstream.respond((_req, res) => {
    setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("ok"), 5);
  });
  const ca = await createCa();
  const client = await ca.issue({ cn: "web-01", ou: "web", eku: ["clientAuth"] });
  const served = await serveProxy({ ca, acl: ACL, upstream: upstream.url, access: true });
  const agent = new Agent({ connect: { ca: ca.cert, cert: client.chain, key: client.key, servername: "localhost" }, connections: CONNECTIONS });
  onCleanup(() => agent.destroy());

  const answered = new Set<string>();
  let sent = 0;
  let inFlight = 0;
  let inFlightAtSignal = -1;
  let stopped = false;
  const loop = async (worker: number) => {
    for (let i = 0; !stopped; i++) {
      const id = `w${worker}-r${i}`;
      sent++;
      inFlight++;
      try {
        const res = await request(`${served.url}/work`, { dispatcher: agent, headers: { "x-request-id": id } });
        await res.body.text();
        if (res.statusCode === 200) answered.add(id);
      } catch {
        // refused or reset once the proxy has stopped listening: not answered, so no line is owed
      } finally {
        inFlight--;
      }
    }
  };
  const loops = Array.from({ length: CONNECTIONS * 2 }, (_, w) => loop(w));
  await sleep(1500);
  inFlightAtSignal = inFlight;
  served.proc.child.kill(signal);
  const code = await served.proc.exited;
  stopped = true;
  await Promise.all(loops);

  const records = served.proc.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const logged = records.filter((r) => r.msg === "request").map((r) => r.requestId as string);
  return { code, answered, logged, sent, inFlightAtSignal, records };
}

describe("access log at shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} under load: every answered request has exactly one access line, and no other request has one`, async () => {
      const { code, answered, logged, sent, inFlightAtSignal, records } = await stopUnderLoad(signal);
      expect(code).toBe(0);
      // The test means something only if requests were in flight and lines were pending when the signal came.
      expect(inFlightAtSignal).toBeGreaterThan(0);
      expect(answered.size).toBeGreaterThan(20);
      expect(new Set(logged).size, "a request id logged twice").toBe(logged.length);
      const missing = [...answered].filter((id) => !logged.includes(id));
      const unanswered = logged.filter((id) => !answered.has(id));
      expect(missing, `${missing.length} answered requests without a line (of ${answered.size} answered, ${sent} sent)`).toEqual([]);
      expect(unanswered, "lines for requests the client never saw answered").toEqual([]);
      // Lines come out in order: the "stopped" line is the last one written.
      expect(records.at(-1)?.event).toBe("stopped");
    });
  }
});
