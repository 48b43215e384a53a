import { describe, expect, it } from 'vitest';
import {
  CONTRAST_EPSILON,
  computeScores,
  mulberry32,
  rowFactors,
  scoreMagnitude,
  scoreMtContrast,
  scoreRandom,
  scoreWanda,
  type ScoreInputs,
} from '@polyprune/gpu-runner/prune/scores';
import { selectMask, selectRowMask } from '@polyprune/gpu-runner/prune/masks';
import type { DenseWeight } from '@polyprune/gpu-runner/types';
import { firstDiff, lcg, refNmMask, refRowMask } from './reference.js';

function weight(dIn: number, dOut: number, seed: number): DenseWeight {
  const r = lcg(seed);
  // Quantized values so that |W| has ties, and some exact zeros and negatives.
  return { dIn, dOut, data: Float32Array.from({ length: dIn * dOut }, () => Math.round((r() - 0.5) * 16) / 8) };
}

function stats(n: number, seed: number, zeros = false): Float64Array {
  const r = lcg(seed);
  return Float64Array.from({ length: n }, (_, j) => (zeros && j % 3 === 0 ? 0 : r() * 50));
}

/** Plain per-element formulas of docs/design.md §3.3, written with (i, o) loops over JS numbers. */
function refScores(w: DenseWeight, f: (abs: number, i: number) => number): Float32Array {
  const out = new Float32Array(w.dIn * w.dOut);
  for (let i = 0; i < w.dIn; i++) for (let o = 0; o < w.dOut; o++) out[i * w.dOut + o] = f(Math.abs(w.data[i * w.dOut + o]!), i);
  return out;
}

describe('scores', () => {
  const w = weight(24, 10, 5);
  const sMt = stats(24, 6, true);
  // Zero at channels 1, 5, 9, … where sMt (zero at 0, 3, 6, …) is mostly non-zero.
  const sC = stats(24, 7).map((v, j) => (j % 4 === 1 ? 0 : v));

  it('magnitude is |W|', () => {
    expect(
      firstDiff(
        scoreMagnitude(w),
        refScores(w, (a) => a),
      ),
    ).toBe(-1);
  });

  it('wanda is |W_ij|·√s_j, with the statistic indexed by the input channel', () => {
    expect(
      firstDiff(
        scoreWanda(w, sMt),
        refScores(w, (a, i) => a * Math.sqrt(sMt[i]!)),
      ),
    ).toBe(-1);
    // Scaling one input channel's statistic changes exactly that channel's scores.
    const s2 = sMt.slice();
    s2[4] = 4 * (s2[4]! + 1);
    const a = scoreWanda(w, sMt);
    const b = scoreWanda(w, s2);
    for (let i = 0; i < w.dIn; i++)
      for (let o = 0; o < w.dOut; o++) {
        const x = i * w.dOut + o;
        if (i !== 4) expect(b[x]).toBe(a[x]);
      }
  });

  it('mt-contrast is |W_ij|·s^mt_j/√s^contrast_j with ε guarding zero contrast', () => {
    const want = refScores(w, (a, i) => a * (sMt[i]! / Math.sqrt(Math.max(sC[i]!, CONTRAST_EPSILON))));
    const got = scoreMtContrast(w, sMt, sC);
    expect(firstDiff(got, want)).toBe(-1);
    for (const v of got) expect(Number.isFinite(v)).toBe(true);
    // A channel silent on the contrast corpus but active on translation gets a huge score: kept.
    const j = [...sC].findIndex((v, i) => v === 0 && sMt[i]! > 0);
    expect(j).toBeGreaterThanOrEqual(0);
    const row = (x: Float32Array, i: number) => Array.from({ length: w.dOut }, (_, o) => x[i * w.dOut + o]!);
    const wanda = scoreWanda(w, sMt);
    for (let o = 0; o < w.dOut; o++) {
      if (w.data[j * w.dOut + o] !== 0) expect(row(got, j)[o]).toBeGreaterThan(1e4 * row(wanda, j)[o]!);
    }
  });

  it('rejects statistics of the wrong length or with negative/NaN entries', () => {
    expect(() => scoreWanda(w, new Float64Array(3))).toThrow(/dIn=24/);
    const bad = sMt.slice();
    bad[2] = -1;
    expect(() => scoreWanda(w, bad)).toThrow(/≥ 0/);
    bad[2] = NaN;
    expect(() => scoreMtContrast(w, sMt, bad)).toThrow(/contrastSqNorm\[2\]/);
  });

  it('random is reproducible per seed, seed-dependent, uniform-ish and ignores the weights', () => {
    const a = scoreRandom(w, 42);
    expect(firstDiff(a, scoreRandom(w, 42))).toBe(-1);
    expect(firstDiff(a, scoreRandom({ dIn: 24, dOut: 10 }, 42))).toBe(-1);
    expect(firstDiff(a, scoreRandom(w, 43))).not.toBe(-1);
    const big = scoreRandom({ dIn: 200, dOut: 500 }, 0);
    let sum = 0;
    const buckets = new Array<number>(10).fill(0);
    for (const v of big) {
      expect(v >= 0 && v < 1).toBe(true);
      sum += v;
      buckets[Math.floor(v * 10)]!++;
    }
    expect(sum / big.length).toBeCloseTo(0.5, 2);
    for (const c of buckets) expect(Math.abs(c / big.length - 0.1)).toBeLessThan(0.005);
    // The generator's sequence is what fills the array, in flat [dIn, dOut] order.
    const g = mulberry32(42);
    for (let x = 0; x < 20; x++) expect(a[x]).toBe(Math.fround(g()));
  });
});

