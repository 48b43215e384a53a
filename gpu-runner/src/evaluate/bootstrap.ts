import { mulberry32 } from '../random.js';

/**
 * Paired bootstrap of Δ accuracy (candidate − dense) over the same examples, so a leaderboard can
 * tell a real gain from resampling noise. Both systems are resampled with the same indices (paired);
 * the PRNG is seeded so a result is reproducible from its recorded seed.
 */

export const seededRandom = mulberry32;

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  /** two-sided confidence level of the interval */
  confidence?: number;
}

export interface BootstrapResult {
  /** observed accuracy(candidate) − accuracy(dense) */
  delta: number;
  ciLow: number;
  ciHigh: number;
  confidence: number;
  /**
   * two-sided p-value for "no difference": the share of resampled Δ that lie at least |Δ| away from
   * the observed Δ (the bootstrap distribution shifted to the null), with the +1 correction so it is never 0
   */
  pValue: number;
  resamples: number;
  seed: number;
  n: number;
}

/** Percentile by linear interpolation between order statistics of a sorted array. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Paired bootstrap of a corpus-level statistic (perplexity, chrF) that is not a mean of per-row
 * scores. `delta(w)` gets w[i] = how many times row i was drawn (all ones for the observed data) and
 * returns candidate − dense computed on that resample from both systems' rows. Indices are drawn as
 * in `pairedBootstrap`, so for a per-row mean both give the same figures.
 */
export function pairedBootstrapBy(n: number, delta: (weights: Float64Array) => number, opts: BootstrapOptions = {}): BootstrapResult {
  const { observed, draws, resamples, seed, confidence } = resample(n, delta, opts);
  let extreme = 0;
  for (const d of draws) if (Math.abs(d - observed) >= Math.abs(observed) - 1e-12) extreme++;
  const tail = (1 - confidence) / 2;
  return {
    delta: observed,
    ciLow: percentile(draws, tail),
    ciHigh: percentile(draws, 1 - tail),
    confidence,
    pValue: (extreme + 1) / (resamples + 1),
    resamples,
    seed,
    n,
  };
}

/** Percentile bootstrap interval of one system's corpus-level statistic (same weights as above). */
export function bootstrapInterval(n: number, stat: (weights: Float64Array) => number, opts: BootstrapOptions = {}): { value: number; lo: number; hi: number } {
  const { observed, draws, confidence } = resample(n, stat, opts);
  const tail = (1 - confidence) / 2;
  return { value: observed, lo: percentile(draws, tail), hi: percentile(draws, 1 - tail) };
}

function resample(n: number, stat: (weights: Float64Array) => number, opts: BootstrapOptions) {
  const resamples = opts.resamples ?? 1000;
  const seed = opts.seed ?? 0;
  const confidence = opts.confidence ?? 0.95;
  const w = new Float64Array(n).fill(1);
  const observed = stat(w);
  const rand = seededRandom(seed);
  const draws = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    w.fill(0);
    for (let k = 0; k < n; k++) w[Math.floor(rand() * n)]!++;
    draws[r] = stat(w);
  }
  draws.sort();
  return { observed, draws, resamples, seed, confidence };
}

/** `candidate[i]`/`dense[i]` are 1 when each system got example i right. */
export function pairedBootstrap(candidate: Uint8Array, dense: Uint8Array, opts: BootstrapOptions = {}): BootstrapResult {
  const n = candidate.length;
  if (dense.length !== n) throw new Error(`paired bootstrap needs the same examples: ${n} vs ${dense.length}`);
  // per-example difference in {-1, 0, 1}: resampling Δ only needs these
  const diff = new Int8Array(n);
  for (let i = 0; i < n; i++) diff[i] = candidate[i]! - dense[i]!;
  // The mean difference on a resample, from how often each example was drawn (integer sums: exact).
  return pairedBootstrapBy(
    n,
    (w) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += w[i]! * diff[i]!;
      return n ? s / n : 0;
    },
    opts,
  );
}
