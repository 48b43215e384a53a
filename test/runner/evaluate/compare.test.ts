/**
 * Paired bootstrap of corpus perplexity, chrF and BLEU against the dense model: checked against a
 * direct re-implementation that resamples the rows themselves (and, for chrF and BLEU, recomputes the
 * corpus metric from the resampled strings), and against the exact bootstrap distribution enumerated
 * for n = 3.
 */
import { describe, expect, it } from 'vitest';
import { pairedBootstrap, pairedBootstrapBy, seededRandom } from '@polyprune/gpu-runner/evaluate/bootstrap';
import { bleuStats, corpusBleu } from '@polyprune/gpu-runner/evaluate/bleu';
import { corpusChrf } from '@polyprune/gpu-runner/evaluate/chrf';
import { compareToDense, evaluateSuite, metricInterval, type SuiteResult } from '@polyprune/gpu-runner/evaluate/index';
import type { TextScore } from '@polyprune/gpu-runner/evaluate/perplexity';
import { tinyEvalModel } from './helpers.js';

const pplResult = (rows: TextScore[]): SuiteResult => ({
  format: 'ppl',
  lang: 'fr',
  scoring: 'perplexity',
  metrics: {},
  n: rows.length,
  predictions: rows,
  stats: { forwardTokens: 0, batches: 0 } as never,
});
const mtResult = (hyps: string[], refs: string[]): SuiteResult => ({
  format: 'mt',
  lang: 'fr',
  scoring: 'chrf',
  metrics: {},
  n: hyps.length,
  predictions: hyps.map((hypothesis, i) => ({ index: i + 4, hypothesis, reference: refs[i]!, chrf: 0 })),
  stats: { forwardTokens: 0, steps: 0, usedCache: false },
});

/** The textbook procedure: draw n row indices with replacement, recompute both sides, sort the Δs. */
function naiveBootstrap(n: number, delta: (idx: number[]) => number, resamples: number, seed: number) {
  const observed = delta([...Array(n).keys()]);
  const rand = seededRandom(seed);
  const ds: number[] = [];
  for (let r = 0; r < resamples; r++) ds.push(delta(Array.from({ length: n }, () => Math.floor(rand() * n))));
  ds.sort((a, b) => a - b);
  const q = (p: number) => {
    const pos = p * (ds.length - 1);
    const lo = Math.floor(pos);
    return ds[lo]! + (ds[Math.min(lo + 1, ds.length - 1)]! - ds[lo]!) * (pos - lo);
  };
  const extreme = ds.filter((d) => Math.abs(d - observed) >= Math.abs(observed) - 1e-12).length;
  return { delta: observed, lo: q(0.025), hi: q(0.975), p: (extreme + 1) / (resamples + 1) };
}

const ppl = (rows: TextScore[]) => Math.exp(rows.reduce((s, r) => s + r.nll, 0) / rows.reduce((s, r) => s + r.tokens, 0));

