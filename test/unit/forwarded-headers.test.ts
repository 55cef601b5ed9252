import { describe, expect, test } from "vitest";
import { upstreamHost, upstreamRequestHeaders } from "../../src/http/forwarded-headers.js";

describe("the Host an outbound listener sends", () => {
  test.each([
    ["https://10.0.0.5:8443", "db-01.internal", "db-01.internal:8443"],
    ["https://db-01.internal", "db-01.internal", "db-01.internal"],
    ["https://db-01.internal:443", "db-01.internal", "db-01.internal"],
    ["https://[::1]:8443", "::1", "[::1]:8443"],
    ["https://127.0.0.1:9443", "127.0.0.1", "127.0.0.1:9443"],
  ])("upstream %s with serverName %s sends Host %s (the port left out when it is 443)", (upstream, serverName, host) => {
    expect(upstreamHost({ upstream: new URL(upstream).origin, serverName, preserveHost: false })).toBe(host);
  });

  test("preserveHost sends none of its own: the client's passes", () => {
    expect(upstreamHost({ upstream: "https://db:8443", serverName: "db", preserveHost: true })).toBeNull();
    const headers = upstreamRequestHeaders(["Host", "127.0.0.1:9001", "X-A", "1"], undefined, { remoteAddress: null, xfcc: null, requestId: "r", host: null });
    expect(headers.slice(0, 4)).toEqual(["Host", "127.0.0.1:9001", "X-A", "1"]);
  });

  test("with a host given, every copy of the client's Host, in any case, is replaced by exactly one", () => {
    const headers = upstreamRequestHeaders(["Host", "127.0.0.1:9001", "HOST", "evil", "X-A", "1"], undefined, { remoteAddress: null, xfcc: null, requestId: "r", host: "db:8443" });
    const hosts = headers.filter((_, i) => i % 2 === 0 && headers[i]!.toLowerCase() === "host").length;
    expect(hosts).toBe(1);
    expect(headers.slice(0, 4)).toEqual(["host", "db:8443", "X-A", "1"]);
  });
});