describe('masks for every score method (scores → mask vs plain reference)', () => {
  const dIn = 32;
  const dOut = 12;
  const w = weight(dIn, dOut, 11);
  const sMt = stats(dIn, 12, true);
  const sC = stats(dIn, 13, true);
  const inputs: Record<string, [ScoreInputs, (a: number, i: number) => number]> = {
    magnitude: [{ method: 'magnitude' }, (a) => a],
    wanda: [{ method: 'wanda', sqNorm: sMt }, (a, i) => a * Math.sqrt(sMt[i]!)],
    'mt-contrast': [{ method: 'mt-contrast', mtSqNorm: sMt, contrastSqNorm: sC }, (a, i) => a * (sMt[i]! / Math.sqrt(Math.max(sC[i]!, CONTRAST_EPSILON)))],
  };
  for (const [name, [inp, f]] of Object.entries(inputs)) {
    it(`${name}: unstructured and N:M, both directions`, () => {
      const ref = refScores(w, f);
      const scores = computeScores(w, inp);
      for (const dropTop of [false, true]) {
        for (const p of [0.3, 0.5, 0.7]) {
          const m = selectMask('l', scores, { dIn, dOut }, { pattern: { kind: 'unstructured', sparsity: p }, dropTop });
          expect(firstDiff(m.keep, refRowMask(ref, dIn, dOut, p, dropTop))).toBe(-1);
        }
        for (const [n, mm] of [
          [2, 4],
          [4, 8],
        ] as const) {
          const m = selectMask('l', scores, { dIn, dOut }, { pattern: { kind: 'nm', n, m: mm }, dropTop });
          expect(firstDiff(m.keep, refNmMask(ref, dIn, dOut, n, mm, dropTop))).toBe(-1);
        }
      }
    });
  }

  it('random: the same seed gives the same mask, another seed another mask', () => {
    const spec = { pattern: { kind: 'unstructured' as const, sparsity: 0.5 } };
    const a = selectMask('l', computeScores(w, { method: 'random', seed: 9 }), { dIn, dOut }, spec);
    const b = selectMask('l', computeScores(w, { method: 'random', seed: 9 }), { dIn, dOut }, spec);
    const c = selectMask('l', computeScores(w, { method: 'random', seed: 10 }), { dIn, dOut }, spec);
    expect(firstDiff(a.keep, b.keep)).toBe(-1);
    expect(firstDiff(a.keep, c.keep)).not.toBe(-1);
    expect(firstDiff(a.keep, refRowMask(scoreRandom(w, 9), dIn, dOut, 0.5, false))).toBe(-1);
  });
});

describe('rowFactors: scores as |W|·factor, computed as mask selection reads the weight', () => {
  const w = weight(40, 24, 9);
  const sMt = stats(40, 10, true);
  const sC = stats(40, 11).map((v, j) => (j % 4 === 1 ? 0 : v));
  const cases: Array<[ScoreInputs, (i: number) => number]> = [
    [{ method: 'magnitude' }, () => 1],
    [{ method: 'wanda', sqNorm: sMt }, (i) => Math.sqrt(sMt[i]!)],
    [{ method: 'mt-contrast', mtSqNorm: sMt, contrastSqNorm: sC }, (i) => sMt[i]! / Math.sqrt(Math.max(sC[i]!, CONTRAST_EPSILON))],
  ];
  for (const [inputs, factorOf] of cases) {
    it(`${inputs.method}: the factors of the formula, and |W|·factor rounded to float32 is computeScores' score, mask for mask`, () => {
      const factor = rowFactors(inputs, w.dIn)!;
      expect(Array.from(factor)).toEqual(Array.from({ length: w.dIn }, (_, i) => factorOf(i)));
      const scores = computeScores(w, inputs);
      expect(
        firstDiff(
          scores,
          refScores(w, (a, i) => a * factorOf(i)),
        ),
      ).toBe(-1);
      for (const dropTop of [false, true]) {
        const scaled = selectRowMask({ weight: w.data, factor }, w, 0.5, dropTop);
        expect(firstDiff(scaled, refRowMask(scores, w.dIn, w.dOut, 0.5, dropTop)), `dropTop=${dropTop}`).toBe(-1);
      }
    });
  }

  it('random scores are not of that form; statistics are checked as computeScores checks them', () => {
    expect(rowFactors({ method: 'random', seed: 1 }, 4)).toBeUndefined();
    expect(() => rowFactors({ method: 'wanda', sqNorm: new Float64Array(3) }, 4)).toThrow(/sqNorm has 3 channels/);
    expect(() => rowFactors({ method: 'wanda', sqNorm: Float64Array.of(1, -1, 1, 1) }, 4)).toThrow(/finite and ≥ 0/);
    expect(() => rowFactors({ method: 'mt-contrast', mtSqNorm: new Float64Array(4), contrastSqNorm: new Float64Array(4), epsilon: 0 }, 4)).toThrow(/epsilon/);
  });
});