describe('paired bootstrap of corpus perplexity', () => {
  const rand = seededRandom(11);
  const dense: TextScore[] = Array.from({ length: 40 }, (_, index) => {
    const tokens = 5 + Math.floor(rand() * 30);
    return { index, tokens, nll: tokens * (2 + rand()) };
  });
  // pruning costs every row some nats, a few rows a lot
  const pruned = dense.map((r, i) => ({ ...r, nll: r.nll + r.tokens * (0.05 + (i % 7 === 0 ? 0.6 : 0.02 * rand())) }));

  it('equals resampling the rows and recomputing exp(ΣNLL/Σtokens) on each side', () => {
    const got = compareToDense(pplResult(pruned), pplResult(dense), { seed: 5, resamples: 500 });
    const want = naiveBootstrap(40, (idx) => ppl(idx.map((i) => pruned[i]!)) - ppl(idx.map((i) => dense[i]!)), 500, 5);
    expect(got.delta).toBeCloseTo(ppl(pruned) - ppl(dense), 10);
    expect(got.delta).toBeCloseTo(want.delta, 10);
    expect(got.ciLow).toBeCloseTo(want.lo, 10);
    expect(got.ciHigh).toBeCloseTo(want.hi, 10);
    expect(got.pValue).toBe(want.p);
    // a cost on every row is no resampling accident
    expect(got.ciLow).toBeGreaterThan(0);
    expect(got.pValue).toBeCloseTo(1 / 501, 12);
  });

  it('pairs rows by index, not by position', () => {
    const shuffled = [...dense].reverse();
    expect(compareToDense(pplResult(pruned), pplResult(shuffled), { seed: 5 })).toEqual(compareToDense(pplResult(pruned), pplResult(dense), { seed: 5 }));
    expect(() => compareToDense(pplResult(pruned), pplResult(dense.slice(1)))).toThrow(/dense has 39/);
  });

  it('matches the exact bootstrap distribution enumerated over all 27 resamples of 3 rows', () => {
    const a: TextScore[] = [
      { index: 0, tokens: 4, nll: 9 },
      { index: 1, tokens: 10, nll: 21 },
      { index: 2, tokens: 6, nll: 16 },
    ];
    const b: TextScore[] = [
      { index: 0, tokens: 4, nll: 8 },
      { index: 1, tokens: 10, nll: 22 },
      { index: 2, tokens: 6, nll: 13 },
    ];
    const observed = ppl(a) - ppl(b);
    const atoms: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) atoms.push(ppl([a[i]!, a[j]!, a[k]!]) - ppl([b[i]!, b[j]!, b[k]!]));
    const exactP = atoms.filter((d) => Math.abs(d - observed) >= Math.abs(observed) - 1e-12).length / 27;
    const r = compareToDense(pplResult(a), pplResult(b), { seed: 1, resamples: 20000 });
    expect(r.delta).toBeCloseTo(observed, 12);
    // Monte Carlo error of a share from 20,000 draws: sd ≤ 0.0036
    expect(Math.abs(r.pValue - exactP)).toBeLessThan(0.015);
    expect(r.ciLow).toBeGreaterThanOrEqual(Math.min(...atoms) - 1e-12);
    expect(r.ciHigh).toBeLessThanOrEqual(Math.max(...atoms) + 1e-12);
    // the interval's tails hold about 2.5% of the exact distribution each
    expect(atoms.filter((d) => d < r.ciLow - 1e-12).length / 27).toBeLessThanOrEqual(0.025 + 0.015);
    expect(atoms.filter((d) => d > r.ciHigh + 1e-12).length / 27).toBeLessThanOrEqual(0.025 + 0.015);
  });
});

describe('paired bootstrap of corpus chrF', () => {
  const refs = [
    'The cat sits on the mat.',
    'It is raining in Paris today.',
    'We will meet tomorrow at noon.',
    'This book was written long ago.',
    'The train leaves at eight.',
    'Children play in the garden.',
    'She bought bread and cheese.',
    'The museum is closed on Monday.',
  ];
  const denseHyps = [
    'The cat sits on the mat.',
    'It rains in Paris today.',
    'We meet tomorrow at noon.',
    'This book was written a long time ago.',
    'The train leaves at eight.',
    'The children play in the garden.',
    'She bought bread and some cheese.',
    'The museum closes on Monday.',
  ];
  const prunedHyps = [
    'The cat is on mat.',
    'Rain Paris.',
    'We meet tomorrow.',
    'Book written long.',
    'Train eight.',
    'Children garden.',
    'She bread.',
    'Museum Monday closed.',
  ];

  it('recomputes corpus chrF from the resampled sentences on both sides', () => {
    const got = compareToDense(mtResult(prunedHyps, refs), mtResult(denseHyps, refs), { seed: 2, resamples: 300 });
    const chrf = (hyps: string[], idx: number[]) =>
      corpusChrf(
        idx.map((i) => hyps[i]!),
        idx.map((i) => refs[i]!),
      );
    const want = naiveBootstrap(8, (idx) => chrf(prunedHyps, idx) - chrf(denseHyps, idx), 300, 2);
    expect(got.delta).toBeCloseTo(corpusChrf(prunedHyps, refs) - corpusChrf(denseHyps, refs), 10);
    expect(got.ciLow).toBeCloseTo(want.lo, 10);
    expect(got.ciHigh).toBeCloseTo(want.hi, 10);
    expect(got.pValue).toBe(want.p);
    expect(got.delta).toBeLessThan(-20);
    expect(got.ciHigh).toBeLessThan(0);
  });

  it('gives an interval of a single system that brackets its corpus chrF', () => {
    const iv = metricInterval(mtResult(denseHyps, refs), { seed: 3, resamples: 300 })!;
    const rand = seededRandom(3);
    const draws: number[] = [];
    for (let r = 0; r < 300; r++) {
      const idx = Array.from({ length: 8 }, () => Math.floor(rand() * 8));
      draws.push(
        corpusChrf(
          idx.map((i) => denseHyps[i]!),
          idx.map((i) => refs[i]!),
        ),
      );
    }
    draws.sort((a, b) => a - b);
    const pos = 0.025 * 299;
    expect(iv.value).toBeCloseTo(corpusChrf(denseHyps, refs), 10);
    expect(iv.lo).toBeCloseTo(draws[Math.floor(pos)]! + (draws[Math.floor(pos) + 1]! - draws[Math.floor(pos)]!) * (pos - Math.floor(pos)), 10);
    expect(iv.lo).toBeLessThan(iv.value);
    expect(iv.hi).toBeGreaterThan(iv.value);
  });
});

