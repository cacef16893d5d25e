// "did you mean submit?": the nearest known name to what the member typed, by edit distance.

/** Levenshtein distance: the fewest one-character insertions, deletions or changes from a to b. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `names` to `typed`, or null when none is close enough to be what was meant. */
export function nearest(typed: string, names: string[]): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of names) {
    const d = editDistance(typed, name);
    if (!best || d < best.d) best = { name, d };
  }
  // a typo: at most a third of the word wrong (at least one character), or a prefix of the name
  if (best && best.d <= Math.max(1, Math.floor(typed.length / 3))) return best.name;
  return names.find((n) => typed.length >= 2 && n.startsWith(typed)) ?? null;
}
