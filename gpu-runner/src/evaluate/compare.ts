/**
 * A candidate's result against the dense model's on the same suite rows (matched by row index), per
 * format: accuracy for multiple choice, corpus perplexity for ppl, corpus chrF or BLEU for mt.
 * Perplexity, chrF and BLEU are not means of per-row scores, so each resample recomputes them from the
 * rows it drew: exp(ΣNLL / Σtokens), chrF from summed character n-gram statistics, BLEU from summed
 * word n-gram statistics and lengths (as sacreBLEU's paired bootstrap sums sentence statistics).
 */
import { multipleChoiceFormats } from '@polyprune/shared/suites';
import { bootstrapInterval, pairedBootstrap, pairedBootstrapBy, type BootstrapOptions, type BootstrapResult } from './bootstrap.js';
import { bleuFromStats, bleuStats, isBleuStats, sumBleuStats, type BleuStats } from './bleu.js';
import { chrfFromStats, chrfStats, type ChrfStats } from './chrf.js';
import type { SuiteResult } from './suite-result.js';
import type { McPrediction } from './multipleChoice.js';
import type { TextScore } from './perplexity.js';
import type { TranslationPrediction } from './translate.js';

/** exp(Σ w·nll / Σ w·tokens): corpus perplexity of rows drawn w[i] times. */
export function weightedPerplexity(rows: Pick<TextScore, 'nll' | 'tokens'>[], w: Float64Array): number {
  let nll = 0;
  let tokens = 0;
  for (let i = 0; i < rows.length; i++) {
    nll += w[i]! * rows[i]!.nll;
    tokens += w[i]! * rows[i]!.tokens;
  }
  return tokens ? Math.exp(nll / tokens) : NaN;
}

/** Corpus chrF of rows drawn w[i] times, from each row's n-gram statistics. */
export function weightedChrf(stats: ChrfStats[], w: Float64Array): number {
  const total = new Float64Array(stats[0]?.length ?? 18);
  for (let i = 0; i < stats.length; i++) {
    if (w[i] === 0) continue;
    for (let k = 0; k < total.length; k++) total[k]! += w[i]! * stats[i]![k]!;
  }
  return chrfFromStats(total);
}

/** Corpus BLEU (sacreBLEU's corpus_bleu) of rows drawn w[i] times, from each row's statistics. */
export function weightedBleu(stats: BleuStats[], w: Float64Array): number {
  return bleuFromStats(sumBleuStats(stats, w)).score;
}

/** A comparison whose rows lack what its metric is computed from: the caller leaves that metric out. */
export class MissingRowData extends Error {}

const hasText = (p: TranslationPrediction) => typeof p.hypothesis === 'string' && typeof p.reference === 'string';

const translationStats = (rows: TranslationPrediction[]) =>
  rows.map((p) => {
    if (!hasText(p)) throw new MissingRowData(`row ${p.index} has no hypothesis and reference to compute chrF from`);
    return chrfStats(p.hypothesis, p.reference);
  });

/**
 * Each row's BLEU statistics: as stored, else (samples written before BLEU was added) from its
 * hypothesis and reference. Throws, naming the row, when it has neither.
 */
export function translationBleuStats(rows: TranslationPrediction[]): BleuStats[] {
  return rows.map((p) => {
    if (isBleuStats(p.bleuStats)) return p.bleuStats;
    if (hasText(p)) return bleuStats(p.hypothesis, p.reference);
    throw new MissingRowData(`row ${p.index} has neither BLEU statistics nor its hypothesis and reference`);
  });
}

/** The corpus metrics of mt results. */
export type MtMetric = 'chrf' | 'bleu';

function mtStatistic(rows: TranslationPrediction[], metric: MtMetric): (w: Float64Array) => number {
  if (metric === 'bleu') {
    const stats = translationBleuStats(rows);
    return (w) => weightedBleu(stats, w);
  }
  const stats = translationStats(rows);
  return (w) => weightedChrf(stats, w);
}

/** The candidate's rows and, in the same order, the dense rows with the same index. */
function paired<T extends { index: number }>(candidate: T[], dense: T[]): [T[], T[]] {
  const byIndex = new Map(dense.map((p) => [p.index, p]));
  if (byIndex.size !== candidate.length) throw new Error(`dense has ${byIndex.size} predictions, candidate ${candidate.length}`);
  const d = candidate.map((p) => {
    const x = byIndex.get(p.index);
    if (!x) throw new Error(`no comparable dense prediction for row ${p.index}`);
    return x;
  });
  return [candidate, d];
}

/**
 * Paired bootstrap of candidate − dense on the same rows: Δ accuracy (`norm`: acc_norm of harness
 * results), Δ perplexity, or Δ chrF (default) or Δ BLEU (`metric`), by the result's format.
 */
export function compareToDense(
  candidate: SuiteResult,
  dense: SuiteResult,
  opts: BootstrapOptions & { norm?: boolean; metric?: MtMetric } = {},
): BootstrapResult {
  if (candidate.format !== dense.format || candidate.lang !== dense.lang || candidate.scoring !== dense.scoring) {
    throw new Error(
      `results differ in format/lang/scoring: ${candidate.format}/${candidate.lang}/${candidate.scoring} vs ${dense.format}/${dense.lang}/${dense.scoring}`,
    );
  }
  if (candidate.format === 'ppl') {
    const [a, b] = paired(candidate.predictions as TextScore[], dense.predictions as TextScore[]);
    return pairedBootstrapBy(a.length, (w) => weightedPerplexity(a, w) - weightedPerplexity(b, w), opts);
  }
  if (candidate.format === 'mt') {
    const [a, b] = paired(candidate.predictions as TranslationPrediction[], dense.predictions as TranslationPrediction[]);
    const [fa, fb] = [mtStatistic(a, opts.metric ?? 'chrf'), mtStatistic(b, opts.metric ?? 'chrf')];
    return pairedBootstrapBy(a.length, (w) => fa(w) - fb(w), opts);
  }
  if (!multipleChoiceFormats.includes(candidate.format)) throw new Error(`no paired comparison for format ${candidate.format}`);
  const pick = (p: McPrediction) => (opts.norm ? p.correctNorm : p.correct);
  const [cand, den] = paired(candidate.predictions as McPrediction[], dense.predictions as McPrediction[]);
  const a = new Uint8Array(cand.length);
  const b = new Uint8Array(cand.length);
  cand.forEach((p, i) => {
    const d = den[i]!;
    if (pick(p) === undefined || pick(d) === undefined) throw new Error(`no comparable dense prediction for row ${p.index}`);
    a[i] = pick(p) ? 1 : 0;
    b[i] = pick(d) ? 1 : 0;
  });
  return pairedBootstrap(a, b, opts);
}

/**
 * Percentile bootstrap interval of a ppl or mt result's corpus metric (perplexity; chrF, or BLEU with
 * `metric`) over its rows; null for multiple choice, whose accuracy gets a Wilson interval from
 * (value, n) instead.
 */
export function metricInterval(r: SuiteResult, opts: BootstrapOptions & { metric?: MtMetric } = {}): { value: number; lo: number; hi: number } | null {
  if (r.n === 0 || r.predictions.length === 0) return null;
  if (r.format === 'ppl') {
    const rows = r.predictions as TextScore[];
    return bootstrapInterval(rows.length, (w) => weightedPerplexity(rows, w), opts);
  }
  if (r.format === 'mt') {
    const rows = r.predictions as TranslationPrediction[];
    return bootstrapInterval(rows.length, mtStatistic(rows, opts.metric ?? 'chrf'), opts);
  }
  return null;
}
