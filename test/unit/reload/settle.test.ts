/**
 * A rotation seen half-written: a watcher-driven check that fails waits the
 * settle window before it reports. Files that settle into something valid
 * within it are one success, logged at info; a failure that outlasts it is
 * one error, logged at error; a forced check (SIGHUP) reports at once.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Metrics } from "../../../src/admin/metrics.js";
import { GuardpostError } from "../../../src/errors.js";
import { Reloadable } from "../../../src/reload/reloadable.js";
import { LogSink } from "../../helpers/log-sink.js";
import { tempDir } from "../../helpers/pki.js";

/** A unit of two files that must hold the same text, like a certificate and its key. */
function pair(settleMs: number) {
  const dir = tempDir();
  const files = { cert: join(dir, "cert"), key: join(dir, "key") };
  writeFileSync(files.cert, "1");
  writeFileSync(files.key, "1");
  const logs = new LogSink();
  const metrics = new Metrics({ processMetrics: false });
  const unit = new Reloadable<string>({
    kind: "tls",
    name: "pair",
    files: [files.cert, files.key],
    load: (read) => {
      const cert = read(files.cert);
      if (read(files.key) !== cert) throw new GuardpostError("GP_ERR_TLS_KEY", "the key does not match the certificate", { file: files.key });
      return cert;
    },
    logger: logs.logger("debug"),
    metrics,
    settleMs,
  });
  const count = async (result: string) => {
    const text = await metrics.registry.getSingleMetricAsString("guardpost_reloads_total");
    return Number(new RegExp(`kind="tls",result="${result}"} (\\d+)`).exec(text)?.[1]);
  };
  return { files, logs, unit, count };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a half-written rotation", () => {
  test("that settles within the window is one success at info, and no error", async () => {
    const { files, logs, unit, count } = pair(2000);
    await unit.start();
    writeFileSync(files.cert, "2");
    expect(await unit.check()).toBe("failed");
    expect(logs.find({ event: "reload_waiting" })).toHaveLength(1);
    expect(logs.find({ event: "reload_waiting" })[0]?.level).toBe("info");
    // Another look within the window, still torn: quiet.
    expect(await unit.check()).toBe("failed");
    writeFileSync(files.key, "2");
    expect(await unit.check()).toBe("swapped");
    expect(unit.current).toBe("2");
    expect(logs.find({ event: "reloaded" })[0]).toMatchObject({ level: "info", settled: true });
    expect(logs.records.filter((r) => r.level === "error")).toEqual([]);
    expect([await count("success"), await count("error")]).toEqual([1, 0]);
    unit.dispose();
  });

  test("that does not settle is reported once, at error, by the look at the end of the window", async () => {
    const { files, logs, unit, count } = pair(300);
    await unit.start();
    writeFileSync(files.cert, "2");
    expect(await unit.check()).toBe("failed");
    expect(await count("error")).toBe(0);
    await expect.poll(() => logs.find({ event: "reload_failed" }).length, { timeout: 3000 }).toBe(1);
    expect(logs.find({ event: "reload_failed" })[0]).toMatchObject({ level: "error", code: "GP_ERR_TLS_KEY", file: files.key });
    expect(await count("error")).toBe(1);
    expect(unit.current).toBe("1");
    // The same bad content is not reported again.
    await sleep(400);
    expect(await unit.check()).toBe("unchanged");
    expect(await count("error")).toBe(1);
  });

  test("a forced check (SIGHUP) reports a failure at once", async () => {
    const { files, logs, unit, count } = pair(5000);
    await unit.start();
    writeFileSync(files.cert, "2");
    expect(await unit.check(true)).toBe("failed");
    expect(logs.find({ event: "reload_waiting" })).toEqual([]);
    expect(logs.find({ event: "reload_failed" })).toHaveLength(1);
    expect(await count("error")).toBe(1);
  });

  test("without a settle window a failure is reported at once", async () => {
    const { files, unit, count } = pair(0);
    await unit.start();
    writeFileSync(files.cert, "2");
    expect(await unit.check()).toBe("failed");
    expect(await count("error")).toBe(1);
  });
});
