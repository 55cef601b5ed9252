/**
 * Choosing the route for a request: a gateway listener has several, each with
 * its own upstream and ACL; a sidecar has one. The most specific route wins:
 * a route for the request's host before a route for any host, then the
 * longest path prefix. Prefixes match whole segments (`/api` matches `/api`
 * and `/api/x`, never `/apix`).
 */
import type { CompiledAcl } from "../acl/compile.js";
import type { RouteConfig } from "../config/schema.js";
import type { Reloadable } from "../reload/reloadable.js";
import type { Upstream } from "../upstream/upstream.js";

export interface Route {
  readonly config: RouteConfig;
  readonly name: string;
  readonly acl: Reloadable<CompiledAcl>;
  /** An ACL decided alongside `acl` and recorded, never enforced (a policy change rehearsed on real traffic). */
  readonly shadow: Reloadable<CompiledAcl> | null;
  readonly upstream: Upstream;
}

export class RouteTable {
  private readonly ordered: readonly Route[];
  /** A sidecar's single catch-all route: no matching to do. */
  readonly only: Route | null;

  constructor(routes: readonly Route[]) {
    this.ordered = [...routes].sort((a, b) => {
      if ((a.config.host === null) !== (b.config.host === null)) return a.config.host === null ? 1 : -1;
      return b.config.pathPrefix.length - a.config.pathPrefix.length;
    });
    const [first] = routes;
    this.only = routes.length === 1 && first!.config.host === null && first!.config.pathPrefix === "/" ? first! : null;
  }

  /** `host` is the Host header (any case, port allowed); `path` is normalized. */
  select(host: string | undefined, path: string): Route | null {
    if (this.only) return this.only;
    const hostname = host === undefined ? null : stripPort(host.toLowerCase());
    for (const route of this.ordered) {
      const { host: routeHost, pathPrefix } = route.config;
      if (routeHost !== null && routeHost !== hostname) continue;
      if (pathPrefix === "/" || path === pathPrefix || (path.startsWith(pathPrefix) && path.charCodeAt(pathPrefix.length) === 0x2f)) return route;
    }
    return null;
  }
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}
