/** Wilson intervals of the leaderboard cells and the seeded generator every resample draws from. */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@polyprune/shared/random';
import { wilson } from '@polyprune/shared/stats';

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
