/** Sample allocation and interleaving of a calibration mix, against numbers worked out by hand. */
import { describe, expect, it } from 'vitest';
import { allocateSamples, interleave } from '@polyprune/gpu-runner/calibrate/mix';

describe('allocateSamples (largest remainder)', () => {
  const cases: [number, number[], number[], string][] = [
    [10, [5, 3, 2], [5, 3, 2], 'exact quotas need no rounding'],
    // 100/3 = 33.33 each: floors 99, one left, equal remainders → the lowest index
    [100, [1, 1, 1], [34, 33, 33], 'ties go to the lower index'],
    // 3.5, 2.1, 1.4: floors 3+2+1 = 6, one left → the largest remainder (.5)
    [7, [0.5, 0.3, 0.2], [4, 2, 1], 'fractional weights'],
    // 5·2/3 = 3.33, 5/3 = 1.67: floors 3+1, one left → corpus 1 (.67 > .33)
    [5, [2, 1], [3, 2], 'the larger remainder wins over the larger weight'],
    // 6·(4, 1, 1)/6 = 4, 1, 1
    [6, [4, 1, 1], [4, 1, 1], 'proportional'],
    // 3·(1, 1, 1, 1)/4 = .75 each: three go to the first three
    [3, [1, 1, 1, 1], [1, 1, 1, 0], 'fewer samples than corpora'],
    [5, [1, 1e-6], [5, 0], 'a tiny weight may get nothing'],
    [4, [7], [4], 'a mix of one'],
  ];
  for (const [samples, weights, want, name] of cases) {
    it(`${name}: ${samples} × [${weights.join(', ')}] → [${want.join(', ')}]`, () => {
      const got = allocateSamples(samples, weights);
      expect(got).toEqual(want);
      expect(got.reduce((a, b) => a + b, 0)).toBe(samples);
    });
  }
  it('refuses weights ≤ 0 and an empty mix', () => {
    expect(() => allocateSamples(4, [1, 0])).toThrow(/weights/);
    expect(() => allocateSamples(4, [1, -2])).toThrow(/weights/);
    expect(() => allocateSamples(4, [])).toThrow(/at least one/);
  });
});

describe('interleave (round robin in the mix order)', () => {
  it('takes sample j of every corpus that has one, then j + 1', () => {
    const { items, source } = interleave([['a0', 'a1', 'a2'], [], ['c0'], ['d0', 'd1']]);
    expect(items).toEqual(['a0', 'c0', 'd0', 'a1', 'd1', 'a2']);
    expect(source).toEqual([0, 2, 3, 0, 3, 0]);
  });
});
