/**
 * The method summary's statistics over few cells: Student t quantiles against printed tables, the
 * t-interval and the exact sign-flip p-value against hand computations.
 */
import { describe, expect, it } from 'vitest';
import { pairedMeanTest, studentQuantile, studentTwoSidedCdf } from '@polyprune/shared/stats';

describe('Student t', () => {
  it('gives the two-sided 95% and 99% quantiles of printed tables', () => {
    const t975: [number, number][] = [
      [1, 12.7062],
      [2, 4.3027],
      [3, 3.1824],
      [4, 2.7764],
      [5, 2.5706],
      [9, 2.2622],
      [10, 2.2281],
      [30, 2.0423],
    ];
    for (const [df, t] of t975) expect(studentQuantile(0.95, df), `ν = ${df}`).toBeCloseTo(t, 4);
    expect(studentQuantile(0.99, 2)).toBeCloseTo(9.9248, 4);
    expect(studentQuantile(0.99, 7)).toBeCloseTo(3.4995, 4);
    // ν = 1 is the Cauchy distribution: P(|T| ≤ 1) = 1/2; ν = 2 has P(|T| ≤ t) = t / √(2 + t²)
    expect(studentTwoSidedCdf(1, 1)).toBeCloseTo(0.5, 14);
    expect(studentTwoSidedCdf(3, 2)).toBeCloseTo(3 / Math.sqrt(11), 14);
  });
});

describe('paired mean test over few cells', () => {
  it('n = 3: t-interval and exact sign-flip p by hand', () => {
    // Δ vs dense of wanda in fr, de, en: −0.02, −0.05, −0.04
    // mean = −0.11/3 = −0.036667; deviations 0.016667, −0.013333, −0.003333
    // s² = (2.7778e-4 + 1.7778e-4 + 1.1111e-5) / 2 = 2.3333e-4, s = 0.015275, s/√3 = 0.0088192
    // t(0.975, 2) = 4.302653 → half-width 0.037946 → [−0.074613, 0.001280]
    // sign patterns: |Σ| = 0.11 only for all-minus and all-plus → p = 2/8
    const r = pairedMeanTest([-0.02, -0.05, -0.04])!;
    expect(r.n).toBe(3);
    expect(r.mean).toBeCloseTo(-0.036667, 6);
    expect(r.lo!).toBeCloseTo(-0.074613, 5);
    expect(r.hi!).toBeCloseTo(0.00128, 5);
    expect(r.p).toBe(0.25);
  });

  it('n = 4 with one cell against the others: p counts every pattern at least as extreme', () => {
    // values 3, 1, 1, −1: Σ = 4. Patterns (signs of 3, 1, 1, −1) with |Σ| ≥ 4:
    // +3 ±1 ±1 ∓1 → sums 3 + {−3..3}: 3+1+1+1=6, 3+1+1−1=4, 3+1−1+1=4, 3−1+1+1=4 → 4 patterns, mirrored → 8 of 16
    const r = pairedMeanTest([3, 1, 1, -1])!;
    expect(r.p).toBe(8 / 16);
    // s² = ((3−1)² + 0 + 0 + (−1−1)²)/3 = 8/3; half = t(0.975, 3)·√(8/3)/2 = 3.182446·0.816497
    expect(r.hi! - r.mean).toBeCloseTo((3.182446 * Math.sqrt(8 / 3)) / 2, 5);
  });

  it('cannot call five cells significant, can call six', () => {
    expect(pairedMeanTest([1, 1.2, 0.9, 1.1, 1])!.p).toBe(2 / 32);
    expect(pairedMeanTest([1, 1.2, 0.9, 1.1, 1, 1.05])!.p).toBe(2 / 64);
  });

  it('gives no interval for one cell and p = 1', () => {
    expect(pairedMeanTest([0.3])).toEqual({ mean: 0.3, lo: null, hi: null, p: 1, n: 1 });
    expect(pairedMeanTest([])).toBeNull();
  });

  it('samples sign patterns beyond 16 cells, close to the exact enumeration', () => {
    const values = Array.from({ length: 18 }, (_, i) => Math.sin(i * 1.7) + 0.25);
    const exact = pairedMeanTest(values, { exactUpTo: 18 })!;
    const sampled = pairedMeanTest(values, { resamples: 20000, seed: 3 })!;
    expect(exact.p).toBeGreaterThan(0.01);
    // sd of a share from 20,000 draws ≤ 0.0036
    expect(Math.abs(sampled.p - exact.p)).toBeLessThan(0.015);
    expect(sampled.lo).toBe(exact.lo);
  });
});
