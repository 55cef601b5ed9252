/**
 * `guardpost serve`: run the sidecar or gateway from a config file until
 * SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the config, certificates and ACLs.
 * Before listening it runs every check `--check` runs; a start-up error is
 * printed on stderr for the person at the terminal and logged as a JSON
 * line on stdout for the log shipper.
 */
import cluster from "node:cluster";
import { pointHome } from "../config/file-errors.js";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { GuardpostError, isGuardpostError } from "../errors.js";
import { createLogger, type Logger } from "../log/logger.js";
import { checkConfig, formatWarning, type CheckReport } from "../runtime/check.js";
import { runPrimary, runWorker, workerCount } from "../runtime/cluster.js";
import { Guardpost } from "../runtime/guardpost.js";
import { formatCliError, parseCommandArgs, usageError } from "./args.js";
import type { Command, CommandIo } from "./io.js";

const DEFAULT_CONFIG = "/etc/guardpost/guardpost.yaml";

export const serveCommand: Command = {
  name: "serve",
  summary: "run the sidecar or gateway from a config file",
  usage: `usage: guardpost serve [--config FILE] [--check [--strict]]

Runs the proxy described by FILE (default: $GUARDPOST_CONFIG, else ${DEFAULT_CONFIG}).

  --config FILE   the config file (YAML; see the README's config reference)
  --check         load and validate the config, TLS material and ACLs, then exit
                  without listening. Errors (exit 2) and warnings (valid, but
                  likely wrong: a certificate peers will refuse, an outbound
                  listener beyond loopback) are printed on stderr
  --strict        with --check: warnings fail the check too (exit 1)

Signals: SIGTERM or SIGINT drain in-flight requests (up to drainTimeout) and
exit 0; SIGHUP reloads the config file, certificates, CA, CRL and ACLs (a
change to any of them is also picked up without a signal).

exit codes: 0 ok (or stopped by a signal), 1 --strict and a warning,
2 an invalid config, certificate or ACL, or a listener that cannot bind
`,
  async run(args, io) {
    const parsed = parseCommandArgs("serve", args, { config: { type: "string", short: "c" }, check: { type: "boolean" }, strict: { type: "boolean" } });
    if (parsed.positionals.length > 0) throw usageError("serve", `unexpected argument ${JSON.stringify(parsed.positionals[0])}; the config file goes after --config`);
    if (parsed.values.strict && !parsed.values.check) throw usageError("serve", "--strict goes with --check");
    const source = configSource(parsed.values.config, io.env);

    if (parsed.values.check) {
      const config = loadConfigFrom(source);
      const report = await checkConfig(config);
      return printReport(source.file, report, parsed.values.strict ?? false, io);
    }

    let config: Config;
    try {
      config = loadConfigFrom(source);
    } catch (err) {
      // No config, no level: the line goes out at the default one.
      await failStart(createLogger({ level: "info" }), err);
      throw err;
    }
    // Workers share the primary's stdout: each write must be whole lines, short enough not to be torn.
    const logger = createLogger({ level: config.log.level, sharedStdout: cluster.isWorker || workerCount(config) > 1 });
    try {
      if (cluster.isWorker) return await runWorker(config, logger);
      // The checks run once, here: in the primary when there are workers, not in each of them.
      const report = await checkConfig(config);
      for (const warning of report.warnings) logger.warn({ event: "config_warning", code: warning.code, at: warning.at }, formatWarning(warning));
      if (report.errors.length > 0) {
        for (const err of report.errors.slice(0, -1)) {
          logStartFailure(logger, err);
          io.stderr.write(`${formatCliError(err)}\n`);
        }
        throw report.errors.at(-1)!;
      }
      if (workerCount(config) > 1) return await runPrimary(config, logger);
      return await serveInProcess(config, logger);
    } catch (err) {
      await failStart(logger, err);
      throw err;
    }
  },
};

/** The JSON line for a start-up error, flushed before the CLI prints it and exits. */
async function failStart(logger: Logger, err: unknown): Promise<void> {
  if (isGuardpostError(err)) logStartFailure(logger, err);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}

interface ConfigSource {
  readonly file: string;
  /** How the file was chosen, for the message when it cannot be read. */
  readonly via: "--config" | "$GUARDPOST_CONFIG" | "default";
}

function configSource(option: string | undefined, env: NodeJS.ProcessEnv): ConfigSource {
  if (option !== undefined) return { file: option, via: "--config" };
  const fromEnv = env.GUARDPOST_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "") return { file: fromEnv, via: "$GUARDPOST_CONFIG" };
  return { file: DEFAULT_CONFIG, via: "default" };
}

/** loadConfig, with a config file that cannot be read explained by how it was chosen. */
function loadConfigFrom(source: ConfigSource): Config {
  try {
    return loadConfig(source.file);
  } catch (err) {
    if (!isGuardpostError(err) || err.code !== "GP_ERR_FILE_READ" || err.position) throw err;
    const errno = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? "unreadable";
    const problem = errno === "ENOENT" ? "does not exist" : `cannot be read (${errno})`;
    const message =
      source.via === "default"
        ? `no config file: the default, ${source.file}, ${problem}. Name one with --config FILE or set $GUARDPOST_CONFIG`
        : `the config file ${source.file} (from ${source.via}) ${problem}`;
    throw new GuardpostError("GP_ERR_FILE_READ", message, undefined, { cause: err });
  }
}

function printReport(file: string, report: CheckReport, strict: boolean, io: CommandIo): number {
  for (const err of report.errors) io.stderr.write(`${formatCliError(err)}\n`);
  for (const warning of report.warnings) io.stderr.write(`${formatWarning(warning)}\n`);
  const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (report.errors.length > 0) {
    io.stdout.write(`${file}: ${counted(report.errors.length, "error")}${report.warnings.length > 0 ? `, ${counted(report.warnings.length, "warning")}` : ""}\n`);
    return report.errors[0]!.exitCode;
  }
  if (report.warnings.length === 0) {
    io.stdout.write(`${file}: ok\n`);
    return 0;
  }
  if (strict) {
    io.stdout.write(`${file}: ${counted(report.warnings.length, "warning")}, which --strict counts as failures\n`);
    return 1;
  }
  io.stdout.write(`${file}: ok, ${counted(report.warnings.length, "warning")}\n`);
  return 0;
}

function logStartFailure(logger: Logger, err: GuardpostError): void {
  logger.fatal({ event: "start_failed", code: err.code, file: err.file, position: err.position }, `guardpost cannot start: ${err.format()}`);
}

async function serveInProcess(config: Config, logger: Logger): Promise<number> {
  let guardpost: Guardpost;
  try {
    guardpost = await Guardpost.start(config, { logger });
  } catch (err) {
    throw pointHome(err, config);
  }
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
      guardpost.logger.info({ event: "signal", signal: "SIGHUP" }, "SIGHUP received: reloading the config, certificates and ACLs");
      guardpost.reloadInBackground(true);
    };
    process.on("SIGTERM", stop).on("SIGINT", stop).on("SIGHUP", reload);
  });
}
