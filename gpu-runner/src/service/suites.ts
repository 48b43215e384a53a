/**
 * Evaluating a job's suites with one model and turning the engine's results into the API's score
 * rows (metric names as the leaderboard knows them: acc, acc_norm, f1, f1_norm, ppl, bpb, chrf).
 */
import { readFile } from 'node:fs/promises';
import type { SuiteFormat } from '../../../shared/src/suites';
import { compareToDense, evaluateSuite, openEvalModel, type SuiteResult } from '../evaluate/index';
import { multipleChoiceFormats } from '../../../shared/src/suites';
import { rowLabel, stratifiedSubset } from '../../../shared/src/subset';
import type { Device } from '../ort';
import type { ScoreRow } from './protocol';
import type { JobContext } from './worker-loop';

type ScoringName = 'paper' | 'harness';

export async function readJsonl(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  const rows: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line));
    } catch (err) {
      throw new Error(`${file} line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
  });
  return rows;
}

/** Score rows of one engine result; format-independent metrics are reported under `scoring`. */
export function scoreRows(suiteId: string, r: SuiteResult, scoring: ScoringName): ScoreRow[] {
  const base = { suiteId, format: r.format, lang: r.lang, scoring, n: r.n, ...(r.templateLang ? { templateLang: r.templateLang } : {}) };
  const m = r.metrics;
  const rows: ScoreRow[] = [];
  const add = (metric: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) rows.push({ ...base, metric, value: v });
  };
  if (r.scoring === 'perplexity') {
    add('ppl', m.perplexity);
    add('bpb', m.bitsPerByte);
  } else if (r.scoring === 'chrf') {
    add('chrf', m.chrf);
  } else {
    add('acc', m.accuracy);
    add('f1', m.macroF1);
    add('acc_norm', m.accNorm);
    add('f1_norm', m.macroF1Norm);
  }
  return rows;
}

export interface SuiteRun {
  scores: ScoreRow[];
  /** Per suite and scoring: the engine's summary (without per-example predictions). */
  summaries: Array<{ suiteId: string; format: string; lang: string; scoring: string; metrics: Record<string, number>; n: number; seconds: number }>;
  seconds: number;
}

/**
 * Evaluates every suite input of the job with the model in `modelDir` (its graph file, tokenizer.json,
 * config.json side by side). Perplexity and translation do not depend on the scoring, so they are
 * computed once and reported under the job's first scoring.
 */
/**
 * Paired bootstrap of a pruned model's accuracy against the dense model's on the same rows,
 * reported as extra metrics next to acc: `acc_delta` with its 95% interval and p-value, so a
 * leaderboard can say which differences are real.
 */
export function bootstrapRows(suiteId: string, pruned: SuiteResult, dense: SuiteResult, scoring: ScoringName): ScoreRow[] {
  const base = {
    suiteId,
    format: pruned.format,
    lang: pruned.lang,
    scoring,
    n: pruned.n,
    ...(pruned.templateLang ? { templateLang: pruned.templateLang } : {}),
  };
  const b = compareToDense(pruned, dense, { seed: 0, resamples: 1000 });
  return [
    { ...base, metric: 'acc_delta', value: b.delta },
    { ...base, metric: 'acc_delta_lo', value: b.ciLow },
    { ...base, metric: 'acc_delta_hi', value: b.ciHigh },
    { ...base, metric: 'acc_delta_p', value: b.pValue },
  ];
}

export async function evaluateSuites(
  ctx: JobContext,
  modelDir: string,
  opts: {
    scoring: ScoringName[];
    templateLang: string;
    device: Device | 'auto';
    denseDir?: string;
    graphFile?: string;
    /** the job's per-suite row limit: a seeded subset, stratified by label (shared/src/subset.ts) */
    limit?: { rows: number; seed: number };
  },
): Promise<SuiteRun> {
  const started = performance.now();
  const suites = ctx.inputs.filter((i) => i.role === 'suite');
  const out: SuiteRun = { scores: [], summaries: [], seconds: 0 };
  if (suites.length === 0) return out;
  // The bootstrap's dense pass comes after the pruned model's session is released: one model in
  // memory at a time (a 2 GB model would otherwise need twice its size).
  const bootstrap: Array<{ suiteId: string; rows: unknown[]; format: SuiteFormat; lang: string; scoring: ScoringName; pruned: SuiteResult }> = [];
  const model = await ctx.step('open-model', () => openEvalModel(modelDir, { device: opts.device, log: ctx.log, graphFile: opts.graphFile }));
  try {
    for (const [k, s] of suites.entries()) {
      const suiteId = String(s.meta.suiteId ?? s.name);
      const format = String(s.meta.format) as SuiteFormat;
      const lang = String(s.meta.lang);
      const all = await readJsonl(await ctx.input(s.name));
      const rows = opts.limit ? stratifiedSubset(all, opts.limit.rows, opts.limit.seed, rowLabel).map((i) => all[i]) : all;
      const scorings: ScoringName[] = format === 'ppl' || format === 'mt' ? [opts.scoring[0]!] : opts.scoring;
      for (const scoring of scorings) {
        const stage = `evaluate ${format}.${lang} ${scoring} (${k + 1}/${suites.length})`;
        const t0 = performance.now();
        const r = await ctx.step(stage, () =>
          evaluateSuite(model, rows, format, lang, {
            scoring,
            templateLang: opts.templateLang,
            onProgress: (_stage, done, total) => ctx.progress(stage, done, total),
            stage,
          }),
        );
        out.scores.push(...scoreRows(suiteId, r, scoring));
        if (opts.denseDir && multipleChoiceFormats.includes(format)) bootstrap.push({ suiteId, rows, format, lang, scoring, pruned: r });
        out.summaries.push({ suiteId, format, lang, scoring, metrics: r.metrics, n: r.n, seconds: (performance.now() - t0) / 1000 });
      }
    }
  } finally {
    await model.session.release().catch(() => undefined);
  }
  if (bootstrap.length && opts.denseDir) {
    const dense = await ctx.step('open-dense-model', () => openEvalModel(opts.denseDir!, { device: opts.device, log: ctx.log, graphFile: opts.graphFile }));
    try {
      for (const b of bootstrap) {
        const stage = `evaluate dense ${b.format}.${b.lang} ${b.scoring} (bootstrap)`;
        const d = await ctx.step(stage, () =>
          evaluateSuite(dense, b.rows, b.format, b.lang, {
            scoring: b.scoring,
            templateLang: opts.templateLang,
            onProgress: (_s, done, total) => ctx.progress(stage, done, total),
            stage,
          }),
        );
        out.scores.push(...bootstrapRows(b.suiteId, b.pruned, d, b.scoring));
      }
    } finally {
      await dense.session.release().catch(() => undefined);
    }
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}
