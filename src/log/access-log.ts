/**
 * The access log: one JSON line per request, written when the request
 * completes. What is fixed for a connection (listener, peer, remote address)
 * is prepared once per connection; a request adds only its own fields.
 *
 *   {"level":"info","time":...,"pid":...,"listener":"inbound",
 *    "peer":{"cn":"web-01","ou":["web"],"serial":"0A1B"},"remote":"10.1.2.3",
 *    "requestId":"...","protocol":"http1","method":"GET","path":"/user/42",
 *    "route":"inbound","entry":"GET /user/{id}","decision":"allow",
 *    "status":200,"durationMs":1.234,"msg":"request"}
 */
import { ATTRIBUTES, type PeerAttributes } from "../identity/attributes.js";
import type { Logger } from "./logger.js";

/** The peer as access lines show it: `cn` (the first CN), `ou` and every other attribute present as arrays, and the serial. */
export interface PeerLogFields {
  readonly cn?: string;
  readonly serial: string;
  readonly [attribute: string]: string | readonly string[] | undefined;
}

export interface ConnectionLogFields {
  readonly listener: string;
  readonly remote: string;
  /** Null on outbound listeners, where the client is the local service. */
  readonly peer: PeerLogFields | null;
}

export interface RequestLogFields {
  readonly requestId: string;
  readonly protocol: string;
  readonly method: string;
  readonly path: string;
  /** Empty when no route was chosen (the request was refused before routing). */
  readonly route: string;
  readonly entry: string | null;
  readonly decision: string;
  readonly status: number;
  readonly durationMs: number;
  /** The shadow ACL's decision, when the route has one. */
  readonly shadow?: { readonly decision: string; readonly entry: string | null } | undefined;
}

/** What a connection's lines share; made once per connection by `AccessLog.connection`. */
export interface AccessLogConnection {
  readonly logger: Logger;
}

export function peerLogFields(attributes: PeerAttributes, serial: string): PeerLogFields {
  const fields: Record<string, string | readonly string[]> = {};
  const cn = attributes.CN?.[0];
  if (cn !== undefined) fields.cn = cn;
  for (const attribute of ATTRIBUTES) {
    const values = attributes[attribute];
    if (attribute !== "CN" && values !== undefined) fields[attribute.toLowerCase()] = values;
  }
  fields.serial = serial;
  return fields as unknown as PeerLogFields;
}

export class AccessLog {
  constructor(private readonly logger: Logger) {}

  /** Once per connection: a child logger serializes the connection's fields once, not per line. */
  connection(fields: ConnectionLogFields): AccessLogConnection {
    return { logger: this.logger.child(fields.peer === null ? { listener: fields.listener, remote: fields.remote } : fields) };
  }

  request(conn: AccessLogConnection, fields: RequestLogFields): void {
    conn.logger.info(fields.route === "" ? { ...fields, route: undefined, entry: undefined } : fields, "request");
  }
}
