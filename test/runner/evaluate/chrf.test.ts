/**
 * chrF against hand-worked examples (sacreBLEU defaults: n = 1..6, β = 2, whitespace removed;
 * precision and recall averaged over the orders present in both sides, then F_β; 0–100).
 * F_2 = 5·P·R / (4·P + R).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHRF_SIGNATURE, chrfStats, corpusChrf, sentenceChrf } from '@polyprune/gpu-runner/evaluate/chrf';

describe('chrF', () => {
  it('is 100 for an exact match', () => {
    // "ab": n=1 2/2 matches, n=2 1/1; higher orders are empty on both sides and do not count
    expect(sentenceChrf('ab', 'ab')).toBeCloseTo(100, 10);
  });

  it('"abc" vs "abd"', () => {
    // n=1: {a,b,c} vs {a,b,d}: 2 matches → P = R = 2/3
    // n=2: {ab,bc} vs {ab,bd}: 1 match  → P = R = 1/2
    // n=3: {abc} vs {abd}: 0 matches    → P = R = 0 (both sides non-empty: counts)
    // avgP = avgR = (2/3 + 1/2 + 0)/3 = 7/18; with P = R, F_2 = P = 7/18
    expect(sentenceChrf('abc', 'abd')).toBeCloseTo((100 * 7) / 18, 10);
  });

  it('removes whitespace and ignores orders the hypothesis lacks', () => {
    // "a b" → "ab", "ab c" → "abc"
    // n=1: 2 hyp, 3 ref, 2 match → P = 1, R = 2/3
    // n=2: 1 hyp (ab), 2 ref (ab, bc), 1 match → P = 1, R = 1/2
    // n=3: no hypothesis 3-grams → not counted
    // avgP = 1, avgR = 7/12; F_2 = 5·(7/12) / (4 + 7/12) = 35/55 = 7/11
    expect(sentenceChrf('a b', 'ab c')).toBeCloseTo((100 * 7) / 11, 10);
  });

  it('clips repeated n-grams to the reference count', () => {
    // "aaa" vs "aa": n=1 3 hyp, 2 ref, min(3,2) = 2 match → P = 2/3, R = 1
    // n=2: {aa:2} vs {aa:1} → 1 match → P = 1/2, R = 1; n=3: reference empty → not counted
    // avgP = 7/12, avgR = 1; F_2 = 5·(7/12) / (4·7/12 + 1) = 35/40
    expect(sentenceChrf('aaa', 'aa')).toBeCloseTo(87.5, 10);
  });

  it('counts Unicode code points, not UTF-16 units', () => {
    // astral characters are one character each: same arithmetic as "ab" vs "abc" → 7/11
    expect(sentenceChrf('𝒳𝒴', '𝒳𝒴𝒵')).toBeCloseTo((100 * 7) / 11, 10);
    expect(chrfStats('𝒳', '𝒳')[0]).toBe(1);
  });

  it('is 0 for an empty hypothesis', () => {
    expect(sentenceChrf('', 'abc')).toBe(0);
  });

  it('corpus level sums statistics before averaging (not the mean of sentence scores)', () => {
    // ["abc","aaa"] vs ["abd","aa"]:
    // n=1: hyp 3+3 = 6, ref 3+2 = 5, match 2+2 = 4 → P = 2/3, R = 4/5
    // n=2: hyp 2+2 = 4, ref 2+1 = 3, match 1+1 = 2 → P = 1/2, R = 2/3
    // n=3: hyp 1+1 = 2, ref 1+0 = 1, match 0       → P = 0,   R = 0
    // avgP = 7/18, avgR = (4/5 + 2/3)/3 = 22/45
    // F_2 = 5·(7/18)(22/45) / (4·7/18 + 22/45) = (77/81) / (92/45) = 385/828
    expect(corpusChrf(['abc', 'aaa'], ['abd', 'aa'])).toBeCloseTo((100 * 385) / 828, 10);
    expect(corpusChrf(['abc', 'aaa'], ['abd', 'aa'])).not.toBeCloseTo((sentenceChrf('abc', 'abd') + sentenceChrf('aaa', 'aa')) / 2, 3);
  });

  it('rejects mismatched corpora', () => {
    expect(() => corpusChrf(['a'], [])).toThrow(/1 hypotheses but 0 references/);
  });
});

describe('chrF against sacreBLEU 2.6.0 (test/fixtures/bleu: scripts/bleu/bleu-reference.py)', () => {
  const dir = path.resolve(import.meta.dirname, '../../fixtures/bleu');
  const pairs = readFileSync(path.join(dir, 'pairs.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { hypothesis: string; reference: string });
  const ref = JSON.parse(readFileSync(path.join(dir, 'sacrebleu.json'), 'utf8')) as {
    chrf_signature: string;
    corpora: Array<{ name: string; indices: number[]; chrf: number }>;
    sentences: Array<{ sentence_chrf: number }>;
  };

  it('signature', () => expect(CHRF_SIGNATURE).toBe(ref.chrf_signature));

  it('every sentence, including Python-only whitespace (U+001C–U+001F, U+0085) and U+FEFF', () => {
    pairs.forEach((p, i) => expect(sentenceChrf(p.hypothesis, p.reference), `pair ${i}`).toBeCloseTo(ref.sentences[i]!.sentence_chrf, 9));
  });

  it('corpus chrF of every subset', () => {
    for (const c of ref.corpora) {
      const h = c.indices.map((i) => pairs[i]!.hypothesis);
      const r = c.indices.map((i) => pairs[i]!.reference);
      expect(corpusChrf(h, r), c.name).toBeCloseTo(c.chrf, 9);
    }
  });
});