describe('paired bootstrap of corpus BLEU', () => {
  const refs = [
    'The cat sits on the mat in the kitchen.',
    'It is raining in Paris today, and it is cold.',
    'We will meet tomorrow at noon near the station.',
    'This book was written a long time ago by a monk.',
    'The train to Lyon leaves at eight in the morning.',
    'Children play in the garden after school.',
    'She bought bread, cheese and two bottles of wine.',
    'The museum is closed on Monday and Tuesday.',
    'My brother lives in a small town by the sea.',
    'The meeting was postponed until Friday afternoon.',
  ];
  const denseHyps = [
    'The cat sits on the mat in the kitchen.',
    'It rains in Paris today, and it is cold.',
    'We will meet tomorrow at noon close to the station.',
    'This book was written long ago by a monk.',
    'The train to Lyon leaves at eight in the morning.',
    'The children play in the garden after the school.',
    'She bought bread, cheese and two bottles of wine.',
    'The museum closes on Monday and on Tuesday.',
    'My brother lives in a little town at the sea.',
    'The meeting was moved to Friday afternoon.',
  ];
  const prunedHyps = [
    'The cat is on the mat of kitchen.',
    'Rain in Paris today, cold.',
    'We meet tomorrow at noon.',
    'The book written long ago.',
    'Train Lyon leaves at eight in the morning.',
    'Children play in garden.',
    'She bought bread and cheese.',
    'The museum is closed Monday.',
    'My brother lives in a town.',
    '',
  ];
  const bleuOf = (hyps: string[], idx: number[]) =>
    corpusBleu(
      idx.map((i) => hyps[i]!),
      idx.map((i) => refs[i]!),
    );
  /** as the engine stores them: with each row's statistics */
  const withStats = (r: SuiteResult): SuiteResult => ({
    ...r,
    predictions: r.predictions.map((p) => {
      const x = p as { hypothesis: string; reference: string };
      return { ...x, bleuStats: bleuStats(x.hypothesis, x.reference) };
    }) as SuiteResult['predictions'],
  });

  it('recomputes corpus BLEU from the resampled sentences on both sides', () => {
    const want = naiveBootstrap(10, (idx) => bleuOf(prunedHyps, idx) - bleuOf(denseHyps, idx), 400, 6);
    for (const [cand, dense] of [
      [mtResult(prunedHyps, refs), mtResult(denseHyps, refs)],
      [withStats(mtResult(prunedHyps, refs)), withStats(mtResult(denseHyps, refs))],
      [withStats(mtResult(prunedHyps, refs)), mtResult(denseHyps, refs)],
    ]) {
      const got = compareToDense(cand!, dense!, { seed: 6, resamples: 400, metric: 'bleu' });
      expect(got.delta).toBeCloseTo(corpusBleu(prunedHyps, refs) - corpusBleu(denseHyps, refs), 10);
      expect(got.ciLow).toBeCloseTo(want.lo, 10);
      expect(got.ciHigh).toBeCloseTo(want.hi, 10);
      expect(got.pValue).toBe(want.p);
    }
    expect(want.delta).toBeLessThan(-20);
    expect(want.hi).toBeLessThan(0);
    // not the chrF comparison under another name
    const chrf = compareToDense(mtResult(prunedHyps, refs), mtResult(denseHyps, refs), { seed: 6, resamples: 400 });
    expect(Math.abs(chrf.delta - want.delta)).toBeGreaterThan(1);
  });

  it('uses the stored statistics when a row has them', () => {
    // statistics of another hypothesis than the text: the stored ones win (they are what was scored)
    const dense = withStats(mtResult(denseHyps, refs));
    const swapped = {
      ...dense,
      predictions: dense.predictions.map((p, i) => ({ ...p, bleuStats: bleuStats(prunedHyps[i]!, refs[i]!) })),
    } as SuiteResult;
    expect(compareToDense(mtResult(prunedHyps, refs), swapped, { metric: 'bleu', resamples: 50 }).delta).toBeCloseTo(0, 12);
  });

  it('gives an interval of a single system that brackets its corpus BLEU', () => {
    const iv = metricInterval(mtResult(denseHyps, refs), { seed: 3, resamples: 300, metric: 'bleu' })!;
    const rand = seededRandom(3);
    const draws: number[] = [];
    for (let r = 0; r < 300; r++)
      draws.push(
        bleuOf(
          denseHyps,
          Array.from({ length: 10 }, () => Math.floor(rand() * 10)),
        ),
      );
    draws.sort((a, b) => a - b);
    const pos = 0.025 * 299;
    expect(iv.value).toBeCloseTo(corpusBleu(denseHyps, refs), 10);
    expect(iv.lo).toBeCloseTo(draws[Math.floor(pos)]! + (draws[Math.floor(pos) + 1]! - draws[Math.floor(pos)]!) * (pos - Math.floor(pos)), 10);
    expect(iv.lo).toBeLessThan(iv.value);
    expect(iv.hi).toBeGreaterThan(iv.value);
  });
});

