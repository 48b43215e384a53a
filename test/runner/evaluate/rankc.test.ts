/**
 * RankC against figures worked out by hand: the weights are a softmax of K−1, …, 0 and each item is
 * Σ_j w_j · |top-j(en) ∩ top-j(x)| / j, in both ranking orders.
 */
import { describe, expect, it } from 'vitest';
import { itemRankc, ranking, rankcPerItem, rankcWeights } from '@polyprune/gpu-runner/evaluate/rankc';

const e = Math.E;
// K = 3: Z = e² + e + 1 = 11.107337927…; w = (e²/Z, e/Z, 1/Z)
const Z = e * e + e + 1;
const w3 = [(e * e) / Z, e / Z, 1 / Z];

describe('RankC weights', () => {
  it('are the paper’s 0.665, 0.245, 0.090 for K = 3, exactly softmax([2, 1, 0])', () => {
    const w = rankcWeights(3);
    expect(w[0]).toBeCloseTo(0.6652409557748219, 15);
    expect(w[1]).toBeCloseTo(0.24472847105479764, 15);
    expect(w[2]).toBeCloseTo(0.09003057317038046, 15);
    w.forEach((x, j) => expect(x).toBeCloseTo(w3[j]!, 15));
    expect(w.map((x) => Math.round(x * 1000) / 1000)).toEqual([0.665, 0.245, 0.09]);
  });

  it('are e/(e+1), 1/(e+1) for two choices and 1 for one; K must be a positive integer', () => {
    const w = rankcWeights(2);
    expect(w[0]).toBeCloseTo(e / (e + 1), 15); // 0.7310585786…
    expect(w[1]).toBeCloseTo(1 / (e + 1), 15);
    expect(rankcWeights(1)).toEqual([1]);
    // a large K stays finite and sums to 1
    expect(rankcWeights(800).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(() => rankcWeights(0)).toThrow(/K ≥ 1/);
  });
});

describe('ranking', () => {
  it('puts the most likely candidate first (desc) or last (asc); ties keep the lower index first', () => {
    expect(ranking([-2.5, -0.5, -1.5])).toEqual([1, 2, 0]);
    expect(ranking([-2.5, -0.5, -1.5], 'asc')).toEqual([0, 2, 1]);
    expect(ranking([-1, -1, -2])).toEqual([0, 1, 2]);
    expect(ranking([-1, -1, -2], 'asc')).toEqual([2, 0, 1]);
  });
});

describe('RankC of items', () => {
  // Item 1: en ranks (desc) 0 > 1 > 2, x ranks 1 > 2 > 0.
  //   desc: P@1 = |{0}∩{1}|/1 = 0, P@2 = |{0,1}∩{1,2}|/2 = 1/2, P@3 = 1 → w2/2 + w3 = 0.212394808…
  //   asc:  en 2,1,0 and x 0,2,1: P@1 = 0, P@2 = |{2,1}∩{0,2}|/2 = 1/2, P@3 = 1 → the same 0.212394808…
  // Item 2: en 0 > 1 > 2, x 0 > 2 > 1.
  //   desc: P@1 = 1, P@2 = |{0,1}∩{0,2}|/2 = 1/2, P@3 = 1 → w1 + w2/2 + w3 = 0.877635764…
  //   asc:  en 2,1,0 and x 1,2,0: P@1 = 0, P@2 = 1, P@3 = 1 → w2 + w3 = 0.334759044…
  // Item 3: the same order in both (scores ×10): 1 in either order.
  const en = [
    [-1, -2, -3],
    [-1, -2, -3],
    [-3, -1, -2],
  ];
  const x = [
    [-2.5, -0.5, -1.5],
    [-0.2, -0.9, -0.4],
    [-30, -10, -20],
  ];
  const item1 = w3[1]! / 2 + w3[2]!;
  const item2desc = w3[0]! + w3[1]! / 2 + w3[2]!;
  const item2asc = w3[1]! + w3[2]!;

  it('descending (Qi et al.): 0.212395, 0.877636, 1; mean 0.696677', () => {
    const r = rankcPerItem(en, x);
    expect(r[0]).toBeCloseTo(0.21239480869777927, 14);
    expect(r[1]).toBeCloseTo(0.8776357644726012, 14);
    expect(r[2]).toBeCloseTo(1, 14);
    expect(r[0]).toBeCloseTo(item1, 15);
    expect(r[1]).toBeCloseTo(item2desc, 15);
    expect((r[0]! + r[1]! + r[2]!) / 3).toBeCloseTo(0.6966768577234602, 14);
  });

  it('ascending (the authors’ code): 0.212395, 0.334759, 1; mean 0.515718', () => {
    const r = rankcPerItem(en, x, { order: 'asc' });
    expect(r[0]).toBeCloseTo(item1, 15);
    expect(r[1]).toBeCloseTo(item2asc, 15);
    expect(r[1]).toBeCloseTo(0.3347590442251781, 14);
    expect(r[2]).toBeCloseTo(1, 14);
    expect((r[0]! + r[1]! + r[2]!) / 3).toBeCloseTo(0.5157179509743192, 14);
  });

  it('with two choices uses K = 2: disagreeing top choices give 1/(e+1) in either order', () => {
    expect(itemRankc([-1, -2], [-2, -1])).toBeCloseTo(1 / (e + 1), 15);
    expect(itemRankc([-1, -2], [-2, -1], { order: 'asc' })).toBeCloseTo(1 / (e + 1), 15);
    expect(itemRankc([-1, -2], [-1, -3])).toBeCloseTo(1, 15);
  });

  it('gives the same value in both orders on every two-choice item, and may differ from three choices on', () => {
    // two distinct scores: the top of one order is the bottom of the other, so P@1 agrees in both orders
    const pairs = [
      [-1, -2],
      [-2, -1],
      [-0.5, -3],
    ];
    for (const p of pairs) for (const q of pairs) expect(itemRankc(p, q, { order: 'asc' })).toBe(itemRankc(p, q));
    // a tie keeps the lower index first in either order, which breaks that symmetry
    expect(itemRankc([-1, -1], [-1, -2])).toBe(1);
    expect(itemRankc([-1, -1], [-1, -2], { order: 'asc' })).toBeCloseTo(1 / (e + 1), 15);
    expect(itemRankc(en[1]!, x[1]!, { order: 'asc' })).not.toBeCloseTo(itemRankc(en[1]!, x[1]!), 3);
  });

  it('caps K at the configured k: k = 1 counts the top choice only, k = 2 renormalises over two ranks', () => {
    expect(itemRankc(en[0]!, x[0]!, { k: 1 })).toBe(0);
    expect(itemRankc(en[1]!, x[1]!, { k: 1 })).toBe(1);
    // item 2 desc with K = 2: w = (e/(e+1), 1/(e+1)), P@1 = 1, P@2 = 1/2
    expect(itemRankc(en[1]!, x[1]!, { k: 2 })).toBeCloseTo(e / (e + 1) + 1 / (2 * (e + 1)), 15);
    // a k above the number of choices is the number of choices
    expect(itemRankc(en[1]!, x[1]!, { k: 10 })).toBeCloseTo(item2desc, 15);
  });

  it('counts a candidate entering both top-j sets at the same rank once', () => {
    // 4 candidates, the same order: every P@j = 1, so RankC = Σ w = 1
    expect(itemRankc([4, 3, 2, 1], [8, 6, 4, 2])).toBeCloseTo(1, 14);
    // reversed order with 4 candidates: P@1 = 0, P@2 = 0, P@3 = |{0,1,2}∩{3,2,1}|/3 = 2/3, P@4 = 1
    const w = rankcWeights(4);
    expect(itemRankc([4, 3, 2, 1], [1, 2, 3, 4])).toBeCloseTo((w[2]! * 2) / 3 + w[3]!, 15);
  });

  it('refuses items whose candidates differ in number', () => {
    expect(() => itemRankc([1, 2, 3], [1, 2])).toThrow(/same candidates/);
    expect(() => rankcPerItem([[1, 2]], [])).toThrow(/parallel items/);
  });
});
