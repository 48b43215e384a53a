/**
 * Small, pure statistics for leaderboards: intervals of a proportion and of a mean of paired
 * differences; sampled p-values use the seeded PRNG the runner's bootstrap uses, so every figure is
 * reproducible.
 */
import { mulberry32 } from './random';

export interface Interval {
  mean: number;
  /** null where the values cannot give an interval (a single value) */
  lo: number | null;
  hi: number | null;
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

/**
 * P(|T| ≤ t) for Student's t with an integer number of degrees of freedom, from the finite series
 * in θ = atan(t/√ν) (Abramowitz & Stegun 26.7.3–4): exact, no special functions needed.
 */
export function studentTwoSidedCdf(t: number, df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, not ${df}`);
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const c2 = Math.cos(theta) ** 2;
  const sin = Math.sin(theta);
  if (df % 2 === 0) {
    // sinθ · [1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + … up to cos^(ν−2)θ]
    let term = 1;
    let sum = 1;
    for (let k = 2; k <= df - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    return sin * sum;
  }
  // (2/π)·[θ + sinθ·cosθ·(1 + (2/3)cos²θ + (2·4)/(3·5)cos⁴θ + … up to cos^(ν−3)θ)] for ν ≥ 3
  let sum = 0;
  if (df > 1) {
    let term = 1;
    sum = 1;
    for (let k = 3; k <= df - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    sum *= sin * Math.cos(theta);
  }
  return (2 / Math.PI) * (theta + sum);
}

/** The t with P(|T| ≤ t) = `confidence` (e.g. 4.303 for 95% at ν = 2), by bisection. */
export function studentQuantile(confidence: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTwoSidedCdf(hi, df) < confidence) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTwoSidedCdf(mid, df) < confidence) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Mean of paired differences (per language pair and suite: method − dense, or method a − method b)
 * for the few cells a method summary has. A bootstrap over n = 3 values resamples 10 distinct sets and
 * calls differences significant far too easily, so instead:
 * - interval: Student t, mean ± t(ν = n − 1)·s/√n (null for n = 1: one value has no spread);
 * - p-value: sign-flip permutation test of "mean = 0" — under the null each difference is as likely
 *   negative as positive; p = share of the 2ⁿ sign patterns whose |mean| is at least the observed one.
 *   Exact up to n = 16, else `resamples` seeded random patterns (+1 correction). Its smallest value is
 *   2/2ⁿ: with n ≤ 5 cells nothing can reach p < 0.05, which is what so few cells can honestly say.
 */
export function pairedMeanTest(values: number[], o: { confidence?: number; exactUpTo?: number; resamples?: number; seed?: number } = {}): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  const total = values.reduce((a, b) => a + b, 0);
  const mean = total / n;
  let lo: number | null = null;
  let hi: number | null = null;
  if (n > 1) {
    const s = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    const half = (studentQuantile(o.confidence ?? 0.95, n - 1) * s) / Math.sqrt(n);
    lo = mean - half;
    hi = mean + half;
  }
  // ties (the observed pattern and its mirror at least) must count despite rounding in the sums
  const atLeast = (sum: number) => Math.abs(sum) >= Math.abs(total) - 1e-12 * Math.max(1, Math.abs(total));
  let p: number;
  if (n <= (o.exactUpTo ?? 16)) {
    let extreme = 0;
    for (let mask = 0; mask < 2 ** n; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -values[i]! : values[i]!;
      if (atLeast(sum)) extreme++;
    }
    p = extreme / 2 ** n;
  } else {
    const resamples = o.resamples ?? 20000;
    const rand = mulberry32(o.seed ?? 0);
    let extreme = 0;
    for (let r = 0; r < resamples; r++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += rand() < 0.5 ? -values[i]! : values[i]!;
      if (atLeast(sum)) extreme++;
    }
    p = (extreme + 1) / (resamples + 1);
  }
  return { mean, lo, hi, p, n };
}
