import { describe, expect, it } from 'vitest';
import { pairedBootstrap, seededRandom } from '@polyprune/gpu-runner/evaluate/bootstrap';

function bits(n: number, f: (i: number) => boolean): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (f(i) ? 1 : 0));
}

describe('paired bootstrap', () => {
  const dense = bits(300, (i) => i % 3 !== 0); // 2/3 right
  const cand = bits(300, (i) => i % 3 !== 0 || i % 2 === 0); // fixes half of dense's errors

  it('is reproducible with a seed and changes with it', () => {
    const a = pairedBootstrap(cand, dense, { seed: 42 });
    const b = pairedBootstrap(cand, dense, { seed: 42 });
    const c = pairedBootstrap(cand, dense, { seed: 43 });
    expect(a).toEqual(b);
    expect([c.ciLow, c.ciHigh]).not.toEqual([a.ciLow, a.ciHigh]);
    expect(a.resamples).toBe(1000);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('brackets the observed Δ and calls a consistent gain significant', () => {
    const r = pairedBootstrap(cand, dense, { seed: 1 });
    expect(r.delta).toBeCloseTo(50 / 300, 12);
    expect(r.ciLow).toBeLessThan(r.delta);
    expect(r.ciHigh).toBeGreaterThan(r.delta);
    expect(r.ciLow).toBeGreaterThan(0);
    // |Δ* − Δ| ≥ |Δ| needs a move of ~8 standard errors (sd of Δ* ≈ √(1/6·5/6/300) ≈ 0.022): never in 1,000 draws
    expect(r.pValue).toBeCloseTo(1 / 1001, 12);
  });

  it('finds no difference between identical systems', () => {
    const r = pairedBootstrap(dense, dense, { seed: 3 });
    expect(r.delta).toBe(0);
    expect(r.ciLow).toBe(0);
    expect(r.ciHigh).toBe(0);
    expect(r.pValue).toBe(1);
  });

  it('gives a large p-value for a coin-flip difference', () => {
    // candidate and dense each win on alternating examples: Δ = 0 observed, wide CI around 0
    const a = bits(200, (i) => i % 2 === 0);
    const b = bits(200, (i) => i % 2 === 1);
    const r = pairedBootstrap(a, b, { seed: 5 });
    expect(r.ciLow).toBeLessThan(0);
    expect(r.ciHigh).toBeGreaterThan(0);
    expect(r.pValue).toBeGreaterThan(0.5);
  });

  it('needs paired inputs', () => {
    expect(() => pairedBootstrap(new Uint8Array(2), new Uint8Array(3))).toThrow(/same examples/);
  });
});

describe('comparing suite results to the dense model', () => {
  it('pairs predictions by row and is reproducible', async () => {
    const { evaluateSuite, compareToDense } = await import('@polyprune/gpu-runner/evaluate/index');
    const { tinyEvalModel, xnliRows } = await import('./helpers.js');
    const dense = await evaluateSuite(await tinyEvalModel('plain'), xnliRows, 'xnli', 'en', { scoring: 'harness' });
    const pruned = await evaluateSuite(await tinyEvalModel('plain', { seed: 8 }), xnliRows, 'xnli', 'en', { scoring: 'harness' });
    const a = compareToDense(pruned, dense, { seed: 9 });
    expect(a).toEqual(compareToDense(pruned, dense, { seed: 9 }));
    expect(a.n).toBe(xnliRows.length);
    expect(a.delta).toBeCloseTo(pruned.metrics.accuracy! - dense.metrics.accuracy!, 12);
    const norm = compareToDense(pruned, dense, { seed: 9, norm: true });
    expect(norm.delta).toBeCloseTo(pruned.metrics.accNorm! - dense.metrics.accNorm!, 12);
    const paper = await evaluateSuite(await tinyEvalModel('plain'), xnliRows, 'xnli', 'en', { scoring: 'paper' });
    expect(() => compareToDense(paper, dense)).toThrow(/scoring/);
  });
});
