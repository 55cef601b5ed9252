/**
 * The cluster's restart rules, without processes: time is an argument.
 */
import { describe, expect, test } from "vitest";
import { RestartPolicy, type RestartPolicyOptions } from "../../../src/runtime/restart-policy.js";

const OPTIONS: RestartPolicyOptions = { baseDelayMs: 1000, maxDelayMs: 30_000, stableAfterMs: 60_000, maxExits: 10, windowMs: 600_000 };
const ready = { wasReady: true };

function readyPolicy(options = OPTIONS): RestartPolicy {
  const policy = new RestartPolicy(options);
  policy.markClusterReady();
  return policy;
}

describe("RestartPolicy", () => {
  test("a worker that exits before the cluster was ever ready stops everything: the cause would repeat", () => {
    const policy = new RestartPolicy(OPTIONS);
    expect(policy.onExit({ wasReady: false }, 200, 0)).toMatchObject({ action: "stop" });
  });

  test("a worker that had been ready is restarted even while the others are still starting", () => {
    const policy = new RestartPolicy(OPTIONS);
    expect(policy.onExit(ready, 90_000, 0)).toEqual({ action: "restart", delayMs: 1000, reason: "first exit after a stable run" });
  });

  test("once the cluster is ready, a replacement that dies before it is ready is restarted with backoff, not fatal", () => {
    const policy = readyPolicy();
    expect(policy.onExit(ready, 120_000, 0)).toMatchObject({ action: "restart", delayMs: 1000 });
    expect(policy.onExit({ wasReady: false }, 300, 2_000)).toMatchObject({ action: "restart", delayMs: 2000 });
  });

  test("exits in a row double the delay up to the cap", () => {
    const policy = readyPolicy();
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 8; i++) {
      const decision = policy.onExit(ready, 100, now);
      if (decision.action !== "restart") throw new Error(`stopped at exit ${i + 1}`);
      delays.push(decision.delayMs);
      now += 100_000; // far apart, so the window does not fill
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  test("a worker that stayed up for stableAfterMs resets the doubling", () => {
    const policy = readyPolicy();
    policy.onExit(ready, 100, 0);
    policy.onExit(ready, 100, 100_000);
    expect(policy.onExit(ready, 100, 200_000)).toMatchObject({ delayMs: 4000 });
    expect(policy.onExit(ready, 60_000, 300_000)).toMatchObject({ delayMs: 1000 });
  });

  test("more than maxExits exits within the window stop the cluster, so the supervisor above sees the failure", () => {
    const policy = readyPolicy({ ...OPTIONS, maxExits: 3, windowMs: 60_000 });
    expect(policy.onExit(ready, 100, 0).action).toBe("restart");
    expect(policy.onExit(ready, 100, 10_000).action).toBe("restart");
    expect(policy.onExit(ready, 100, 20_000).action).toBe("restart");
    expect(policy.onExit(ready, 100, 30_000)).toEqual({ action: "stop", reason: "4 worker exits within 1 minute" });
  });

  test("exits older than the window no longer count towards the limit", () => {
    const policy = readyPolicy({ ...OPTIONS, maxExits: 2, windowMs: 60_000 });
    policy.onExit(ready, 100, 0);
    policy.onExit(ready, 100, 10_000);
    expect(policy.onExit(ready, 100, 70_001).action).toBe("restart");
  });
});
