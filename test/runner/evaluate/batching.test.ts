import { describe, expect, it } from 'vitest';
import { commonPrefixLength, planBatches } from '@polyprune/gpu-runner/evaluate/batch-plan';

describe('batch planning', () => {
  it('groups similar lengths under the token and size budgets', () => {
    const lengths = [10, 3, 9, 4, 11, 2];
    const batches = planBatches(lengths, 24, 3);
    // sorted: 2(5) 3(1) 4(3) | 9(2) 10(0) | 11(4): 3·9 = 27 > 24 closes the first batch at size 3 anyway
    expect(batches).toEqual([[5, 1, 3], [2, 0], [4]]);
    for (const b of batches) expect(Math.max(...b.map((i) => lengths[i]!)) * b.length).toBeLessThanOrEqual(24);
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives an over-long item a batch of its own', () => {
    expect(planBatches([100, 1], 10, 8)).toEqual([[1], [0]]);
  });

  it('finds the common prefix', () => {
    expect(commonPrefixLength([Int32Array.of(1, 2, 3), Int32Array.of(1, 2, 4), Int32Array.of(1, 2)])).toBe(2);
    expect(commonPrefixLength([Int32Array.of(5), Int32Array.of(6)])).toBe(0);
  });
});
