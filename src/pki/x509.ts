/**
 * The one entry to @peculiar/x509. Its dependency tsyringe needs the Reflect
 * metadata polyfill loaded first, and the library needs a WebCrypto provider;
 * importing x509 from here guarantees both.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
