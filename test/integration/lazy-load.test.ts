/**
 * Features that are off cost nothing at start-up: @peculiar/x509 (with
 * reflect-metadata and tsyringe, about 100 ms and 10 MiB to load) is needed
 * only to validate a CRL, so `guardpost serve` loads it only when one is
 * configured; the proxy needs undici's Pool and connector, not its index.
 * Checked in the real process: a preload script reports, at exit, whether
 * each module was ever required.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCa, tempDir } from "../helpers/pki.js";
import { serveProxy } from "../helpers/proxy.js";

const ACL = "version: 1\npaths:\n  /x:\n    GET: [OU=web]\n";

/** A --require preload that prints whether @peculiar/x509 was loaded, when the process exits. */
function modulesReport(): string {
  const file = join(tempDir(), "report-modules.cjs");
  writeFileSync(
    file,
    [
      'const loaded = (part) => Object.keys(require.cache).some((k) => k.includes(part));',
      'process.on("exit", () => process.stderr.write("x509-loaded=" + loaded("@peculiar/x509") + " undici-index-loaded=" + loaded("undici/index.js") + "\\n"));',
      "",
    ].join("\n"),
  );
  return file;
}

async function modulesLoadedByServe(crl: boolean): Promise<{ x509: string; undiciIndex: string }> {
  const ca = await createCa();
  const served = await serveProxy({ ca, acl: ACL, upstream: "http://127.0.0.1:9", ...(crl ? { crl: await ca.crl([]) } : {}), nodeArgs: ["--require", modulesReport()] });
  const ready = await fetch(`${served.adminUrl}/readyz`);
  expect(ready.status).toBe(200);
  served.proc.child.kill("SIGTERM");
  expect(await served.proc.exited).toBe(0);
  const report = /x509-loaded=(\w+) undici-index-loaded=(\w+)/.exec(served.proc.stderr);
  if (!report) throw new Error(`no report in stderr: ${served.proc.stderr}`);
  return { x509: report[1]!, undiciIndex: report[2]! };
}

describe("start-up loads only what the config uses", () => {
  it("serve without a CRL never loads @peculiar/x509, nor undici's index (fetch, WebSocket, mocks)", async () => {
    expect(await modulesLoadedByServe(false)).toEqual({ x509: "false", undiciIndex: "false" });
  });

  it("serve with a CRL loads it and validates the CRL", async () => {
    expect((await modulesLoadedByServe(true)).x509).toBe("true");
  });
});
