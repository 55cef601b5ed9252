/** Reading one series from a real /metrics endpoint. */
import { request } from "undici";

export async function metricsText(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  return res.body.text();
}

/** The value of `name{labels}` (labels must all match; others may exist), or 0 when the series is absent. */
export async function metricValue(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return valueIn(await metricsText(adminUrl), name, labels);
}

/** The sum of every series of `name` whose labels include `labels`. */
export async function metricSum(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const line of (await metricsText(adminUrl)).split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (matches(line.slice(name.length), labels)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

function matches(rest: string, labels: Record<string, string>): boolean {
  const labelText = rest.startsWith("{") ? rest.slice(1, rest.lastIndexOf("}")) : "";
  const found = new Map([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
  return Object.entries(labels).every(([k, v]) => found.get(k) === v);
}

function valueIn(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (matches(line.slice(name.length), labels)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

/** The value of `name{labels}` in an in-process Metrics registry (as metricValue reads it from /metrics). */
export async function metricsOf(metrics: { render(): Promise<string> }, name: string, labels: Record<string, string> = {}): Promise<number> {
  return valueIn(await metrics.render(), name, labels);
}
