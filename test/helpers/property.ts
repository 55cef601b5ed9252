/**
 * fast-check parameters for every property test in the suite, so each one
 * can be replayed and scaled the same way.
 *
 * Reproducing a failure: fast-check prints `seed` and `path` with the
 * counterexample; `FUZZ_SEED=<seed> npx vitest run <file>` replays the same
 * inputs (the path is then only needed to skip straight to the shrunk case).
 * `FUZZ_SCALE=10` runs ten times as many cases, for a longer local hunt;
 * `FUZZ_SCALE=0.1` a tenth, for a quick pass.
 */
import type fc from "fast-check";

const seedText = process.env.FUZZ_SEED;
const scale = Number(process.env.FUZZ_SCALE ?? "1");

/** fast-check parameters: `numRuns` times FUZZ_SCALE (at least 1), and FUZZ_SEED's seed when set. */
export function fuzzParams<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const runs = Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
  const params: fc.Parameters<T> = { numRuns: runs, ...extra };
  if (seedText !== undefined && seedText !== "") params.seed = Number(seedText);
  return params;
}
