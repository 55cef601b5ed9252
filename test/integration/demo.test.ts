import { describe, expect, test } from "vitest";
import { existsSync } from "node:fs";
import { runCliProcess, spawnCli } from "../helpers/spawn.js";

describe("guardpost demo (what npm start runs)", () => {
  test("runs the real proxy on a throwaway PKI and every sample call gets the expected answer", async () => {
    const result = await runCliProcess(["demo", "--once"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/OU=web,CN=web-01 +GET \/user +200 allowed +yes/);
    expect(result.stdout).toMatch(/OU=web,CN=web-01 +GET \/user \(HTTP\/2\) +200 allowed +yes/);
    expect(result.stdout).toMatch(/OU=marketing,CN=mkt-01 +DELETE \/user +403 denied +yes/);
    expect(result.stdout).toMatch(/\(no client certificate\) +GET \/user +connection refused \(no client certificate\) +yes/);
    expect(result.stdout).not.toMatch(/ NO \(expected/);
    // acl diff on the example ACL and its proposed next version.
    expect(result.stdout).toMatch(/^ {2}\+ OU=marketing may GET, HEAD \/user\/\{id\} {3}\(\S*acl\/example\.v2\.yaml:16:5 GET \/user\/\{id\}/m);
    expect(result.stdout).toMatch(/^ {2}- OU=web may no longer DELETE \/user /m);
    expect(result.stdout).toMatch(/curl --cacert \S+\/ca\.crt --cert \S+\/web\.crt --key \S+\/web\.key https:\/\/localhost:\d+\/user/);
  });

  test("keeps running until Ctrl-C, then stops cleanly and removes its temp dir", async () => {
    const demo = spawnCli(["demo"]);
    await expect.poll(() => demo.stdout, { timeout: 20_000 }).toContain("Running until Ctrl-C.");
    const dir = /certificates in (\S+)\):/.exec(demo.stdout)?.[1];
    expect(dir && existsSync(dir)).toBe(true);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    expect(existsSync(dir!)).toBe(false);
  });
});
