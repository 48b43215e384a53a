/**
 * Small, pure statistics for leaderboards: intervals of a proportion and of a mean, with the
 * seeded PRNG the runner's paired bootstrap uses, so every figure is reproducible.
 */
import { mulberry32 } from './random';

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
  /** two-sided p-value for "mean = 0" */
  p: number;
  n: number;
}

/** Wilson score interval of a proportion `p` observed on `n` rows (95% for z = 1.96). */
export function wilson(p: number, n: number, z = 1.959964): [number, number] {
  if (n <= 0) return [0, 1];
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap of the mean of `values` (e.g. per-pair differences between two methods),
 * with the p-value of "no difference" as the share of resampled means at least |mean| away from
 * the observed one (+1 correction, so never 0). Null without values.
 */
export function bootstrapMean(values: number[], o: { resamples?: number; seed?: number; confidence?: number } = {}): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  const resamples = o.resamples ?? 2000;
  const tail = (1 - (o.confidence ?? 0.95)) / 2;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const rand = mulberry32(o.seed ?? 0);
  const means = new Float64Array(resamples);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += values[Math.floor(rand() * n)]!;
    means[r] = s / n;
    if (Math.abs(means[r]! - mean) >= Math.abs(mean) - 1e-12) extreme++;
  }
  means.sort();
  return { mean, lo: percentile(means, tail), hi: percentile(means, 1 - tail), p: (extreme + 1) / (resamples + 1), n };
}
