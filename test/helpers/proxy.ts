/**
 * A real guardpost for integration tests: a generated PKI, a config file and
 * ACL written to a temp dir, loaded through the same loader `serve` uses,
 * listening on 127.0.0.1 port 0, logging into a LogSink.
 */
import { join } from "node:path";
import { onCleanup } from "./cleanup.js";
import { stringify } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import { Guardpost } from "../../src/runtime/guardpost.js";
import { LogSink } from "./log-sink.js";
import { spawnCli, type CliProcess } from "./spawn.js";
import { createCa, tempDir, writeFiles, type CertificateAuthority, type IssuedCertificate } from "./pki.js";

export interface ProxyOptions {
  /** ACL file text (YAML). */
  readonly acl: string;
  /** Upstream URL or unix:/path. */
  readonly upstream: string;
  readonly ca?: CertificateAuthority;
  /** Our service certificate; default: issued by `ca` for localhost/127.0.0.1. */
  readonly serverCert?: IssuedCertificate;
  readonly crl?: string;
  readonly limits?: Record<string, string | number>;
  readonly access?: boolean;
  /** Merged over the generated config object before it is written. */
  readonly extra?: Record<string, unknown>;
  /** More files (name -> content) written beside the config, e.g. a second ACL that `extra` names. */
  readonly extraFiles?: Record<string, string>;
  readonly drainTimeout?: string;
  /** Use these TLS files (absolute paths, already written) instead of writing cert, key and CA into the temp dir. */
  readonly tlsPaths?: { readonly cert: string; readonly key: string; readonly ca: string; readonly crl?: string };
  /** More keys for the config's `tls` block (sessionIdCache, minVersion). */
  readonly tls?: Record<string, unknown>;
}

export interface TestProxy {
  readonly guardpost: Guardpost;
  readonly ca: CertificateAuthority;
  readonly url: string;
  readonly port: number;
  readonly adminUrl: string;
  readonly dir: string;
  readonly files: { readonly cert: string; readonly key: string; readonly ca: string; readonly acl: string; readonly config: string; readonly crl?: string };
  readonly logs: LogSink;
  stop(): Promise<void>;
}

export async function issueServerCert(ca: CertificateAuthority): Promise<IssuedCertificate> {
  return ca.issue({ cn: "guardpost-under-test", ou: "sidecar", sans: { dns: ["localhost"], ip: ["127.0.0.1"] } });
}

/** The files a proxy runs from: PKI, ACL and a config file, written to a temp dir. */
export interface ProxyFiles {
  readonly ca: CertificateAuthority;
  readonly dir: string;
  readonly files: TestProxy["files"];
}

export async function writeProxyFiles(options: ProxyOptions, log: { level: string } = { level: "debug" }): Promise<ProxyFiles> {
  const ca = options.ca ?? (await createCa());
  const serverCert = options.serverCert ?? (await issueServerCert(ca));
  const dir = tempDir();
  const files = writeFiles(dir, {
    "service.crt": serverCert.chain,
    "service.key": serverCert.key,
    "ca.crt": ca.cert,
    "acl.yaml": options.acl,
    ...(options.crl ? { "ca.crl": options.crl } : {}),
    ...options.extraFiles,
  });
  const config = {
    tls: { ...(options.tlsPaths ?? { cert: "service.crt", key: "service.key", ca: "ca.crt", ...(options.crl ? { crl: "ca.crl" } : {}) }), ...options.tls },
    inbound: { listen: "127.0.0.1:0", upstream: options.upstream, acl: "acl.yaml" },
    admin: { listen: "127.0.0.1:0" },
    log: { level: log.level, access: options.access ?? true },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.drainTimeout ? { drainTimeout: options.drainTimeout } : {}),
    ...options.extra,
  };
  const configFile = join(dir, "guardpost.yaml");
  writeFiles(dir, { "guardpost.yaml": stringify(config) });
  return {
    ca,
    dir,
    files: {
      cert: options.tlsPaths?.cert ?? files["service.crt"],
      key: options.tlsPaths?.key ?? files["service.key"],
      ca: options.tlsPaths?.ca ?? files["ca.crt"],
      acl: files["acl.yaml"],
      config: configFile,
      ...(options.crl ? { crl: join(dir, "ca.crl") } : options.tlsPaths?.crl ? { crl: options.tlsPaths.crl } : {}),
    },
  };
}

export async function startProxy(options: ProxyOptions): Promise<TestProxy> {
  const { ca, dir, files } = await writeProxyFiles(options);
  const logs = new LogSink();
  const guardpost = await Guardpost.start(loadConfig(files.config), { logger: logs.logger("debug"), processMetrics: false, watch: { debounceMs: 100, pollMs: 500 } });
  const inbound = [...guardpost.addresses.inbound.values()][0]!;
  const proxy: TestProxy = {
    guardpost,
    ca,
    url: `https://localhost:${inbound.port}`,
    port: inbound.port,
    adminUrl: `http://127.0.0.1:${guardpost.addresses.admin!.port}`,
    dir,
    files,
    logs,
    stop: () => guardpost.stop(),
  };
  onCleanup(() => proxy.stop());
  return proxy;
}

export interface ServedProxy {
  readonly proc: CliProcess;
  readonly ca: CertificateAuthority;
  readonly url: string;
  /** The first inbound listener's port. */
  readonly port: number;
  /** Every inbound listener's port by name. */
  readonly ports: ReadonlyMap<string, number>;
  readonly adminUrl: string;
  readonly files: TestProxy["files"];
}

/**
 * The same proxy run the way users run it, `guardpost serve --config` in a
 * child process (killed when the test file ends), once it logged that it started.
 */
export async function serveProxy(options: ProxyOptions & { readonly nodeArgs?: readonly string[]; readonly logLevel?: string }): Promise<ServedProxy> {
  const { ca, files } = await writeProxyFiles(options, { level: options.logLevel ?? "info" });
  const proc = spawnCli(["serve", "--config", files.config], { nodeArgs: options.nodeArgs });
  const started = await proc.waitForLog({ event: "started" });
  const ports = new Map(Object.entries(started.inbound as Record<string, string>).map(([name, address]) => [name, Number(address.split(":").pop())]));
  const port = [...ports.values()][0]!;
  return { proc, ca, url: `https://localhost:${port}`, port, ports, adminUrl: `http://${started.admin as string}`, files };
}
