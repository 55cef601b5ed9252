/**
 * Command-line flags, each with an environment variable for CI. Flags win.
 */

export const USAGE = `usage: npm run bench -- [options]     (or: node bench/run.js [options])

  --quick                short runs, one round: a smoke test, not a measurement   BENCH_QUICK=1
  --only a,b             scenarios to run (default: all but latency-autocannon)     BENCH_ONLY
  --contenders a,b       contenders to run (default: all); a family name such as
                         "guardpost" selects all its variants                      BENCH_CONTENDERS
  --duration S           seconds per timed run (default 3; quick 0.5)              BENCH_DURATION
  --rounds N             rounds per scenario, contenders interleaved (default 8)   BENCH_ROUNDS
  --warmup S             untimed seconds per contender before round 1 (default 2)  BENCH_WARMUP
  --connections N        autocannon connections (default 64)                       BENCH_CONNECTIONS
  --sessions N           h2get / grpc-unary: HTTP/2 sessions (gRPC channels),
                         each its own TLS connection (default 8)                   BENCH_SESSIONS
  --streams M            h2get / grpc-unary: streams (calls) in flight on each
                         session, closed loop (default 16)                         BENCH_STREAMS
  --out DIR              where the JSON and Markdown reports go (default .bench-tmp) BENCH_OUT
  --guardpost FILE       the guardpost CLI to run (default: dist/cli/main.js here) BENCH_GUARDPOST
  --also NAME=FILE,...    more guardpost contenders (default config) running other
                         builds' CLIs, timed in the same rounds               BENCH_ALSO
  --node PATH|MAJOR      the Node that runs the Node contenders (guardpost,
                         minimal-node, http-proxy, bare-node); a major version
                         such as 24 is fetched with \`npx -p node@24\`. The load
                         generator and the upstream stay on this Node.       BENCH_NODE
  --profile DIR          run the Node contenders with --cpu-prof, profiles in DIR/<name>
  --no-pin               do not pin with taskset (default: the proxy under test
                         on the last CPU, load generator + upstream on CPU 0)  BENCH_NO_PIN=1
  --record               also rewrite the generated part of bench/RESULTS.md and bench/RESULTS-node<major>.json
  --no-install           do not apt-get install haproxy/nginx when they are missing  BENCH_NO_INSTALL=1
  --keep-tmp             keep the temp dir (configs, certificates, process logs)
  -h, --help

scenarios:   get post64k denied acl10k handshake resume13 resume12 latency latency-autocannon
             h2get        HTTP/2 keep-alive GET (ALPN h2), sessions x streams from a
                          node:http2 loop (h2load has no client-certificate option);
                          contenders guardpost*, minimal-node-h2 (its baseline),
                          haproxy-h2, nginx-h2
             grpc-unary   gRPC unary Say calls from grpc-js channels with the client
                          certificate, to a grpc-js service on h2c; same contenders
             ws-echo      (opt-in) WebSocket echo: --sessions tunnels with the client
                          certificate, --streams small messages in flight on each, to
                          a \`ws\` echo service; contenders guardpost*, minimal-node-ws
                          (its baseline), haproxy, nginx
contenders:  guardpost guardpost-noaccess guardpost-workers minimal-node http-proxy haproxy nginx bare-node direct
             minimal-node-h2 haproxy-h2 nginx-h2   (HTTP/2 and gRPC scenarios only; a family
             name selects them too: minimal-node, haproxy, nginx)
             minimal-node-ws   (ws-echo only; the family name minimal-node selects it too)
`;

const QUICK = { duration: 0.5, rounds: 1, warmup: 0.2 };
// Many short rounds rather than a few long ones: this VM's speed drifts by
// ±30% from minute to minute, and a ratio taken within one round, where both
// contenders ran within seconds of each other, cancels most of that drift.
const FULL = { duration: 3, rounds: 8, warmup: 2 };

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
export function parseOptions(argv, env) {
  /** @type {Map<string, string>} */
  const flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) throw new Error(`unexpected argument ${JSON.stringify(arg)}\n\n${USAGE}`);
    const [name, inline] = arg.replace(/^--?/, "").split(/=(.*)/s);
    if (["quick", "record", "no-install", "no-pin", "keep-tmp", "help", "h"].includes(name)) {
      flags.set(name, "1");
    } else if (["only", "contenders", "duration", "rounds", "warmup", "connections", "sessions", "streams", "out", "guardpost", "node", "profile", "also"].includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value\n\n${USAGE}`);
      flags.set(name, value);
    } else {
      throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    }
  }
  /** @type {(flag: string, variable: string) => string | undefined} */
  const pick = (flag, variable) => flags.get(flag) ?? env[variable];
  /** @param {string | undefined} value */
  const truthy = (value) => value !== undefined && value !== "" && value !== "0" && value !== "false";
  /** @param {string | undefined} value */
  const list = (value) => (value ? value.split(",").map((s) => s.trim()).filter(Boolean) : null);
  /** @type {(flag: string, value: string | undefined, fallback: number) => number} */
  const number = (flag, value, fallback) => {
    if (value === undefined || value === "") return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be a positive number, got ${JSON.stringify(value)}`);
    return n;
  };
  const quick = truthy(pick("quick", "BENCH_QUICK"));
  const defaults = quick ? QUICK : FULL;
  return {
    help: flags.has("help") || flags.has("h"),
    quick,
    only: list(pick("only", "BENCH_ONLY")),
    contenders: list(pick("contenders", "BENCH_CONTENDERS")),
    duration: number("duration", pick("duration", "BENCH_DURATION"), defaults.duration),
    rounds: Math.round(number("rounds", pick("rounds", "BENCH_ROUNDS"), defaults.rounds)),
    warmup: number("warmup", pick("warmup", "BENCH_WARMUP"), defaults.warmup),
    connections: Math.round(number("connections", pick("connections", "BENCH_CONNECTIONS"), 64)),
    sessions: Math.round(number("sessions", pick("sessions", "BENCH_SESSIONS"), 8)),
    streams: Math.round(number("streams", pick("streams", "BENCH_STREAMS"), 16)),
    out: pick("out", "BENCH_OUT") ?? null,
    guardpost: pick("guardpost", "BENCH_GUARDPOST") ?? null,
    node: pick("node", "BENCH_NODE") ?? null,
    profile: flags.get("profile") ?? null,
    also: (list(pick("also", "BENCH_ALSO")) ?? []).map((item) => {
      const [name, file] = item.split("=");
      if (!name || !file) throw new Error(`--also takes NAME=FILE pairs, got ${JSON.stringify(item)}`);
      return { name, file };
    }),
    pin: !(flags.has("no-pin") || truthy(env.BENCH_NO_PIN)),
    record: flags.has("record"),
    install: !(flags.has("no-install") || truthy(env.BENCH_NO_INSTALL)),
    keepTmp: flags.has("keep-tmp"),
  };
}
