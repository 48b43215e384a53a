/**
 * RankC score rows of a job: each multiple-choice suite of a language other than English is paired
 * with an English suite of the same task scored in the same job, and its items' candidate rankings
 * are compared with the English ones (evaluate/rankc.ts). A suite without a parallel English partner
 * gets no RankC row; the reason is kept for the run (`extra.rankc.absent`), where the leaderboard's
 * note reads it.
 *
 * Parallel: the same task and format, the same number of stored rows and the same upload subset (n,
 * seed, of) — the job's row limit is the same for every suite — and, once scored, the same items kept
 * with the same gold label each (a cheap check that item i is the same item in both languages).
 */
import { multipleChoiceFormats, type SuiteFormat } from '@polyprune/shared/suites';
import { bootstrapInterval, pairedBootstrapBy } from '../evaluate/bootstrap';
import type { SuiteResult } from '../evaluate/index';
import type { McPrediction } from '../evaluate/multipleChoice';
import { type RankOrder, rankcPerItem } from '../evaluate/rankc';
import { DENSE_BOOTSTRAP, METRIC_INTERVALS } from './bootstrap-settings';
import type { ScoreRow } from './protocol';

export interface RankcSuite {
  suiteId: string;
  format: SuiteFormat;
  lang: string;
  /** the suite's task (its name unless uploaded with task=) */
  task: string;
  /** stored rows, before the job's row limit */
  rows: number;
  /** the upload subset the stored rows are, if any */
  subset: { n: number; seed: number; of?: number } | null;
}

export interface RankcPlan {
  /** language-X suite → the English suite it is compared with */
  pairs: Array<{ suiteId: string; englishId: string }>;
  absent: Array<{ suiteId: string; reason: string }>;
}

/** The metric names: the Qi et al. order under `rankc`, the authors' code's under `rankc_asc`. */
export const rankcMetrics: Record<RankOrder, string> = { desc: 'rankc', asc: 'rankc_asc' };

export const isEnglish = (lang: string) => lang === 'en' || lang.startsWith('en-');

const subsetText = (s: RankcSuite) =>
  s.subset ? `subset n=${s.subset.n} seed=${s.subset.seed}${s.subset.of !== undefined ? ` of ${s.subset.of}` : ''}` : 'no subset';
const sameSubset = (a: RankcSuite, b: RankcSuite) =>
  a.subset === null || b.subset === null ? a.subset === b.subset : a.subset.n === b.subset.n && a.subset.seed === b.subset.seed && a.subset.of === b.subset.of;

/** Which suites get RankC and against which English suite; the first parallel English suite of the task wins. */
export function planRankc(suites: RankcSuite[]): RankcPlan {
  const plan: RankcPlan = { pairs: [], absent: [] };
  for (const s of suites) {
    if (!multipleChoiceFormats.includes(s.format) || isEnglish(s.lang)) continue;
    const english = suites.filter((e) => isEnglish(e.lang) && e.task === s.task);
    const absent = (reason: string) => plan.absent.push({ suiteId: s.suiteId, reason });
    if (english.length === 0) {
      absent(`no English suite of task "${s.task}" in the job`);
      continue;
    }
    const partner = english.find((e) => e.format === s.format && e.rows === s.rows && sameSubset(e, s));
    if (partner) {
      plan.pairs.push({ suiteId: s.suiteId, englishId: partner.suiteId });
      continue;
    }
    // The closest English suite names the reason: one of the same format if there is one.
    const e = english.find((x) => x.format === s.format) ?? english[0]!;
    if (e.format !== s.format) absent(`the English suite ${e.suiteId} of task "${s.task}" is ${e.format}, this one ${s.format}`);
    else
      absent(
        `not parallel to the English suite ${e.suiteId} of task "${s.task}": ${e.rows} rows (${subsetText(e)}) there, ${s.rows} rows (${subsetText(s)}) here`,
      );
  }
  return plan;
}

/** The per-choice scores of both languages' items, aligned by row index; a reason when the items are not the same. */
export function alignItems(english: McPrediction[], other: McPrediction[]): { en: number[][]; x: number[][]; rows: number[] } | { reason: string } {
  const byIndex = new Map(english.map((p) => [p.index, p]));
  if (english.length !== other.length) return { reason: `${english.length} items scored in English, ${other.length} here` };
  const en: number[][] = [];
  const x: number[][] = [];
  const rows: number[] = [];
  for (const p of other) {
    const e = byIndex.get(p.index);
    if (!e) return { reason: `row ${p.index} was scored here but not in English` };
    if (e.label !== p.label) return { reason: `row ${p.index} has gold label ${e.label} in English, ${p.label} here: not the same items` };
    if (e.scores.length !== p.scores.length) return { reason: `row ${p.index} has ${e.scores.length} candidates in English, ${p.scores.length} here` };
    en.push(e.scores);
    x.push(p.scores);
    rows.push(p.index);
  }
  return { en, x, rows };
}

