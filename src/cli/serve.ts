/**
 * `guardpost serve`: run the sidecar or gateway from a config file until
 * SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads certificates and ACLs.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.js";
import { GuardpostError } from "../errors.js";
import { Guardpost } from "../runtime/guardpost.js";
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
    let parsed;
    try {
      parsed = parseArgs({ args: [...args], options: { config: { type: "string", short: "c" }, check: { type: "boolean" } }, strict: true, allowPositionals: false });
    } catch (err) {
      throw new GuardpostError("GP_ERR_USAGE", `${(err as Error).message} (see guardpost help serve)`);
    }
    const file = parsed.values.config ?? io.env.GUARDPOST_CONFIG ?? DEFAULT_CONFIG;
    const config = loadConfig(file);
    if (parsed.values.check) {
      const { checkConfig } = await import("../runtime/check.js");
      await checkConfig(config);
      io.stdout.write(`${file}: ok\n`);
      return 0;
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
        void guardpost.reload(true);
      };
      process.on("SIGTERM", stop).on("SIGINT", stop).on("SIGHUP", reload);
    });
  },
};
