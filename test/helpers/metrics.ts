/** Reading one series from a real /metrics endpoint. */
import { request } from "undici";

export async function metricsText(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  return res.body.text();
}

/** The value of `name{labels}` (labels must all match; others may exist), or 0 when the series is absent. */
export async function metricValue(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await metricsText(adminUrl);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).startsWith("{") ? line.slice(name.length + 1, line.lastIndexOf("}")) : "";
    const found = new Map([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}
