/**
 * Reloadable: prepare, then commit. These drive it with real files and a
 * loader that derives a value from them, and watch what it commits, logs and
 * counts.
 */
import { describe, expect, test } from "vitest";
import { Metrics } from "../../../src/admin/metrics.js";
import { GuardpostError } from "../../../src/errors.js";
import { Reloadable, type ReadFile } from "../../../src/reload/reloadable.js";
import { LogSink } from "../../helpers/log-sink.js";
import { metricsOf } from "../../helpers/metrics.js";
import { tempDir, writeFiles } from "../../helpers/pki.js";

interface Derived {
  readonly text: string;
  /** How many values came before this one: what carries over from `previous`. */
  readonly generation: number;
}

function setup(initial = "one") {
  const dir = tempDir();
  const { unit } = writeFiles(dir, { unit: initial });
  const logs = new LogSink();
  const metrics = new Metrics({ processMetrics: false });
  const loads: (Derived | undefined)[] = [];
  const reloadable = new Reloadable<Derived>({
    kind: "acl",
    name: unit,
    files: [unit],
    load: (read: ReadFile, previous) => {
      loads.push(previous);
      const text = read(unit);
      if (text.startsWith("bad")) throw new GuardpostError("GP_ERR_YAML_SYNTAX", "refused by the test loader", { file: unit });
      if (text.startsWith("crash")) throw new TypeError("the loader itself failed");
      return { text, generation: (previous?.generation ?? -1) + 1 };
    },
    logger: logs.logger("debug"),
    metrics,
  });
  const write = (text: string) => writeFiles(dir, { unit: text });
  return { reloadable, write, logs, metrics, loads, unit };
}

describe("Reloadable: prepare, then commit", () => {
  test("a changed, valid file is loaded with the value in service as `previous`, then committed", async () => {
    const { reloadable, write, loads } = setup();
    expect(await reloadable.start()).toEqual({ text: "one", generation: 0 });
    write("two");
    expect(await reloadable.check()).toBe("swapped");
    expect(reloadable.current).toEqual({ text: "two", generation: 1 });
    expect(loads).toEqual([undefined, { text: "one", generation: 0 }]);
  });

  test("unchanged content is not loaded again unless forced (SIGHUP)", async () => {
    const { reloadable, loads } = setup();
    await reloadable.start();
    expect(await reloadable.check()).toBe("unchanged");
    expect(loads).toHaveLength(1);
    expect(await reloadable.check(true)).toBe("swapped");
    expect(loads).toHaveLength(2);
  });

  test("invalid content keeps the value in service, is logged with the file and counted, and is not retried until it changes", async () => {
    const { reloadable, write, logs, metrics, unit } = setup();
    await reloadable.start();
    write("bad content");
    expect(await reloadable.check()).toBe("failed");
    expect(reloadable.current.text).toBe("one");
    expect(logs.find({ event: "reload_failed", file: unit, code: "GP_ERR_YAML_SYNTAX" })).toHaveLength(1);
    expect(await metricsOf(metrics, "guardpost_reloads_total", { kind: "acl", result: "error" })).toBe(1);
    expect(await reloadable.check()).toBe("unchanged");
    write("three");
    expect(await reloadable.check()).toBe("swapped");
    expect(reloadable.current.text).toBe("three");
  });

  test("a loader that throws something unexpected, or a file that vanished, is a failed check, never a rejection", async () => {
    const { reloadable, write, unit } = setup();
    await reloadable.start();
    write("crash now");
    await expect(reloadable.check()).resolves.toBe("failed");
    const { rmSync } = await import("node:fs");
    rmSync(unit);
    await expect(reloadable.check()).resolves.toBe("failed");
    expect(reloadable.current.text).toBe("one");
  });

  test("a subscriber that throws is logged and counted; the value stays committed and the other subscribers still hear of it", async () => {
    const { reloadable, write, logs, metrics } = setup();
    await reloadable.start();
    const heard: string[] = [];
    reloadable.subscribe((next) => heard.push(`first ${next.text}`));
    reloadable.subscribe(() => {
      throw new Error("this listener cannot apply it");
    });
    reloadable.subscribe((next, previous) => heard.push(`third ${previous.text}->${next.text}`));
    write("two");
    expect(await reloadable.check()).toBe("swapped");
    expect(reloadable.current.text).toBe("two");
    expect(heard).toEqual(["first two", "third one->two"]);
    expect(logs.find({ event: "reload_apply_failed", kind: "acl" })).toHaveLength(1);
    expect(await metricsOf(metrics, "guardpost_reload_apply_errors_total", { kind: "acl" })).toBe(1);
    expect(await metricsOf(metrics, "guardpost_reloads_total", { kind: "acl", result: "success" })).toBe(1);
  });

  test("an unsubscribed subscriber hears of no later commit", async () => {
    const { reloadable, write } = setup();
    await reloadable.start();
    const heard: string[] = [];
    const stop = reloadable.subscribe((next) => heard.push(next.text));
    write("two");
    await reloadable.check();
    stop();
    write("three");
    await reloadable.check();
    expect(heard).toEqual(["two"]);
  });

  test("checks run one at a time, in order", async () => {
    const { reloadable, write } = setup();
    await reloadable.start();
    write("two");
    const results = await Promise.all([reloadable.check(), reloadable.check(), reloadable.check(true)]);
    expect(results).toEqual(["swapped", "unchanged", "swapped"]);
    expect(reloadable.current.generation).toBe(2);
  });
});
