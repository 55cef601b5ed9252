/** Binding a listener, with an error that names the listener and address. */
import type { Server as HttpServer } from "node:http";
import type { AddressInfo, Server } from "node:net";
import type { Limits, ListenAddress } from "../config/schema.js";
import { GuardpostError } from "../errors.js";

export function listenOn(server: Server, address: ListenAddress, description: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new GuardpostError("GP_ERR_LISTEN", `${description} cannot listen on ${address.text}: ${err.code ?? err.message}`));
    server.once("error", onError);
    server.listen(address.port, address.host, () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** How often a draining server looks for connections that finished their last response. */
const DRAIN_SWEEP_MS = 50;

/**
 * Stops accepting and closes keep-alive connections as soon as they are idle
 * (a connection busy when the drain began becomes idle when its response
 * ends); force-closes whatever is left after `timeoutMs`.
 */
export function drainServer(server: HttpServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * How often Node sweeps connections for headersTimeout and requestTimeout
 * (its default, 30 s, would let a slowloris client linger that long): often
 * enough for the header limit, at most once a second, and once a second when
 * the header limit is 0 (off), where Math.min would sweep every millisecond.
 */
export function connectionsCheckingInterval(limits: Pick<Limits, "headersTimeout">): number {
  return limits.headersTimeout > 0 ? Math.min(1000, limits.headersTimeout) : 1000;
}
