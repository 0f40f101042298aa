/** Small, pure statistics helpers for the benchmark (unit-tested in test/unit/bench). */

/**
 * The p-th percentile (0–100) of the samples, by linear interpolation between closest ranks
 * (the "R-7" definition used by numpy and spreadsheets). NaN for no samples.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0–100`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const low = sorted[lo]!;
  const high = sorted[hi]!;
  return low + (high - low) * (rank - lo);
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((s, x) => s + x, 0) / samples.length;
}

/** Fisher–Yates with an injectable random source (tests pass a fixed one). */
export function shuffle<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A number for a table cell: fixed decimals, or an en dash for missing values. */
export function fmt(n: number | null | undefined, decimals = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n.toFixed(decimals);
}
