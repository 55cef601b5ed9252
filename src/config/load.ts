/**
 * Config file (YAML) -> frozen Config. Unknown keys, wrong types and bad
 * values are refused with `file:line:col`. Relative paths resolve against the
 * config file's folder.
 */
import { isIP } from "node:net";
import { dirname, isAbsolute, resolve } from "node:path";
import { isSeq, type Node } from "yaml";
import { PrincipalCompiler } from "../acl/principal.js";
import { YamlSource, type YamlEntry } from "../yaml/source.js";
import { formatDuration, parseDuration, parseSize } from "./units.js";
import {
  DEFAULTS,
  LOG_LEVELS,
  type Config,
  type ConfigFile,
  type ConfigWarning,
  type EnforcementMode,
  type InboundConfig,
  type InboundProtocol,
  type Limits,
  type ListenAddress,
  type OutboundConfig,
  type RouteConfig,
  type TlsVersion,
  type UpstreamTarget,
} from "./schema.js";

const TOP_KEYS = ["tls", "inbound", "outbound", "admin", "log", "limits", "drainTimeout", "workers"] as const;
const TLS_KEYS = ["cert", "key", "ca", "crl", "minVersion", "sessionIdCache"] as const;
const INBOUND_KEYS = ["name", "listen", "protocols", "upstream", "acl", "shadowAcl", "mode", "routes"] as const;
const ROUTE_KEYS = ["name", "pathPrefix", "host", "upstream", "acl", "shadowAcl", "mode"] as const;
const OUTBOUND_KEYS = ["name", "listen", "upstream", "serverName", "expect", "preserveHost", "unsafeListen"] as const;
const LIMIT_KEYS = Object.keys(DEFAULTS.limits) as (keyof Limits)[];
const SIZE_LIMITS: ReadonlySet<keyof Limits> = new Set(["maxHeaderSize"]);
const COUNT_LIMITS: ReadonlySet<keyof Limits> = new Set(["maxConnections", "maxConcurrentStreams", "maxHeaderCount"]);
const INBOUND_PROTOCOLS: readonly InboundProtocol[] = ["h2", "http/1.1"];
/**
 * Timers take whole milliseconds up to 2^31-1 (about 24.8 days): Node's
 * server options refuse a fraction with ERR_OUT_OF_RANGE at start-up, and a
 * longer setTimeout overflows and fires after 1 ms. So durations are rounded
 * up to a whole millisecond and capped there; a longer wait is as good as forever.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_HEADER_COUNT = 100_000;

export function loadConfig(file: string): Config {
  const absolute = resolve(file);
  return parseConfig(absolute, YamlSource.read(absolute));
}

export function parseConfigText(file: string, text: string): Config {
  return parseConfig(resolve(file), YamlSource.parse(resolve(file), text));
}

function parseConfig(file: string, src: YamlSource): Config {
  const reader = new ConfigReader(src, dirname(file));
  const root = src.isNull(src.root) ? null : src.root;
  const top = root ? src.fields(root, "the config file", TOP_KEYS) : new Map<string, YamlEntry>();
  const config: Config = {
    file,
    tls: reader.tls(top.get("tls")),
    inbound: reader.inbound(top.get("inbound")),
    outbound: reader.outbound(top.get("outbound")),
    admin: reader.admin(top.get("admin")),
    log: reader.log(top.get("log")),
    limits: reader.limits(top.get("limits")),
    drainTimeout: reader.duration(top.get("drainTimeout"), "drainTimeout", DEFAULTS.drainTimeout),
    workers: reader.workers(top.get("workers")),
    files: reader.files,
    warnings: reader.warnings,
  };
  reader.checkListeners(config);
  return deepFreeze(config);
}

class ConfigReader {
  readonly files: ConfigFile[] = [];
  readonly warnings: ConfigWarning[] = [];
  /** Where each listen and upstream address is written, by key, for errors that compare them. */
  private readonly addressNodes = new Map<string, Node | null>();

  constructor(
    private readonly src: YamlSource,
    private readonly dir: string,
  ) {}

  private fields(entry: YamlEntry | undefined, what: string, allowed: readonly string[]): Map<string, YamlEntry> {
    if (!entry || this.src.isNull(entry.value)) return new Map();
    return this.src.fields(entry.value, what, allowed);
  }

  tls(entry: YamlEntry | undefined): Config["tls"] {
    const f = this.fields(entry, '"tls"', TLS_KEYS);
    const sessionIdCache = f.get("sessionIdCache");
    return {
      cert: this.path(f.get("cert"), "tls.cert", DEFAULTS.tls.cert),
      key: this.path(f.get("key"), "tls.key", DEFAULTS.tls.key),
      ca: this.path(f.get("ca"), "tls.ca", DEFAULTS.tls.ca),
      crl: this.optionalPath(f.get("crl"), "tls.crl"),
      minVersion: this.choice(f.get("minVersion"), "tls.minVersion", ["TLSv1.2", "TLSv1.3"], DEFAULTS.tls.minVersion) as TlsVersion,
      sessionIdCache: sessionIdCache ? this.src.boolean(sessionIdCache.value, "tls.sessionIdCache") : DEFAULTS.tls.sessionIdCache,
    };
  }

  inbound(entry: YamlEntry | undefined): InboundConfig[] {
    // One mapping for a sidecar; a list of mappings for a gateway with several listeners.
    const items: (Node | null)[] = !entry || this.src.isNull(entry.value) ? [null] : this.isList(entry.value) ? this.src.seq(entry.value, '"inbound"').items : [entry.value];
    if (items.length === 0) throw this.src.error("GP_ERR_CONFIG_VALUE", entry?.value, '"inbound" must list at least one listener');
    const several = items.length > 1;
    return items.map((node, index) => {
      const what = several ? `inbound[${index}]` : "inbound";
      const f = node === null ? new Map<string, YamlEntry>() : this.src.fields(node, `"${what}"`, INBOUND_KEYS);
      const name = this.string(f.get("name"), `${what}.name`) ?? (several ? `inbound-${index}` : "inbound");
      const routesEntry = f.get("routes");
      let routes: RouteConfig[];
      if (routesEntry) {
        for (const key of ["upstream", "acl", "shadowAcl", "mode"] as const) {
          const clash = f.get(key);
          if (clash) throw this.src.error("GP_ERR_CONFIG_VALUE", clash.keyNode, `${what}.${key} cannot be combined with ${what}.routes (set it on each route)`);
        }
        const list = this.src.seq(routesEntry.value, `"${what}.routes"`).items;
        if (list.length === 0) throw this.src.error("GP_ERR_CONFIG_VALUE", routesEntry.value, `"${what}.routes" must list at least one route`);
        routes = list.map((routeNode, routeIndex) => this.route(routeNode, `${what}.routes[${routeIndex}]`, routeIndex));
      } else {
        routes = [
          {
            name,
            pathPrefix: "/",
            host: null,
            upstream: this.upstream(f.get("upstream"), `${what}.upstream`, DEFAULTS.inbound.upstream),
            acl: this.path(f.get("acl"), `${what}.acl`, DEFAULTS.inbound.acl),
            shadowAcl: this.optionalPath(f.get("shadowAcl"), `${what}.shadowAcl`),
            mode: this.mode(f.get("mode"), `${what}.mode`),
          },
        ];
      }
      return { name, listen: this.listen(f.get("listen"), `${what}.listen`, DEFAULTS.inbound.listen, "0.0.0.0"), protocols: this.protocols(f.get("protocols"), `${what}.protocols`), routes };
    });
  }

  /** A non-empty list of distinct ALPN ids guardpost speaks inbound, in order of preference. */
  private protocols(entry: YamlEntry | undefined, what: string): readonly InboundProtocol[] {
    if (!entry) return DEFAULTS.inbound.protocols;
    const items = this.src.seq(entry.value, what).items;
    if (items.length === 0) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must list at least one of ${INBOUND_PROTOCOLS.join(", ")}`);
    const seen: InboundProtocol[] = [];
    for (const item of items) {
      const text = this.src.string(item, `an item of ${what}`);
      if (!INBOUND_PROTOCOLS.includes(text as InboundProtocol)) {
        throw this.src.error("GP_ERR_CONFIG_VALUE", item, `${what} lists ${JSON.stringify(text)}; guardpost speaks ${INBOUND_PROTOCOLS.join(" and ")}`);
      }
      if (seen.includes(text as InboundProtocol)) throw this.src.error("GP_ERR_CONFIG_VALUE", item, `${what} lists ${text} twice`);
      seen.push(text as InboundProtocol);
    }
    return seen;
  }

  private route(node: Node | null, what: string, index: number): RouteConfig {
    const f = this.src.fields(node, `"${what}"`, ROUTE_KEYS, ["upstream", "acl"]);
    const prefixEntry = f.get("pathPrefix");
    const pathPrefix = this.string(prefixEntry, `${what}.pathPrefix`) ?? "/";
    if (!pathPrefix.startsWith("/") || (pathPrefix.length > 1 && pathPrefix.endsWith("/")) || pathPrefix.includes("//")) {
      throw this.src.error("GP_ERR_CONFIG_VALUE", prefixEntry?.value, `${what}.pathPrefix must start with / and not end with / (got ${JSON.stringify(pathPrefix)})`);
    }
    const host = this.string(f.get("host"), `${what}.host`);
    return {
      name: this.string(f.get("name"), `${what}.name`) ?? `route-${index}`,
      pathPrefix,
      host: host === undefined ? null : host.toLowerCase(),
      upstream: this.upstream(f.get("upstream"), `${what}.upstream`, ""),
      acl: this.path(f.get("acl"), `${what}.acl`, ""),
      shadowAcl: this.optionalPath(f.get("shadowAcl"), `${what}.shadowAcl`),
      mode: this.mode(f.get("mode"), `${what}.mode`),
    };
  }

  outbound(entry: YamlEntry | undefined): OutboundConfig[] {
    if (!entry || this.src.isNull(entry.value)) return [];
    return this.src.seq(entry.value, '"outbound"').items.map((node, index) => {
      const what = `outbound[${index}]`;
      const f = this.src.fields(node, `"${what}"`, OUTBOUND_KEYS, ["listen", "upstream"]);
      const upstreamEntry = f.get("upstream")!;
      const upstreamText = this.src.string(upstreamEntry.value, `${what}.upstream`);
      let url: URL;
      try {
        url = new URL(upstreamText);
      } catch {
        url = new URL("invalid:");
      }
      if (url.protocol !== "https:" || !isBareOrigin(url, upstreamText)) {
        throw this.src.error("GP_ERR_CONFIG_VALUE", upstreamEntry.value, `${what}.upstream must be an https:// origin such as https://db-01.internal:8443 (got ${JSON.stringify(upstreamText)})`);
      }
      const expectEntry = f.get("expect");
      // Same syntax and matcher as ACL principals (no groups: there is no `groups` section in a config file).
      const expect = expectEntry && !this.src.isNull(expectEntry.value) ? new PrincipalCompiler(this.src).list(expectEntry.value, `"${what}.expect"`) : [];
      const unsafeEntry = f.get("unsafeListen");
      const unsafeListen = unsafeEntry ? this.src.boolean(unsafeEntry.value, `${what}.unsafeListen`) : false;
      const listenEntry = f.get("listen")!;
      const listen = this.listen(listenEntry, `${what}.listen`, "", "127.0.0.1");
      // An outbound listener is plain HTTP that calls the upstream as this service: beyond loopback,
      // anyone who can reach it borrows the identity. Like ghostunnel's --unsafe-listen, only an explicit key allows it.
      if (!isLoopback(listen.host)) {
        const risk = `anything that can reach ${listen.text} can call ${url.origin} with this service's identity`;
        if (!unsafeListen) {
          throw this.src.error(
            "GP_ERR_CONFIG_VALUE",
            listenEntry.value,
            `${what}.listen ${listen.text} is not a loopback address: ${risk}. Listen on 127.0.0.1 or [::1], or set ${what}.unsafeListen: true if something else guards that address`,
          );
        }
        this.warnings.push({ code: "GP_WARN_OUTBOUND_NOT_LOOPBACK", message: `${what}.listen ${listen.text} is beyond loopback (allowed by ${what}.unsafeListen): ${risk}`, at: this.src.position(listenEntry.value) });
      }
      const preserveHost = f.get("preserveHost");
      return {
        name: this.string(f.get("name"), `${what}.name`) ?? `outbound-${index}`,
        listen,
        upstream: url.origin,
        serverName: this.string(f.get("serverName"), `${what}.serverName`) ?? url.hostname.replace(/^\[|\]$/g, ""),
        expect,
        unsafeListen,
        preserveHost: preserveHost ? this.src.boolean(preserveHost.value, `${what}.preserveHost`) : false,
      };
    });
  }

  admin(entry: YamlEntry | undefined): Config["admin"] {
    const f = this.fields(entry, '"admin"', ["listen"]);
    return { listen: this.listen(f.get("listen"), "admin.listen", DEFAULTS.admin.listen, "127.0.0.1") };
  }

  log(entry: YamlEntry | undefined): Config["log"] {
    const f = this.fields(entry, '"log"', ["level", "access"]);
    const access = f.get("access");
    return {
      level: this.choice(f.get("level"), "log.level", LOG_LEVELS, DEFAULTS.log.level),
      access: access ? this.src.boolean(access.value, "log.access") : DEFAULTS.log.access,
    };
  }

  limits(entry: YamlEntry | undefined): Limits {
    const f = this.fields(entry, '"limits"', LIMIT_KEYS);
    const out = {} as Record<keyof Limits, number>;
    for (const key of LIMIT_KEYS) {
      const fallback = DEFAULTS.limits[key];
      if (SIZE_LIMITS.has(key)) out[key] = this.size(f.get(key), `limits.${key}`, fallback);
      else if (COUNT_LIMITS.has(key)) out[key] = this.count(f.get(key), `limits.${key}`, fallback as number);
      else out[key] = this.duration(f.get(key), `limits.${key}`, fallback);
    }
    // Node keeps its count limit doubled in a 32-bit integer; past this the limit would wrap (and a request
    // this large is far beyond maxHeaderSize anyway).
    if (out.maxHeaderCount > MAX_HEADER_COUNT) {
      throw this.src.error("GP_ERR_CONFIG_VALUE", f.get("maxHeaderCount")?.value, `limits.maxHeaderCount must be at most ${MAX_HEADER_COUNT} (got ${out.maxHeaderCount})`);
    }
    // Node refuses to start a server whose headers may take longer than the whole request (0 disables either).
    if (out.requestTimeout > 0 && out.headersTimeout > out.requestTimeout) {
      const at = f.get("headersTimeout") ?? f.get("requestTimeout");
      throw this.src.error(
        "GP_ERR_CONFIG_VALUE",
        at?.value,
        `limits.headersTimeout (${formatDuration(out.headersTimeout)}) must not be longer than limits.requestTimeout (${formatDuration(out.requestTimeout)})`,
      );
    }
    return out;
  }

  workers(entry: YamlEntry | undefined): number {
    if (!entry) return DEFAULTS.workers;
    const value = this.src.scalarText(entry.value, "workers");
    if (value === "auto") return 0;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `workers must be a whole number from 1 to 64 or "auto" (got ${JSON.stringify(value)})`);
    return n;
  }

  duration(entry: YamlEntry | undefined, what: string, fallback: string | number): number {
    if (!entry) return parseDuration(fallback)!;
    const raw = this.src.scalarText(entry.value, what);
    const ms = parseDuration(/^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
    if (ms === undefined) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must be a duration such as 500ms, 10s, 2m or 1h (got ${JSON.stringify(raw)})`);
    return Math.min(Math.ceil(ms), MAX_TIMER_MS);
  }

  private size(entry: YamlEntry | undefined, what: string, fallback: string | number): number {
    if (!entry) return parseSize(fallback)!;
    const raw = this.src.scalarText(entry.value, what);
    const bytes = parseSize(/^\d+$/.test(raw) ? Number(raw) : raw);
    if (bytes !== undefined && !Number.isSafeInteger(bytes)) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} is too large (got ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw)})`);
    if (bytes === undefined || bytes < 1024) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must be a size of at least 1KiB such as 16KiB or 1MiB (got ${JSON.stringify(raw)})`);
    return bytes;
  }

  private count(entry: YamlEntry | undefined, what: string, fallback: number): number {
    if (!entry) return fallback;
    const n = this.src.number(entry.value, what);
    if (!Number.isInteger(n) || n < 1) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must be a whole number of at least 1 (got ${n})`);
    return n;
  }

  private string(entry: YamlEntry | undefined, what: string): string | undefined {
    if (!entry) return undefined;
    const value = this.src.string(entry.value, what);
    if (value === "") throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must not be empty`);
    return value;
  }

  private choice<T extends string>(entry: YamlEntry | undefined, what: string, allowed: readonly T[], fallback: T): T {
    if (!entry) return fallback;
    const value = this.src.string(entry.value, what);
    if (!allowed.includes(value as T)) throw this.src.error("GP_ERR_CONFIG_VALUE", entry.value, `${what} must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`);
    return value as T;
  }

  private mode(entry: YamlEntry | undefined, what: string): EnforcementMode | null {
    // null, like leaving the key out, defers to the ACL file's own mode.
    if (!entry || this.src.isNull(entry.value)) return null;
    return this.choice(entry, what, ["enforce", "audit"] as const, "enforce");
  }

  private path(entry: YamlEntry | undefined, what: string, fallback: string): string {
    const value = entry ? this.string(entry, what)! : fallback;
    const path = isAbsolute(value) ? value : resolve(this.dir, value);
    this.files.push({ key: what, path, at: entry ? this.src.position(entry.value) : null });
    return path;
  }

  /** A path that may be left out or null. */
  private optionalPath(entry: YamlEntry | undefined, what: string): string | null {
    return entry && !this.src.isNull(entry.value) ? this.path(entry, what, "") : null;
  }

  private listen(entry: YamlEntry | undefined, what: string, fallback: string, defaultHost: string): ListenAddress {
    if (!entry && fallback === "") throw this.src.error("GP_ERR_YAML_MISSING_KEY", null, `${what} is required`);
    const text = entry ? this.src.scalarText(entry.value, what) : fallback;
    this.addressNodes.set(what, entry?.value ?? null);
    const address = parseListen(text, defaultHost);
    if (!address) throw this.src.error("GP_ERR_CONFIG_VALUE", entry?.value, `${what} must be HOST:PORT or a port, such as 0.0.0.0:8443, [::1]:8443 or 8443 (got ${JSON.stringify(text)})`);
    return address;
  }

  private upstream(entry: YamlEntry | undefined, what: string, fallback: string): UpstreamTarget {
    const text = entry ? this.src.string(entry.value, what) : fallback;
    this.addressNodes.set(what, entry?.value ?? null);
    const target = parseUpstream(text, this.dir);
    if (!target) {
      throw this.src.error(
        "GP_ERR_CONFIG_VALUE",
        entry?.value,
        `${what} must be an http:// origin such as http://127.0.0.1:8080, an h2c:// origin (HTTP/2 without TLS, as gRPC servers listen), or unix:/path/app.sock (got ${JSON.stringify(text)})`,
      );
    }
    return target;
  }

  private isList(node: Node | null): boolean {
    return isSeq(this.src.resolve(node));
  }

  /**
   * Two listeners on one address would fail to bind at start-up (a wildcard
   * address overlaps every address of its family on that port); an inbound
   * route whose upstream is an inbound listener would send every request
   * back into guardpost. Both are refused here, where the line is known.
   */
  checkListeners(config: Config): void {
    const several = config.inbound.length > 1;
    const listeners: { key: string; address: ListenAddress }[] = [
      ...config.inbound.map((inbound, i) => ({ key: `${several ? `inbound[${i}]` : "inbound"}.listen`, address: inbound.listen })),
      ...config.outbound.map((outbound, i) => ({ key: `outbound[${i}].listen`, address: outbound.listen })),
      { key: "admin.listen", address: config.admin.listen },
    ];
    listeners.forEach((listener, index) => {
      if (listener.address.port === 0) return;
      const earlier = listeners.slice(0, index).find((other) => addressesOverlap(other.address, listener.address));
      if (earlier) {
        throw this.src.error(
          "GP_ERR_CONFIG_VALUE",
          this.addressNodes.get(listener.key),
          `${listener.key} ${listener.address.text} overlaps ${earlier.key} ${earlier.address.text}${this.where(earlier.key)}: two listeners cannot share an address; give each its own port`,
        );
      }
    });
    config.inbound.forEach((inbound, i) => {
      inbound.routes.forEach((route, r) => {
        if (route.upstream.kind !== "http") return;
        const url = new URL(route.upstream.origin);
        const upstream = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80), text: url.host };
        const self = listeners.slice(0, config.inbound.length).find((l) => l.address.port !== 0 && reachesListener(l.address, upstream));
        if (!self) return;
        const what = several ? `inbound[${i}]` : "inbound";
        const key = this.addressNodes.has(`${what}.routes[${r}].upstream`) ? `${what}.routes[${r}].upstream` : `${what}.upstream`;
        throw this.src.error(
          "GP_ERR_CONFIG_VALUE",
          this.addressNodes.get(key),
          `${key} ${route.upstream.text} is guardpost's own ${self.key} (${self.address.text}${this.where(self.key)}): every request would come back into guardpost. The upstream is your service's address, e.g. http://127.0.0.1:8080`,
        );
      });
    });
  }

  private where(key: string): string {
    const node = this.addressNodes.get(key);
    if (!node) return ", the default";
    const { line, col } = this.src.position(node);
    return `, at ${line}:${col}`;
  }
}