describe('the generic paired bootstrap', () => {
  it('gives pairedBootstrap’s figures for a per-row mean', () => {
    const a = Uint8Array.from({ length: 60 }, (_, i) => (i % 3 ? 1 : 0));
    const b = Uint8Array.from({ length: 60 }, (_, i) => (i % 4 ? 1 : 0));
    const mean = (x: Uint8Array, w: Float64Array) => x.reduce((s, v, i) => s + v * w[i]!, 0) / 60;
    const got = pairedBootstrapBy(60, (w) => mean(a, w) - mean(b, w), { seed: 4 });
    const want = pairedBootstrap(a, b, { seed: 4 });
    expect(got.delta).toBeCloseTo(want.delta, 12);
    expect(got.ciLow).toBeCloseTo(want.ciLow, 12);
    expect(got.ciHigh).toBeCloseTo(want.ciHigh, 12);
    expect(got.pValue).toBe(want.pValue);
  });
});

describe('on the tiny model', () => {
  it('Δ of a pruned model’s ppl and chrF results is the difference of their corpus metrics', async () => {
    const dense = await tinyEvalModel('pastKv');
    const other = await tinyEvalModel('pastKv', { seed: 8 });
    const texts = ['Il pleut à Paris.', 'Le chat dort sur le tapis.', 'Nous partons demain matin.', 'La gare est fermée.'].map((text) => ({ text }));
    const [pd, pp] = [await evaluateSuite(dense, texts, 'ppl', 'fr'), await evaluateSuite(other, texts, 'ppl', 'fr')];
    const dp = compareToDense(pp, pd, { seed: 0, resamples: 200 });
    expect(dp.delta).toBeCloseTo(pp.metrics.perplexity! - pd.metrics.perplexity!, 9);
    expect(dp.ciLow).toBeLessThanOrEqual(dp.ciHigh);
    const pairs = texts.map((t, i) => ({ src: t.text, tgt: refs4[i]! }));
    const [md, mp] = [
      await evaluateSuite(dense, pairs, 'mt', 'fr', { numShots: 1, maxNewTokens: 6 }),
      await evaluateSuite(other, pairs, 'mt', 'fr', { numShots: 1, maxNewTokens: 6 }),
    ];
    const dm = compareToDense(mp, md, { seed: 0, resamples: 200 });
    expect(dm.n).toBe(3);
    expect(dm.delta).toBeCloseTo(mp.metrics.chrf! - md.metrics.chrf!, 9);
    expect(dm.pValue).toBeGreaterThan(0);
    const db = compareToDense(mp, md, { seed: 0, resamples: 200, metric: 'bleu' });
    expect(db.delta).toBeCloseTo(mp.metrics.bleu! - md.metrics.bleu!, 9);
  });
});
const refs4 = ['It is raining in Paris.', 'The cat sleeps on the rug.', 'We leave tomorrow morning.', 'The station is closed.'];
