import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/src/random';
import { bootstrapMean, wilson } from '../../shared/src/stats';

describe('wilson', () => {
  it('matches the textbook formula and published values', () => {
    // Wilson (1927) 95% interval for 8 of 10: 0.490 – 0.943 (Newcombe 1998, table I style values).
    const [lo, hi] = wilson(0.8, 10);
    expect(lo).toBeCloseTo(0.4902, 4);
    expect(hi).toBeCloseTo(0.9433, 4);
    // p = 0 and p = 1 stay inside [0, 1] and are not degenerate.
    expect(wilson(0, 20)[0]).toBe(0);
    expect(wilson(0, 20)[1]).toBeGreaterThan(0.1);
    expect(wilson(1, 20)[1]).toBe(1);
    expect(wilson(0.5, 0)).toEqual([0, 1]);
  });

  it('narrows as n grows', () => {
    const width = (n: number) => wilson(0.6, n)[1] - wilson(0.6, n)[0];
    expect(width(100)).toBeLessThan(width(10));
    expect(width(1000)).toBeLessThan(width(100));
  });
});

describe('bootstrapMean', () => {
  it('resamples with the seeded generator exactly as a plain loop does', () => {
    const values = [0.1, -0.3, 0.25, 0.4, -0.05, 0.2];
    const got = bootstrapMean(values, { resamples: 500, seed: 7 })!;
    // Independent computation: same PRNG, same draws, sorted means, linear-interpolated percentiles.
    const rand = mulberry32(7);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const means: number[] = [];
    let extreme = 0;
    for (let r = 0; r < 500; r++) {
      let s = 0;
      for (let k = 0; k < values.length; k++) s += values[Math.floor(rand() * values.length)]!;
      means.push(s / values.length);
      if (Math.abs(s / values.length - mean) >= Math.abs(mean) - 1e-12) extreme++;
    }
    means.sort((a, b) => a - b);
    const pct = (q: number) => {
      const pos = q * (means.length - 1);
      const i = Math.floor(pos);
      return means[i]! + (means[Math.min(i + 1, means.length - 1)]! - means[i]!) * (pos - i);
    };
    expect(got.mean).toBeCloseTo(mean, 12);
    expect(got.lo).toBeCloseTo(pct(0.025), 12);
    expect(got.hi).toBeCloseTo(pct(0.975), 12);
    expect(got.p).toBeCloseTo((extreme + 1) / 501, 12);
    expect(got.n).toBe(6);
  });

  it('is reproducible from its seed, and null without values', () => {
    const v = [0.137, 0.712, 0.291, 0.944, 0.523, 0.068, 0.401];
    expect(bootstrapMean(v, { seed: 3, resamples: 101 })).toEqual(bootstrapMean(v, { seed: 3, resamples: 101 }));
    expect(bootstrapMean(v, { seed: 3, resamples: 101 })).not.toEqual(bootstrapMean(v, { seed: 4, resamples: 101 }));
    expect(bootstrapMean([])).toBeNull();
  });

  it('gives a small p for a clear shift and a large one for noise around 0', () => {
    expect(bootstrapMean([2, 2.1, 1.9, 2.05, 1.95, 2.02])!.p).toBeLessThan(0.01);
    expect(bootstrapMean([0.1, -0.1, 0.05, -0.05, 0.02, -0.02])!.p).toBeGreaterThan(0.5);
  });
});

describe('mulberry32', () => {
  it('gives the same sequence for a seed, floats in [0, 1), roughly uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const buckets = new Array(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)]++;
    for (const c of buckets) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});
