/**
 * The least-privilege workflow end to end through real guardposts and real
 * mTLS clients: observe in audit mode, `acl suggest` on the access log,
 * `acl diff` against the audit ACL, `acl test` on the generated cases, then
 * enforce the suggestion and replay: everything observed is still allowed,
 * and a call outside the observed set is denied.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { mtlsClient, type MtlsClient } from "../helpers/client.js";
import { runCli } from "../helpers/cli.js";
import { createCa, tempDir, type CertificateAuthority } from "../helpers/pki.js";
import { startProxy } from "../helpers/proxy.js";
import { startUpstream, type RecordingUpstream } from "../helpers/upstream.js";

const AUDIT_ACL = `version: 1
mode: audit
paths:
  /**:
    "*": [OU=ops]
`;

/** What each caller does in production: [caller, method, path]. */
const TRAFFIC: readonly (readonly [string, string, string])[] = [
  ["web", "GET", "/user/42"],
  ["web", "GET", "/user/7"],
  ["web", "GET", "/user/3fa85f64-5717-4562-b3fc-2c963f66afa6"],
  ["web", "POST", "/user"],
  ["payments", "GET", "/user/42/balance"],
  ["payments", "PUT", "/user/9/balance"],
  ["ops", "DELETE", "/cache"],
  ["web", "GET", "/static/logo.png"],
];

let ca: CertificateAuthority;
let upstream: RecordingUpstream;
let clients: Map<string, MtlsClient>;

beforeAll(async () => {
  ca = await createCa();
  upstream = await startUpstream();
  clients = new Map();
  for (const ou of ["web", "payments", "ops"]) clients.set(ou, mtlsClient(ca, await ca.issue({ cn: `${ou}-01`, ou })));
});

async function drive(url: string, calls: readonly (readonly [string, string, string])[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const [caller, method, path] of calls) statuses.push((await clients.get(caller)!.request(`${url}${path}`, { method })).status);
  return statuses;
}

describe("observe -> suggest -> diff -> test -> enforce", () => {
  test("the suggested ACL, enforced, allows every observed call and denies one outside them", async () => {
    const dir = tempDir();
    // Observe: audit mode forwards everything and logs would_deny for what the ACL refuses.
    const audit = await startProxy({ ca, acl: AUDIT_ACL, upstream: upstream.url });
    expect(await drive(audit.url, TRAFFIC)).toEqual(TRAFFIC.map(() => 200));
    await audit.stop();
    const log = join(dir, "access.log");
    // The sink holds every line guardpost wrote (debug lines, start-up, the access lines): suggest must pick the access lines.
    writeFileSync(log, `${audit.logs.text()}\n`);
    expect(audit.logs.find({ msg: "request", decision: "would_deny" }).length).toBe(TRAFFIC.length - 1);

    // Suggest, with policy tests.
    const suggested = await runCli("acl", "suggest", "--from", log, "--tests", join(dir, "service.test.yaml"));
    expect(suggested.code).toBe(0);
    const aclFile = join(dir, "service.yaml");
    writeFileSync(aclFile, suggested.stdout);
    expect(suggested.stdout).toMatch(/^ {2}\/user\/\{id\}:$/m);
    expect(suggested.stdout).toMatch(/^ {2}\/user\/\{id\}\/balance:$/m);
    expect(suggested.stdout).not.toContain("**");
    expect((await runCli("acl", "check", aclFile)).code).toBe(0);

    // Review: against the audit ACL, the suggestion only narrows.
    writeFileSync(join(dir, "audit.yaml"), AUDIT_ACL);
    const diff = await runCli("acl", "diff", "--fail-on", "widen", join(dir, "audit.yaml"), aclFile);
    expect(diff.stdout).toMatch(/^- mode audit -> enforce/m);
    expect(diff.stdout).toMatch(/^\+ OU=web may GET, HEAD \/user\/\{id\}/m);

    // Test.
    const tested = await runCli("acl", "test", join(dir, "service.test.yaml"));
    expect(tested.stdout).toMatch(/^\d+ passed, 0 failed\n$/);
    expect(readFileSync(join(dir, "service.test.yaml"), "utf8")).toMatch(/expect: deny/);

    // Enforce: replay the same traffic, then calls outside the observed set.
    const enforce = await startProxy({ ca, acl: suggested.stdout, upstream: upstream.url });
    expect(await drive(enforce.url, TRAFFIC)).toEqual(TRAFFIC.map(() => 200));
    expect(await drive(enforce.url, [["web", "DELETE", "/user/42"], ["payments", "GET", "/user/42"], ["web", "GET", "/static/other.css"], ["ops", "GET", "/cache"]])).toEqual([403, 403, 403, 403]);
    await enforce.stop();
  });
});
