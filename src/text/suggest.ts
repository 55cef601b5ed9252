/**
 * "Did you mean": the closest of a few known words to a mistyped one, for
 * unknown CLI options, commands and config keys. Damerau-Levenshtein
 * (optimal string alignment) distance, so a swapped pair of letters
 * (`conifg` -> `config`) costs one edit, as it does for the person typing.
 */

/** Edit distance with insertions, deletions, substitutions and swaps of neighbours, all cost 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The candidate closest to `word` (case-insensitively), when it is close
 * enough to be a typo rather than another word: at most a third of the
 * longer word's letters differ (and at most 3), or one is a prefix of the other.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    if (other === lower) return candidate;
    const distance = editDistance(lower, other);
    const allowed = Math.min(3, Math.max(1, Math.floor(Math.max(lower.length, other.length) / 3)));
    const prefix = lower.length >= 3 && (other.startsWith(lower) || lower.startsWith(other));
    if ((distance <= allowed || prefix) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
