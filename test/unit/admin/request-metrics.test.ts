import { describe, expect, test } from "vitest";
import { AggregatorRegistry } from "prom-client";
import { Metrics } from "../../../src/admin/metrics.js";

function sample(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe("per-request metrics counted in plain numbers", () => {
  test("counts are exact and are not added twice by repeated scrapes", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const inbound = metrics.forListener("inbound");
    for (let i = 0; i < 5; i++) inbound.request("GET", "allow", 200, "http1");
    inbound.request("DELETE", "deny", 403, "h2");
    inbound.request("FROBNICATE", "error", 400, "grpc");
    const first = await metrics.render();
    expect(sample(first, 'guardpost_requests_total{listener="inbound",method="GET",decision="allow",code="200",protocol="http1"}')).toBe(5);
    expect(sample(first, 'guardpost_requests_total{listener="inbound",method="DELETE",decision="deny",code="403",protocol="h2"}')).toBe(1);
    expect(sample(first, 'guardpost_requests_total{listener="inbound",method="OTHER",decision="error",code="400",protocol="grpc"}')).toBe(1);
    inbound.request("GET", "allow", 200, "http1");
    const second = await metrics.render();
    expect(sample(second, 'guardpost_requests_total{listener="inbound",method="GET",decision="allow",code="200",protocol="http1"}')).toBe(6);
    expect(sample(await metrics.render(), 'guardpost_requests_total{listener="inbound",method="GET",decision="allow",code="200",protocol="http1"}')).toBe(6);
  });

  test("the duration histogram renders cumulative buckets, sum and count", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const { duration } = metrics.forListener("edge");
    for (const seconds of [0.0001, 0.0007, 0.003, 0.003, 42]) duration.observe(seconds);
    const text = await metrics.render();
    const bucket = (le: string) => sample(text, `guardpost_request_duration_seconds_bucket{listener="edge",le="${le}"}`);
    expect(bucket("0.0005")).toBe(1);
    expect(bucket("0.001")).toBe(2);
    expect(bucket("0.0025")).toBe(2);
    expect(bucket("0.005")).toBe(4);
    expect(bucket("10")).toBe(4);
    expect(bucket("+Inf")).toBe(5);
    expect(sample(text, 'guardpost_request_duration_seconds_count{listener="edge"}')).toBe(5);
    expect(sample(text, 'guardpost_request_duration_seconds_sum{listener="edge"}')).toBeCloseTo(42.0068, 6);
    expect(text).toContain("# TYPE guardpost_request_duration_seconds histogram");
  });

  test("entry decisions get a series per route, entry and decision, created on first use", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const inbound = metrics.forListener("inbound");
    inbound.entryDecision("default", "GET /user/{id}", "allow");
    inbound.entryDecision("default", "GET /user/{id}", "allow");
    inbound.entryDecision("default", null, "deny");
    const text = await metrics.render();
    expect(sample(text, 'guardpost_acl_decisions_total{listener="inbound",route="default",entry="GET /user/{id}",decision="allow"}')).toBe(2);
    expect(sample(text, 'guardpost_acl_decisions_total{listener="inbound",route="default",entry="none",decision="deny"}')).toBe(1);
    expect(text).not.toContain('decision="would_deny"');
  });

  test("shadow decisions get a series per route, decision and agreement with the ACL in force", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const inbound = metrics.forListener("inbound");
    inbound.shadowDecision("default", true, true);
    inbound.shadowDecision("default", false, false);
    inbound.shadowDecision("default", false, false);
    const text = await metrics.render();
    expect(sample(text, 'guardpost_shadow_decisions_total{listener="inbound",route="default",decision="allow",agrees="true"}')).toBe(1);
    expect(sample(text, 'guardpost_shadow_decisions_total{listener="inbound",route="default",decision="deny",agrees="false"}')).toBe(2);
    expect(text).not.toContain('agrees="true",decision="deny"');
  });

  test("workers' counts and histograms add up in the cluster aggregate", async () => {
    const workers = [new Metrics({ processMetrics: false }), new Metrics({ processMetrics: false })];
    workers.forEach((metrics, i) => {
      const inbound = metrics.forListener("inbound");
      for (let n = 0; n <= i; n++) {
        inbound.request("GET", "allow", 200, "http1");
        inbound.duration.observe(0.002);
      }
    });
    const aggregate = AggregatorRegistry.aggregate(await Promise.all(workers.map((m) => m.registry.getMetricsAsJSON())));
    const text = await aggregate.metrics();
    expect(sample(text, 'guardpost_requests_total{listener="inbound",method="GET",decision="allow",code="200",protocol="http1"}')).toBe(3);
    expect(sample(text, 'guardpost_request_duration_seconds_bucket{listener="inbound",le="0.0025"}')).toBe(3);
    expect(sample(text, 'guardpost_request_duration_seconds_count{listener="inbound"}')).toBe(3);
  });
});
