/** "Did you mean": the nearest allowed word to a misspelled one, by edit distance. Pure. */

/** Levenshtein distance, case-insensitive, with `_` and `-` counted alike. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase().replace(/_/g, "-");
  const y = b.toLowerCase().replace(/_/g, "-");
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    row = next;
  }
  return row[y.length]!;
}

/** The candidate nearest to `word` when it is close enough to be a slip (at most a third of its length, or 2). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (!best || d < best.d) best = { candidate, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c ? ` (did you mean "${c}"?)` : "";
}