/**
 * Whether two listen addresses would fight over one socket: the same port
 * and the same host, or a wildcard (`0.0.0.0` takes every IPv4 address, `::`
 * every address on a dual-stack host) and an address it covers. `localhost`
 * stands for both loopback addresses; other names are compared as written,
 * since what they resolve to is not known here.
 */
function addressesOverlap(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  if (a.port !== b.port) return false;
  return hostsOf(a.host).some((x) => hostsOf(b.host).some((y) => x === y || covers(x, y) || covers(y, x)));
}

/**
 * Whether an upstream address reaches a listener of this process: only an
 * upstream on loopback (or at the listener's own host, as written) is
 * certain to; `10.0.0.5:8443` may well be another machine.
 */
function reachesListener(listen: { host: string; port: number }, upstream: { host: string; port: number }): boolean {
  if (listen.port !== upstream.port) return false;
  if (listen.host.toLowerCase() === upstream.host.toLowerCase()) return true;
  return isLoopback(upstream.host) && addressesOverlap(listen, upstream);
}

function hostsOf(host: string): string[] {
  return host === "localhost" ? ["127.0.0.1", "::1"] : [host.toLowerCase()];
}

function covers(wildcard: string, host: string): boolean {
  return (wildcard === "::" && isIP(host) !== 0) || (wildcard === "0.0.0.0" && isIP(host) === 4);
}

