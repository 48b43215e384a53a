import { describe, expect, it } from 'vitest';
import { accuracy, confusionMatrix, macroF1 } from '@polyprune/gpu-runner/evaluate/metrics';

describe('classification metrics', () => {
  // gold: 0 0 0 1 1 2 2 2 2
  // pred: 0 0 1 1 2 2 2 0 2
  // confusion (rows gold, cols pred):
  //   gold 0: [2 1 0]
  //   gold 1: [0 1 1]
  //   gold 2: [1 0 3]
  // class 0: TP 2, FP 1, FN 1 → F1 = 4/6
  // class 1: TP 1, FP 1, FN 1 → F1 = 2/4
  // class 2: TP 3, FP 1, FN 1 → F1 = 6/8
  // macro = (2/3 + 1/2 + 3/4)/3 = 23/36; accuracy = 6/9
  const gold = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const pred = [0, 0, 1, 1, 2, 2, 2, 0, 2];

  it('builds the confusion matrix', () => {
    expect(Array.from(confusionMatrix(gold, pred, 3))).toEqual([2, 1, 0, 0, 1, 1, 1, 0, 3]);
  });

  it('computes accuracy and macro-F1 as worked by hand', () => {
    expect(accuracy(gold, pred)).toBeCloseTo(6 / 9, 12);
    expect(macroF1(gold, pred, 3)).toBeCloseTo(23 / 36, 12);
  });

  it('averages only over classes that occur', () => {
    // class 0 perfect, classes 1 and 2 never seen: macro-F1 is class 0's F1
    expect(macroF1([0, 0], [0, 0], 3)).toBe(1);
    // class 1 only predicted: F1(0) = 2·1/(2+0+1) = 2/3, F1(1) = 0 → 1/3
    expect(macroF1([0, 0], [0, 1], 2)).toBeCloseTo(1 / 3, 12);
  });

  it('rejects labels outside the class range', () => {
    expect(() => confusionMatrix([3], [0], 3)).toThrow(/outside/);
  });
});