/** Per-item RankC of one language-X result against the English result of the same model and scoring. */
export function rankcItems(
  english: SuiteResult,
  other: SuiteResult,
  order: RankOrder,
  k?: number,
): { items: Float64Array; rows: number[] } | { reason: string } {
  const a = alignItems(english.predictions as McPrediction[], other.predictions as McPrediction[]);
  if ('reason' in a) return a;
  return { items: rankcPerItem(a.en, a.x, { order, k }), rows: a.rows };
}

const weightedMean = (xs: Float64Array, w: Float64Array) => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    s += w[i]! * xs[i]!;
    n += w[i]!;
  }
  return n ? s / n : NaN;
};

type Base = Omit<ScoreRow, 'metric' | 'value'>;

/** `rankc` (or `rankc_asc`): the mean over items, with its percentile bootstrap interval over items. */
export function rankcValueRows(base: Base, metric: string, items: Float64Array): ScoreRow[] {
  if (items.length === 0) return [];
  const iv = bootstrapInterval(items.length, (w) => weightedMean(items, w), METRIC_INTERVALS);
  return [
    { ...base, metric, value: iv.value },
    { ...base, metric: `${metric}_lo`, value: iv.lo },
    { ...base, metric: `${metric}_hi`, value: iv.hi },
  ].filter((r) => Number.isFinite(r.value));
}

/**
 * RankC of the pruned model − RankC of the dense model on the same items, paired bootstrap over items
 * (both models' per-item RankC drawn with the same indices), as `<metric>_delta`, `_lo`, `_hi`, `_p`.
 */
export function rankcDeltaRows(
  base: Base,
  metric: string,
  pruned: { items: Float64Array; rows: number[] },
  dense: { items: Float64Array; rows: number[] },
): ScoreRow[] {
  const byRow = new Map(dense.rows.map((r, i) => [r, dense.items[i]!]));
  if (byRow.size !== pruned.rows.length) throw new Error(`dense RankC has ${byRow.size} items, pruned ${pruned.rows.length}`);
  const diff = Float64Array.from(pruned.rows, (r, i) => {
    const d = byRow.get(r);
    if (d === undefined) throw new Error(`no dense RankC for row ${r}`);
    return pruned.items[i]! - d;
  });
  const b = pairedBootstrapBy(diff.length, (w) => weightedMean(diff, w), DENSE_BOOTSTRAP);
  return [
    { ...base, metric: `${metric}_delta`, value: b.delta },
    { ...base, metric: `${metric}_delta_lo`, value: b.ciLow },
    { ...base, metric: `${metric}_delta_hi`, value: b.ciHigh },
    { ...base, metric: `${metric}_delta_p`, value: b.pValue },
  ].filter((r) => Number.isFinite(r.value));
}

export interface JobRankc {
  scores: ScoreRow[];
  /** what the run records (`extra.rankc`): the pairs compared and the suites without RankC, with why */
  pairs: RankcPlan['pairs'];
  absent: RankcPlan['absent'];
}

/**
 * RankC rows of every planned pair and scoring from this model's results (`own`) and, for a pruned
 * model, Δ vs the dense model's results on the same suites (`dense`), both keyed `${suiteId}/${scoring}`.
 */
export function jobRankc(plan: RankcPlan, own: Map<string, SuiteResult>, dense: Map<string, SuiteResult> | null, opts: { k?: number } = {}): JobRankc {
  const out: JobRankc = { scores: [], pairs: [], absent: [...plan.absent] };
  const scoringsOf = (suiteId: string) => [...own.keys()].filter((k) => k.startsWith(`${suiteId}/`)).map((k) => k.slice(suiteId.length + 1));
  for (const pair of plan.pairs) {
    let reason: string | null = null;
    for (const scoring of scoringsOf(pair.suiteId)) {
      const x = own.get(`${pair.suiteId}/${scoring}`)!;
      const en = own.get(`${pair.englishId}/${scoring}`);
      if (!en || x.n === 0) continue;
      const base: Base = {
        suiteId: pair.suiteId,
        format: x.format,
        lang: x.lang,
        scoring: scoring as ScoreRow['scoring'],
        n: x.n,
        ...(x.templateLang ? { templateLang: x.templateLang } : {}),
      };
      for (const order of ['desc', 'asc'] as const) {
        const mine = rankcItems(en, x, order, opts.k);
        if ('reason' in mine) {
          reason = mine.reason;
          break;
        }
        out.scores.push(...rankcValueRows(base, rankcMetrics[order], mine.items));
        const dx = dense?.get(`${pair.suiteId}/${scoring}`);
        const de = dense?.get(`${pair.englishId}/${scoring}`);
        const theirs = dx && de ? rankcItems(de, dx, order, opts.k) : null;
        if (theirs && !('reason' in theirs)) out.scores.push(...rankcDeltaRows(base, rankcMetrics[order], mine, theirs));
      }
      if (reason) break;
    }
    if (reason) out.absent.push({ suiteId: pair.suiteId, reason: `not parallel to the English suite ${pair.englishId}: ${reason}` });
    else out.pairs.push(pair);
  }
  // A suite found not parallel under one scoring gets no RankC under any.
  const dropped = new Set(out.absent.map((a) => a.suiteId));
  out.scores = out.scores.filter((s) => !dropped.has(s.suiteId));
  return out;
}
