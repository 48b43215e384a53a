/**
 * BLEU as sacreBLEU 2.6.0 computes it by default: the 13a tokenizer (mteval-v13a), word n-grams
 * n = 1..4 clipped by one reference, corpus statistics summed over sentences, brevity penalty from the
 * summed lengths, `exp` smoothing (NIST: the k-th order with no match counts as 1/2^k of a match), no
 * effective order. Scores are on sacreBLEU's 0–100 scale, as chrF. `sentenceBleu` uses effective order,
 * as sacreBLEU's `sentence_bleu` does. Checked against sacreBLEU's own figures in test/fixtures/bleu.
 */
import { pySpaces, pyTrailingSpace } from './py-space.js';

export const BLEU_MAX_ORDER = 4;

/** sacreBLEU's signature of what `corpusBleu` computes; recorded with every mt result. */
export const BLEU_SIGNATURE = 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0';

/**
 * Per-sentence sufficient statistics in sacreBLEU's order:
 * [hypothesis length, reference length, matches n = 1..4, hypothesis n-grams n = 1..4].
 */
export type BleuStats = number[];
export const BLEU_STATS_LENGTH = 2 + 2 * BLEU_MAX_ORDER;

export interface BleuScore {
  score: number;
  /** matched and total n-grams per order */
  counts: number[];
  totals: number[];
  /** per order, 0–100 (smoothed where an order has no match) */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

// sacreBLEU's TokenizerRegexp, in its order. The first class is mteval's symbol set: { | } ~ [ \ ] ^ _ `
// space ! " # $ % & ( ) * + : ; < = > ? @ / (not - ' . , or digits).
const regexpRules: Array<[RegExp, string]> = [
  [/([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])/gu, ' $1 '],
  // period and comma unless preceded by a digit
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // period and comma unless followed by a digit
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // dash preceded by a digit
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** sacreBLEU's 13a tokenizer, applied after its `rstrip()`; tokens joined by single spaces. */
export function tokenize13a(text: string): string {
  let line = text.replace(pyTrailingSpace, '');
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  line = ` ${line} `;
  for (const [re, repl] of regexpRules) line = line.replace(re, repl);
  return line.split(pySpaces).filter(Boolean).join(' ');
}

function ngramCounts(tokens: string[], maxOrder: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // tokens hold no spaces, so the joined n-gram is unambiguous
      const g = tokens.slice(i, i + n).join(' ');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
  }
  return m;
}

const tokensOf = (s: string) => {
  const t = tokenize13a(s);
  return t ? t.split(' ') : [];
};

export function bleuStats(hypothesis: string, reference: string): BleuStats {
  const hyp = tokensOf(hypothesis);
  const ref = tokensOf(reference);
  const h = ngramCounts(hyp, BLEU_MAX_ORDER);
  const r = ngramCounts(ref, BLEU_MAX_ORDER);
  const stats = new Array<number>(BLEU_STATS_LENGTH).fill(0);
  stats[0] = hyp.length;
  stats[1] = ref.length;
  for (const [g, c] of h) {
    const n = g.split(' ').length;
    stats[1 + BLEU_MAX_ORDER + n]! += c;
    stats[1 + n]! += Math.min(c, r.get(g) ?? 0);
  }
  return stats;
}

/** Well-formed statistics (as stored in samples): ten non-negative integers. */
export const isBleuStats = (x: unknown): x is BleuStats => Array.isArray(x) && x.length === BLEU_STATS_LENGTH && x.every((v) => Number.isInteger(v) && v >= 0);

/** sacreBLEU's compute_bleu with exp smoothing, from (summed) statistics. */
export function bleuFromStats(stats: ArrayLike<number>, opts: { effectiveOrder?: boolean } = {}): BleuScore {
  const sysLen = stats[0]!;
  const refLen = stats[1]!;
  const counts = Array.from({ length: BLEU_MAX_ORDER }, (_, i) => stats[2 + i]!);
  const totals = Array.from({ length: BLEU_MAX_ORDER }, (_, i) => stats[2 + BLEU_MAX_ORDER + i]!);
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(BLEU_MAX_ORDER).fill(0);
  const out = { counts, totals, precisions, bp, sysLen, refLen };
  if (!counts.some((c) => c !== 0)) return { score: 0, ...out };
  let smooth = 1;
  let effOrder = BLEU_MAX_ORDER;
  for (let n = 1; n <= BLEU_MAX_ORDER; n++) {
    if (totals[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (counts[n - 1] === 0) {
      smooth *= 2;
      precisions[n - 1] = 100 / (smooth * totals[n - 1]!);
    } else {
      precisions[n - 1] = (100 * counts[n - 1]!) / totals[n - 1]!;
    }
  }
  // an order without any hypothesis n-gram keeps precision 0, whose log sacreBLEU floors at -9999999999
  let logSum = 0;
  for (const p of precisions.slice(0, effOrder)) logSum += p === 0 ? -9999999999 : Math.log(p);
  return { score: bp * Math.exp(logSum / effOrder), ...out };
}

/** Element-wise sum of statistics, each row counted w[i] times (all once without weights). */
export function sumBleuStats(rows: BleuStats[], w?: ArrayLike<number>): number[] {
  const total = new Array<number>(BLEU_STATS_LENGTH).fill(0);
  for (let i = 0; i < rows.length; i++) {
    const k = w ? w[i]! : 1;
    if (k === 0) continue;
    const s = rows[i]!;
    for (let j = 0; j < BLEU_STATS_LENGTH; j++) total[j]! += k * s[j]!;
  }
  return total;
}

/** sacreBLEU's sentence_bleu: one sentence, effective order. */
export function sentenceBleu(hypothesis: string, reference: string): number {
  return bleuFromStats(bleuStats(hypothesis, reference), { effectiveOrder: true }).score;
}

export function corpusBleuScore(hypotheses: string[], references: string[]): BleuScore {
  if (hypotheses.length !== references.length) throw new Error(`${hypotheses.length} hypotheses but ${references.length} references`);
  return bleuFromStats(sumBleuStats(hypotheses.map((h, i) => bleuStats(h, references[i]!))));
}

/** sacreBLEU's corpus_bleu score (0–100). */
export function corpusBleu(hypotheses: string[], references: string[]): number {
  return corpusBleuScore(hypotheses, references).score;
}