/** `0.0.0.0:8443`, `[::1]:8443`, `localhost:8443`, `8443` or `:8443` (on `defaultHost`). */
export function parseListen(text: string, defaultHost: string): ListenAddress | undefined {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  let host = match[1] ?? "";
  if (host.startsWith("[")) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return undefined;
  }
  return { host: host === "" ? defaultHost : host, port, text: text.trim() };
}

export function parseUpstream(text: string, dir: string): UpstreamTarget | undefined {
  if (text.startsWith("unix:")) {
    const socketPath = text.slice("unix:".length);
    if (socketPath === "") return undefined;
    return { kind: "unix", socketPath: isAbsolute(socketPath) ? socketPath : resolve(dir, socketPath), text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== "http:" && url.protocol !== "h2c:") || !isBareOrigin(url, text)) return undefined;
  if (url.protocol === "http:") return { kind: "http", origin: url.origin, text };
  // The URL parser gives no origin for a scheme it does not know; h2c is HTTP/2 to an http:// origin.
  return { kind: "h2c", origin: `http://${url.host}`, text };
}

/**
 * scheme://host[:port] and nothing else: no path, query, fragment or
 * credentials. The URL parser forgives `http:///host` and drops an empty
 * `@`, so the text is checked too.
 */
function isBareOrigin(url: URL, text: string): boolean {
  const authority = text.slice(text.indexOf("//") + 2);
  return (
    url.hostname !== "" &&
    (url.pathname === "/" || url.pathname === "") &&
    url.search === "" &&
    url.hash === "" &&
    url.username === "" &&
    url.password === "" &&
    !authority.startsWith("/") &&
    !/[@#?]/.test(authority)
  );
}

/** Loopback by its address (127.0.0.0/8, ::1 and its IPv4-mapped form) or the name localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || (isIP(h) === 4 && h.startsWith("127.")) || (isIP(h) === 6 && /^::ffff:127\./.test(h));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
