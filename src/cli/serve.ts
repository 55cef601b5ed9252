/**
 * `guardpost serve`: run the sidecar or gateway from a config file until
 * SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads certificates and ACLs.
 */
import cluster from "node:cluster";
import { loadConfig } from "../config/load.js";
import { checkConfig } from "../runtime/check.js";
import { runPrimary, runWorker, workerCount } from "../runtime/cluster.js";
import { Guardpost } from "../runtime/guardpost.js";
import { parseCommandArgs, usageError } from "./args.js";
import type { Command } from "./io.js";

const DEFAULT_CONFIG = "/etc/guardpost/guardpost.yaml";

export const serveCommand: Command = {
  name: "serve",
  summary: "run the sidecar or gateway from a config file",
  usage: `usage: guardpost serve [--config FILE] [--check]

Runs the proxy described by FILE (default: $GUARDPOST_CONFIG, else ${DEFAULT_CONFIG}).

  --config FILE   the config file (YAML; see the README's config reference)
  --check         load and validate the config, TLS material and ACLs, then exit
                  (0 valid, 2 invalid) without listening

Signals: SIGTERM or SIGINT drain in-flight requests (up to drainTimeout) and
exit 0; SIGHUP reloads certificates, CA, CRL and ACLs.
`,
  async run(args, io) {
    const parsed = parseCommandArgs("serve", args, { config: { type: "string", short: "c" }, check: { type: "boolean" } });
    if (parsed.positionals.length > 0) throw usageError("serve", `unexpected argument ${JSON.stringify(parsed.positionals[0])}; the config file goes after --config`);
    const file = parsed.values.config ?? io.env.GUARDPOST_CONFIG ?? DEFAULT_CONFIG;
    const config = loadConfig(file);
    if (parsed.values.check) {
      await checkConfig(config);
      io.stdout.write(`${file}: ok\n`);
      return 0;
    }
    if (cluster.isWorker) return runWorker(config);
    if (workerCount(config) > 1) {
      // Refuse bad material here, once, rather than in every worker.
      await checkConfig(config);
      return runPrimary(config);
    }
    const guardpost = await Guardpost.start(config);
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        guardpost.logger.info({ event: "signal", signal }, `${signal} received`);
        process.off("SIGTERM", stop).off("SIGINT", stop).off("SIGHUP", reload);
        guardpost.drain().then(
          () => {
            guardpost.logger.flush();
            resolve(0);
          },
          () => resolve(1),
        );
      };
      const reload = () => {
        guardpost.logger.info({ event: "signal", signal: "SIGHUP" }, "SIGHUP received: reloading certificates and ACLs");
        guardpost.reloadInBackground(true);
      };
      process.on("SIGTERM", stop).on("SIGINT", stop).on("SIGHUP", reload);
    });
  },
};
