/**
 * BLEU against figures sacreBLEU 2.6.0 itself produced on test/fixtures/bleu/pairs.jsonl (55 pairs
 * covering 13a's tricky parts; scripts/bleu/bleu-reference.py wrote sacrebleu.json): the tokenizer's
 * output and per-sentence statistics exactly, scores, precisions and brevity penalties to 1e-9.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BLEU_SIGNATURE,
  bleuFromStats,
  bleuStats,
  corpusBleu,
  corpusBleuScore,
  sentenceBleu,
  sumBleuStats,
  tokenize13a,
  type BleuScore,
} from '@polyprune/gpu-runner/evaluate/bleu';

const dir = path.resolve(import.meta.dirname, '../../fixtures/bleu');
const pairs = readFileSync(path.join(dir, 'pairs.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { hypothesis: string; reference: string; note: string });

interface PyScore {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sys_len: number;
  ref_len: number;
}
const ref = JSON.parse(readFileSync(path.join(dir, 'sacrebleu.json'), 'utf8')) as {
  sacrebleu_version: string;
  bleu_signature: string;
  n: number;
  corpora: Array<PyScore & { name: string; indices: number[] }>;
  sentences: Array<{ index: number; hyp_tokens: string; ref_tokens: string; stats: number[]; sentence_bleu: PyScore; corpus_bleu: PyScore }>;
};

function expectSame(got: BleuScore, want: PyScore, what: string) {
  expect(got.counts, `${what} counts`).toEqual(want.counts);
  expect(got.totals, `${what} totals`).toEqual(want.totals);
  expect(got.sysLen, `${what} sys_len`).toBe(want.sys_len);
  expect(got.refLen, `${what} ref_len`).toBe(want.ref_len);
  expect(Math.abs(got.bp - want.bp), `${what} bp ${got.bp} vs ${want.bp}`).toBeLessThanOrEqual(1e-9);
  got.precisions.forEach((p, i) => expect(Math.abs(p - want.precisions[i]!), `${what} precision ${i + 1}`).toBeLessThanOrEqual(1e-9));
  expect(Math.abs(got.score - want.score), `${what} score ${got.score} vs ${want.score}`).toBeLessThanOrEqual(1e-9);
}

describe('BLEU vs sacreBLEU 2.6.0', () => {
  it('the fixture is the one the figures were computed on', () => {
    expect(ref.sacrebleu_version).toBe('2.6.0');
    expect(ref.n).toBe(pairs.length);
    expect(pairs.length).toBeGreaterThanOrEqual(40);
  });

  it('has sacreBLEU’s signature for its corpus BLEU', () => {
    expect(BLEU_SIGNATURE).toBe(ref.bleu_signature);
  });

  it('tokenizes every sentence exactly as 13a', () => {
    for (const s of ref.sentences) {
      const p = pairs[s.index]!;
      expect(tokenize13a(p.hypothesis), `hypothesis ${s.index} (${p.note})`).toBe(s.hyp_tokens);
      expect(tokenize13a(p.reference), `reference ${s.index} (${p.note})`).toBe(s.ref_tokens);
    }
  });

  it('has the same per-sentence statistics', () => {
    for (const s of ref.sentences) {
      const p = pairs[s.index]!;
      expect(bleuStats(p.hypothesis, p.reference), `${s.index} (${p.note})`).toEqual(s.stats);
    }
  });

  it('gives sentence_bleu (effective order) and one-sentence corpus_bleu per pair', () => {
    for (const s of ref.sentences) {
      const p = pairs[s.index]!;
      const stats = bleuStats(p.hypothesis, p.reference);
      expectSame(bleuFromStats(stats, { effectiveOrder: true }), s.sentence_bleu, `sentence ${s.index} (${p.note})`);
      expectSame(bleuFromStats(stats), s.corpus_bleu, `one-sentence corpus ${s.index} (${p.note})`);
      expect(Math.abs(sentenceBleu(p.hypothesis, p.reference) - s.sentence_bleu.score)).toBeLessThanOrEqual(1e-9);
    }
  });

  it('gives corpus_bleu on the whole fixture and its subsets', () => {
    expect(ref.corpora.map((c) => c.name)).toEqual(['all', 'shorter', 'first ten', 'no match', 'two tokens', 'even rows']);
    for (const c of ref.corpora) {
      const hyps = c.indices.map((i) => pairs[i]!.hypothesis);
      const refs = c.indices.map((i) => pairs[i]!.reference);
      expectSame(corpusBleuScore(hyps, refs), c, c.name);
      expect(corpusBleu(hyps, refs)).toBe(corpusBleuScore(hyps, refs).score);
    }
    // the subsets exercise what they are named for
    const [all, shorter, , none, two] = ref.corpora;
    expect(all!.score).toBeGreaterThan(40);
    expect(shorter!.bp).toBeLessThan(1);
    expect(none!.counts).toEqual([0, 0, 0, 0]);
    expect(two!.totals.slice(2)).toEqual([0, 0]);
  });

  it('is corpus-level: summed statistics, not the mean of sentence scores', () => {
    const hyps = pairs.map((p) => p.hypothesis);
    const refs = pairs.map((p) => p.reference);
    const summed = sumBleuStats(hyps.map((h, i) => bleuStats(h, refs[i]!)));
    expect(bleuFromStats(summed).score).toBe(corpusBleu(hyps, refs));
    const meanSentence = ref.sentences.reduce((s, x) => s + x.sentence_bleu.score, 0) / ref.sentences.length;
    expect(Math.abs(corpusBleu(hyps, refs) - meanSentence)).toBeGreaterThan(1);
  });

  it('rejects mismatched corpora', () => {
    expect(() => corpusBleu(['a'], [])).toThrow(/1 hypotheses but 0 references/);
  });
});
