/**
 * Stored per-row results of perplexity and translation suites come back as the rows the paired
 * bootstrap needs, and a pruned ppl/mt result gets Δ, interval and p-value score rows computed from
 * them exactly as from freshly scored dense rows — for mt both chrF and BLEU, also from translation
 * rows stored before BLEU statistics were kept.
 */
import { describe, expect, it } from 'vitest';
import { bleuStats, corpusBleu, sentenceBleu } from '@polyprune/gpu-runner/evaluate/bleu';
import { corpusChrf } from '@polyprune/gpu-runner/evaluate/chrf';
import type { SuiteResult } from '@polyprune/gpu-runner/evaluate/index';
import { decodeSamples, encodeSamples, sameDenseRows } from '@polyprune/gpu-runner/service/samples';
import { bootstrapRows, scoreRows } from '@polyprune/gpu-runner/service/suites';

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
// as the engine gives them: sentence BLEU and its statistics on every row
const mt = (hyps: string[]): SuiteResult => ({
  format: 'mt',
  lang: 'fr',
  scoring: 'chrf',
  metrics: { chrf: corpusChrf(hyps, refs), bleu: corpusBleu(hyps, refs) },
  n: hyps.length,
  predictions: hyps.map((hypothesis, i) => ({
    index: i + 1,
    hypothesis,
    reference: refs[i]!,
    chrf: 0,
    bleu: sentenceBleu(hypothesis, refs[i]!),
    bleuStats: bleuStats(hypothesis, refs[i]!),
  })),
  stats: { forwardTokens: 0, steps: 0, usedCache: false },
});
/** A translation result as samples stored it before BLEU: no sentence BLEU, no statistics. */
const withoutBleu = (r: SuiteResult): SuiteResult => ({
  ...r,
  predictions: (r.predictions as { bleu?: number; bleuStats?: number[] }[]).map(({ bleu: _b, bleuStats: _s, ...p }) => p) as SuiteResult['predictions'],
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
      const metrics = p.format === 'ppl' ? { ppl: 'perplexity' } : { chrf: 'chrf', bleu: 'bleu' };
      expect(rows.map((r) => r.metric)).toEqual(Object.keys(metrics).flatMap((m) => [`${m}_delta`, `${m}_delta_lo`, `${m}_delta_hi`, `${m}_delta_p`]));
      const value = (m: string) => rows.find((r) => r.metric === m)!.value;
      for (const [metric, key] of Object.entries(metrics)) {
        expect(value(`${metric}_delta`)).toBeCloseTo(p.metrics[key]! - d.metrics[key]!, 9);
        expect(value(`${metric}_delta_lo`)).toBeLessThanOrEqual(value(`${metric}_delta_hi`));
      }
    }
  });

  it('keep translation rows stored without BLEU statistics readable: the bootstrap computes them from the text', () => {
    const old = decodeSamples(encodeSamples(header, [{ suiteId: 's2', scoring: 'paper', result: withoutBleu(dense.m) }])).text.get('s2')!;
    expect(old.every((p) => !('bleuStats' in p))).toBe(true);
    const stored = { ...pruned.m, predictions: old, metrics: {}, n: old.length } as SuiteResult;
    const rows = bootstrapRows('s2', pruned.m, stored, 'paper');
    expect(rows).toEqual(bootstrapRows('s2', pruned.m, dense.m, 'paper'));
    const delta = rows.find((r) => r.metric === 'bleu_delta')!.value;
    expect(delta).toBeCloseTo(
      corpusBleu(['cat', 'rain', 'we noon', 'closed'], refs) - corpusBleu(['the cat sleeps', 'it rains', 'we go at noon', 'shop closed'], refs),
      9,
    );
    expect(delta).toBeLessThan(0);
  });

  it('leave out, with the reason, a metric whose dense rows lack what it is computed from', () => {
    const statsOnly = {
      ...dense.m,
      predictions: (dense.m.predictions as { index: number; bleuStats?: number[] }[]).map(({ index, bleuStats }) => ({ index, bleuStats })),
    } as SuiteResult;
    const skipped: string[] = [];
    const rows = bootstrapRows('s2', pruned.m, statsOnly, 'paper', (metric, reason) => skipped.push(`${metric}: ${reason}`));
    expect(rows.map((r) => r.metric)).toEqual(['bleu_delta', 'bleu_delta_lo', 'bleu_delta_hi', 'bleu_delta_p']);
    expect(rows).toEqual(bootstrapRows('s2', pruned.m, dense.m, 'paper').filter((r) => r.metric.startsWith('bleu')));
    expect(skipped).toEqual(['chrf: row 1 has no hypothesis and reference to compute chrF from']);
    const nothing = { ...dense.m, predictions: dense.m.predictions.map((p) => ({ index: p.index })) } as SuiteResult;
    skipped.length = 0;
    expect(bootstrapRows('s2', pruned.m, nothing, 'paper', (metric, reason) => skipped.push(`${metric}: ${reason}`))).toEqual([]);
    expect(skipped).toEqual([
      'chrf: row 1 has no hypothesis and reference to compute chrF from',
      'bleu: row 1 has neither BLEU statistics nor its hypothesis and reference',
    ]);
  });

  it('reject a translation row with malformed BLEU statistics, naming the line', () => {
    const bad = { ...dense.m, predictions: dense.m.predictions.map((p) => ({ ...p, bleuStats: [1, 2, 3] })) } as SuiteResult;
    expect(() => decodeSamples(encodeSamples(header, [{ suiteId: 's2', scoring: 'paper', result: bad }]))).toThrow(/line 2 has malformed bleuStats/);
  });

  it('score rows carry the metric’s bootstrap interval', () => {
    const rows = scoreRows('s1', pruned.p, 'paper');
    expect(rows.map((r) => r.metric)).toEqual(['ppl', 'ppl_lo', 'ppl_hi', 'bpb']);
    const [v, lo, hi] = rows.map((r) => r.value);
    expect(lo).toBeLessThan(v!);
    expect(hi).toBeGreaterThan(v!);
    const mtRows = scoreRows('s2', pruned.m, 'paper');
    expect(mtRows.map((r) => r.metric)).toEqual(['chrf', 'chrf_lo', 'chrf_hi', 'bleu', 'bleu_lo', 'bleu_hi']);
    const bleu = mtRows.filter((r) => r.metric.startsWith('bleu')).map((r) => r.value);
    expect(bleu[0]).toBe(corpusBleu(['cat', 'rain', 'we noon', 'closed'], refs));
    expect(bleu[1]).toBeLessThanOrEqual(bleu[0]!);
    expect(bleu[2]).toBeGreaterThanOrEqual(bleu[0]!);
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
