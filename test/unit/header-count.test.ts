import { describe, expect, test } from "vitest";
import { headerCountExceeded, nodeMaxHeadersCount } from "../../src/http/header-count.js";

const fields = (n: number) => Array.from({ length: n }, (_, i) => [`x-${i}`, "v"]).flat();

describe("the header count check", () => {
  test.each([
    [0, 100, false],
    [100, 100, false],
    [101, 100, true],
    [1, 1, false],
    [2, 1, true],
  ])("%i fields against a limit of %i: exceeded is %s", (count, max, exceeded) => {
    expect(headerCountExceeded(fields(count), max)).toBe(exceeded);
  });

  test("Node is set one above the limit, so a list it cuts still shows as over the limit", () => {
    for (const max of [1, 100, 99_999]) {
      const kept = fields(nodeMaxHeadersCount(max));
      expect(headerCountExceeded(kept, max)).toBe(true);
    }
  });
});
