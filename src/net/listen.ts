/** Binding a listener, with an error that names the listener and address. */
import type { AddressInfo, Server } from "node:net";
import type { ListenAddress } from "../config/schema.js";
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
