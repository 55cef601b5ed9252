/**
 * SRC= principals through a real guardpost: the client's source address,
 * read once per connection, combined with its certificate in one rule.
 */
import { connect } from "node:http2";
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient } from "../helpers/client.js";
import { createCa, type CertificateAuthority, type IssuedCertificate } from "../helpers/pki.js";
import { startProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const ACL = `
version: 1
groups:
  here: [SRC=127.0.0.0/8]
paths:
  /local:
    GET: [{OU: web, SRC: 127.0.0.1}]
  /remote:
    GET: [{OU: web, SRC: 10.0.0.0/8}]
  /group:
    GET: ["@here"]
  /v6only:
    GET: ["SRC=::/0"]
`;

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let web: IssuedCertificate;
let ops: IssuedCertificate;

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  web = await ca.issue({ cn: "web-01", ou: "web" });
  ops = await ca.issue({ cn: "ops-01", ou: "ops" });
});

describe("SRC principals on the wire", () => {
  test.each([
    ["an IPv4 listener", "127.0.0.1:0"],
    ["a dual-stack listener, where IPv4 clients arrive as ::ffff:127.0.0.1", "[::]:0"],
  ])("%s: the source and the certificate must both match", async (_name, listen) => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url, extra: { inbound: { listen, upstream: upstream.url, acl: "acl.yaml" } } });
    const url = `https://127.0.0.1:${proxy.port}`;
    const asWeb = mtlsClient(ca, web);
    const asOps = mtlsClient(ca, ops);
    const status = async (client: typeof asWeb, path: string) => (await client.request(`${url}${path}`)).status;
    expect(await status(asWeb, "/local")).toBe(200);
    expect(await status(asOps, "/local")).toBe(403);
    expect(await status(asWeb, "/remote")).toBe(403);
    expect(await status(asOps, "/group")).toBe(200);
    expect(await status(asWeb, "/v6only")).toBe(403);
    const lines = proxy.logs.find({ msg: "request", path: "/local" });
    expect(lines.map((l) => [l.decision, l.entry])).toEqual([
      ["allow", "GET /local"],
      ["deny", "GET /local"],
    ]);
    // What the socket reported, so the dual-stack case really exercised the mapped form.
    expect(lines[0]!.remote).toBe(listen.startsWith("[") ? "::ffff:127.0.0.1" : "127.0.0.1");
    await proxy.stop();
  });

  test("HTTP/2 streams are judged with the same source as HTTP/1.1 requests", async () => {
    const proxy = await startProxy({ ca, acl: ACL, upstream: upstream.url });
    const status = (cert: IssuedCertificate, path: string) =>
      new Promise<number>((resolve, reject) => {
        const session = connect(`https://localhost:${proxy.port}`, { ca: ca.cert, cert: cert.chain, key: cert.key });
        session.on("error", reject);
        const stream = session.request({ ":method": "GET", ":path": path });
        stream.on("response", (headers) => {
          stream.resume();
          stream.on("end", () => session.close(() => resolve(Number(headers[":status"]))));
        });
        stream.on("error", reject);
      });
    expect(await status(web, "/local")).toBe(200);
    expect(await status(ops, "/local")).toBe(403);
    expect(await status(web, "/remote")).toBe(403);
    expect(proxy.logs.find({ msg: "request", path: "/local" }).map((l) => l.protocol)).toEqual(["h2", "h2"]);
    await proxy.stop();
  });
});
