/**
 * Stored per-row results of perplexity and translation suites come back as the rows the paired
 * bootstrap needs, and a pruned ppl/mt result gets Δ, interval and p-value score rows computed from
 * them exactly as from freshly scored dense rows.
 */
import { describe, expect, it } from 'vitest';
import { corpusChrf } from '../../../gpu-runner/src/evaluate/chrf.js';
import type { SuiteResult } from '../../../gpu-runner/src/evaluate/index.js';
import { decodeSamples, encodeSamples, sameDenseRows } from '../../../gpu-runner/src/service/samples.js';
import { bootstrapRows, scoreRows } from '../../../gpu-runner/src/service/suites.js';

const header = { modelSha256: 'ab', dense: true, templateLang: 'en', suites: { s1: 'x', s2: 'y' } };
const ppl = (nll: number[]): SuiteResult => ({
  format: 'ppl',
  lang: 'fr',
  scoring: 'perplexity',
  metrics: { perplexity: Math.exp(nll.reduce((a, b) => a + b, 0) / (10 * nll.length)), bitsPerByte: 1 },
  n: nll.length,
  predictions: nll.map((x, index) => ({ index, tokens: 10, nll: x })),
  stats: { forwardTokens: 0, batches: 0 } as never,
});
const refs = ['the cat sleeps', 'it rains today', 'we leave at noon', 'the shop is closed'];
const mt = (hyps: string[]): SuiteResult => ({
  format: 'mt',
  lang: 'fr',
  scoring: 'chrf',
  metrics: { chrf: corpusChrf(hyps, refs) },
  n: hyps.length,
  predictions: hyps.map((hypothesis, i) => ({ index: i + 1, hypothesis, reference: refs[i]!, chrf: 0 })),
  stats: { forwardTokens: 0, steps: 0, usedCache: false },
});

describe('samples of perplexity and translation suites', () => {
  const dense = { p: ppl([20, 25, 31, 22, 27]), m: mt(['the cat sleeps', 'it rains', 'we go at noon', 'shop closed']) };
  const pruned = { p: ppl([24, 26, 37, 25, 30]), m: mt(['cat', 'rain', 'we noon', 'closed']) };

  it('decode per suite id, whatever the scoring they were stored under', () => {
    const bytes = encodeSamples(header, [
      { suiteId: 's1', scoring: 'paper', result: dense.p },
      { suiteId: 's2', scoring: 'harness', result: dense.m },
    ]);
    const { rows, text } = decodeSamples(bytes);
    expect(rows.size).toBe(0);
    expect(text.get('s1')).toEqual(
      dense.p.predictions.map((p) => ({ ...p, suiteId: 's1', scoring: 'paper', format: 'ppl', lang: 'fr', resultScoring: 'perplexity' })),
    );
    expect((text.get('s2') as { hypothesis: string }[]).map((p) => p.hypothesis)).toEqual(
      dense.m.predictions.map((p) => (p as { hypothesis: string }).hypothesis),
    );
  });

  it('reject a perplexity row without its nll, naming the line', () => {
    const bytes = encodeSamples(header, [{ suiteId: 's1', scoring: 'paper', result: { ...dense.p, predictions: [{ index: 0, tokens: 3 } as never] } }]);
    expect(() => decodeSamples(bytes)).toThrow(/line 2 is a ppl row without its nll and tokens/);
  });

  it('give the same Δ rows from stored dense rows as from the dense result', () => {
    const { text } = decodeSamples(
      encodeSamples(header, [
        { suiteId: 's1', scoring: 'paper', result: dense.p },
        { suiteId: 's2', scoring: 'paper', result: dense.m },
      ]),
    );
    for (const [id, d, p] of [
      ['s1', dense.p, pruned.p],
      ['s2', dense.m, pruned.m],
    ] as const) {
      const stored = { ...p, predictions: text.get(id)!, metrics: {}, n: text.get(id)!.length } as SuiteResult;
      const rows = bootstrapRows(id, p, d, 'paper');
      expect(bootstrapRows(id, p, stored, 'paper')).toEqual(rows);
      const metric = p.format === 'ppl' ? 'ppl' : 'chrf';
      expect(rows.map((r) => r.metric)).toEqual([`${metric}_delta`, `${metric}_delta_lo`, `${metric}_delta_hi`, `${metric}_delta_p`]);
      const value = (m: string) => rows.find((r) => r.metric === m)!.value;
      expect(value(`${metric}_delta`)).toBeCloseTo((p.metrics.perplexity ?? p.metrics.chrf)! - (d.metrics.perplexity ?? d.metrics.chrf)!, 9);
      expect(value(`${metric}_delta_lo`)).toBeLessThanOrEqual(value(`${metric}_delta_hi`));
    }
  });

  it('score rows carry the metric’s bootstrap interval', () => {
    const rows = scoreRows('s1', pruned.p, 'paper');
    expect(rows.map((r) => r.metric)).toEqual(['ppl', 'ppl_lo', 'ppl_hi', 'bpb']);
    const [v, lo, hi] = rows.map((r) => r.value);
    expect(lo).toBeLessThan(v!);
    expect(hi).toBeGreaterThan(v!);
    expect(scoreRows('s2', pruned.m, 'paper').map((r) => r.metric)).toEqual(['chrf', 'chrf_lo', 'chrf_hi']);
  });
});

describe('stored dense rows are reused only for the same rows', () => {
  const want = { modelSha256: 'ab', dense: true, templateLang: 'en', limit: { rows: 24, seed: 0 }, suites: { s1: 'x' } };
  it('needs the same model bytes, template words and row limit (rows and seed)', () => {
    expect(sameDenseRows(want, want)).toBe(true);
    // Row indices count the rows evaluated: 24 rows of seed 1 are other rows under the same indices.
    expect(sameDenseRows({ ...want, limit: { rows: 24, seed: 1 } }, want)).toBe(false);
    expect(sameDenseRows({ ...want, limit: { rows: 48, seed: 0 } }, want)).toBe(false);
    expect(sameDenseRows({ ...want, limit: null }, want)).toBe(false);
    expect(sameDenseRows(want, { ...want, limit: null })).toBe(false);
    // A file written before the header named its limit reads as every row.
    const { limit: _, ...old } = want;
    expect(sameDenseRows(old, { ...want, limit: null })).toBe(true);
    expect(sameDenseRows(old, want)).toBe(false);
    expect(sameDenseRows({ ...want, templateLang: 'fr' }, want)).toBe(false);
    expect(sameDenseRows({ ...want, modelSha256: 'cd' }, want)).toBe(false);
    expect(sameDenseRows({ ...want, dense: false }, want)).toBe(false);
    expect(sameDenseRows(want, { ...want, modelSha256: null })).toBe(false);
  });

  it('round-trip the limit in the header', () => {
    const { header } = decodeSamples(encodeSamples(want, []));
    expect(header.limit).toEqual({ rows: 24, seed: 0 });
  });
});
