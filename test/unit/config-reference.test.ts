/**
 * The README's configuration reference shows every default from the one
 * DEFAULTS table (src/config/schema.ts), so the docs cannot drift from what
 * the loader does when a key is left out.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { DEFAULTS } from "../../src/config/schema.js";

function referenceBlock(): Record<string, unknown> {
  const readme = readFileSync("README.md", "utf8");
  const section = readme.indexOf("## Configuration reference");
  expect(section, "README.md has no Configuration reference section").toBeGreaterThan(-1);
  const start = readme.indexOf("```yaml\n", section);
  const end = readme.indexOf("```\n", start + 8);
  return parse(readme.slice(start + 8, end)) as Record<string, unknown>;
}

describe("the README's configuration reference", () => {
  const shown = referenceBlock();

  test("shows each default of the DEFAULTS table, with the same value", () => {
    expect(shown.tls).toEqual(DEFAULTS.tls);
    expect(shown.inbound).toMatchObject(DEFAULTS.inbound);
    expect(shown.admin).toEqual(DEFAULTS.admin);
    expect(shown.log).toEqual(DEFAULTS.log);
    expect(shown.limits).toEqual(DEFAULTS.limits);
    expect(shown.drainTimeout).toBe(DEFAULTS.drainTimeout);
    expect(shown.workers).toBe(DEFAULTS.workers);
  });
});
