/**
 * Evaluating a job's suites with one model and turning the engine's results into the API's score
 * rows (metric names as the leaderboard knows them: acc, acc_norm, f1, f1_norm, ppl, bpb, chrf, bleu; rankc and
 * rankc_asc for a language-X suite with a parallel English suite in the job, service/rankc.ts).
 */
import { readFile } from 'node:fs/promises';
import type { EvaluationSetup, RunSeeds } from '@polyprune/shared/api/run-provenance';
import type { SuiteFormat } from '@polyprune/shared/suites';
import { compareToDense, evaluateSuite, metricInterval, MissingRowData, openEvalModel, type BootstrapResult, type SuiteResult } from '../evaluate/index';
import { evaluationSetup } from '../evaluate/setup';
import { rowLabel, stratifiedSubset } from '@polyprune/shared/subset';
import type { Device } from '../ort';
import type { ScoreRow } from './protocol';
import { jobRankc, planRankc, type RankcPlan, type RankcSuite } from './rankc';
import { DENSE_BOOTSTRAP, METRIC_INTERVALS } from './bootstrap-settings';
import { decodeSamples, encodeSamples, type SampleSet, type SamplesHeader, sameDenseRows } from './samples';
import type { JobContext } from './lease-loop';

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
  // Corpus perplexity, chrF and BLEU have no closed-form interval: a percentile bootstrap over rows.
  const iv = r.scoring === 'perplexity' || r.scoring === 'chrf' ? metricInterval(r, METRIC_INTERVALS) : null;
  if (r.scoring === 'perplexity') {
    add('ppl', m.perplexity);
    add('ppl_lo', iv?.lo);
    add('ppl_hi', iv?.hi);
    add('bpb', m.bitsPerByte);
  } else if (r.scoring === 'chrf') {
    add('chrf', m.chrf);
    add('chrf_lo', iv?.lo);
    add('chrf_hi', iv?.hi);
    if (m.bleu !== undefined) {
      const b = metricInterval(r, { ...METRIC_INTERVALS, metric: 'bleu' });
      add('bleu', m.bleu);
      add('bleu_lo', b?.lo);
      add('bleu_hi', b?.hi);
    }
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
  /** artifacts uploaded: samples.jsonl.gz (this model's rows), dense-samples.jsonl.gz (dense rows scored for the bootstrap) */
  artifacts: string[];
  /** bootstrap inputs: how many (suite, scoring) dense results came from stored samples, and how many were scored here */
  denseReused: number;
  denseScored: number;
  /** Per suite and scoring: the engine's summary (without per-example predictions), the passes it took; mt: sacreBLEU signatures. */
  summaries: Array<{
    suiteId: string;
    format: string;
    lang: string;
    scoring: string;
    metrics: Record<string, number>;
    n: number;
    seconds: number;
    passes: SuiteResult['stats'];
    signatures?: Record<string, string>;
  }>;
  /** paired bootstraps that could not be computed: which suite and metric, and why */
  bootstrapSkipped: Array<{ suiteId: string; metric: string; reason: string }>;
  /** recorded on the run as `extra.rankc`: the (language X, English) suites compared, and why the others were not */
  rankc: { pairs: RankcPlan['pairs']; absent: RankcPlan['absent'] };
  /** how rows were batched and padded (absent when no suite was evaluated) */
  setup?: EvaluationSetup;
  /** the seeds of the sampled steps that ran */
  seeds: RunSeeds;
  seconds: number;
}

/** run.extra.bootstrapDense: where the dense rows came from, and which comparisons were left out. */
export function bootstrapDenseExtra(run: SuiteRun): { reused: number; scored: number; skipped?: SuiteRun['bootstrapSkipped'] } {
  return { reused: run.denseReused, scored: run.denseScored, ...(run.bootstrapSkipped.length ? { skipped: run.bootstrapSkipped } : {}) };
}

/**
 * Evaluates every suite input of the job with the model in `modelDir` (its graph file, tokenizer.json,
 * config.json side by side). Perplexity and translation do not depend on the scoring, so they are
 * computed once and reported under the job's first scoring.
 */
/**
 * Paired bootstrap of a pruned model's result against the dense model's on the same rows, reported
 * as extra metrics next to the format's metric (acc, ppl, or chrf and bleu): `<metric>_delta` with its
 * 95% interval and p-value, so a leaderboard can say which differences are real. An mt metric whose
 * rows lack what it is computed from (chrF: the text; BLEU: stored statistics or the text) is left
 * out and reported to `onSkip`.
 */
export function bootstrapRows(
  suiteId: string,
  pruned: SuiteResult,
  dense: SuiteResult,
  scoring: ScoringName,
  onSkip: (metric: string, reason: string) => void = () => {},
): ScoreRow[] {
  const base = {
    suiteId,
    format: pruned.format,
    lang: pruned.lang,
    scoring,
    n: pruned.n,
    ...(pruned.templateLang ? { templateLang: pruned.templateLang } : {}),
  };
  const rows = (metric: string, b: BootstrapResult): ScoreRow[] =>
    [
      { ...base, metric: `${metric}_delta`, value: b.delta },
      { ...base, metric: `${metric}_delta_lo`, value: b.ciLow },
      { ...base, metric: `${metric}_delta_hi`, value: b.ciHigh },
      { ...base, metric: `${metric}_delta_p`, value: b.pValue },
    ].filter((x) => Number.isFinite(x.value));
  const opts = DENSE_BOOTSTRAP;
  if (pruned.format !== 'mt') return rows(pruned.format === 'ppl' ? 'ppl' : 'acc', compareToDense(pruned, dense, opts));
  return (['chrf', 'bleu'] as const).flatMap((metric) => {
    try {
      return rows(metric, compareToDense(pruned, dense, { ...opts, metric }));
    } catch (err) {
      if (!(err instanceof MissingRowData)) throw err;
      onSkip(metric, err.message);
      return [];
    }
  });
}

/** Stored dense rows are keyed by suite and scoring; perplexity and translation rows do not depend on the scoring. */
const denseKey = (b: { suiteId: string; format: SuiteFormat; scoring: string }) =>
  b.format === 'ppl' || b.format === 'mt' ? b.suiteId : `${b.suiteId}/${b.scoring}`;

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
    /** fp16 weights on CPU: onnxruntime's folded fp32 copy, or cast per run where that does not fit (memory-check.ts) */
    fp16Weights?: 'fold' | 'per-run';
  },
): Promise<SuiteRun> {
  const started = performance.now();
  const suites = ctx.inputs.filter((i) => i.role === 'suite');
  const out: SuiteRun = {
    scores: [],
    artifacts: [],
    denseReused: 0,
    denseScored: 0,
    summaries: [],
    bootstrapSkipped: [],
    rankc: { pairs: [], absent: [] },
    seeds: {},
    seconds: 0,
  };
  if (suites.length === 0) return out;
  if (opts.limit) out.seeds.rowLimit = { rows: opts.limit.rows, seed: opts.limit.seed };
  const graph = ctx.inputs.find((i) => i.role === 'model' && i.meta.graph === true) ?? ctx.inputs.find((i) => i.name === 'model.onnx');
  const header = (dense: boolean): SamplesHeader => ({
    modelSha256: graph?.sha256 ?? null,
    dense,
    templateLang: opts.templateLang,
    limit: opts.limit ?? null,
    suites: Object.fromEntries(suites.map((s) => [String(s.meta.suiteId ?? s.name), s.sha256])),
  });
  const own: SampleSet[] = [];
  const described: RankcSuite[] = [];
  /** dense results of the bootstrap, stored or scored here, by `${suiteId}/${scoring}` (RankC's Δ pairs two suites' rows) */
  const denseResults = new Map<string, SuiteResult>();
  // The bootstrap's dense pass comes after the pruned model's session is released: one model in
  // memory at a time (a 2 GB model would otherwise need twice its size).
  const bootstrap: Array<{ suiteId: string; rows: unknown[]; format: SuiteFormat; lang: string; scoring: ScoringName; pruned: SuiteResult }> = [];
  const model = await ctx.step('open-model', () =>
    openEvalModel(modelDir, { device: opts.device, log: ctx.log, graphFile: opts.graphFile, fp16Weights: opts.fp16Weights }),
  );
  out.setup = evaluationSetup(model);
  try {
    for (const [k, s] of suites.entries()) {
      const suiteId = String(s.meta.suiteId ?? s.name);
      const format = String(s.meta.format) as SuiteFormat;
      const lang = String(s.meta.lang);
      const all = await readJsonl(await ctx.input(s.name));
      const rows = opts.limit ? stratifiedSubset(all, opts.limit.rows, opts.limit.seed, rowLabel).map((i) => all[i]) : all;
      described.push({
        suiteId,
        format,
        lang,
        task: typeof s.meta.task === 'string' ? s.meta.task : suiteId,
        rows: all.length,
        subset: subsetOf(s.meta.subset),
      });
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
        own.push({ suiteId, scoring, result: r });
        if (opts.denseDir && r.n > 0) bootstrap.push({ suiteId, rows, format, lang, scoring, pruned: r });
        if (r.scoring === 'perplexity' || r.scoring === 'chrf') out.seeds.metricIntervals = { ...METRIC_INTERVALS };
        out.summaries.push({
          suiteId,
          format,
          lang,
          scoring,
          metrics: r.metrics,
          n: r.n,
          seconds: (performance.now() - t0) / 1000,
          passes: r.stats,
          ...(r.signatures ? { signatures: r.signatures } : {}),
        });
      }
    }
  } finally {
    await model.session.release().catch(() => undefined);
  }
  const name = 'samples.jsonl.gz';
  await ctx.step('upload-samples', () => ctx.upload(name, encodeSamples(header(!opts.denseDir), own)));
  out.artifacts.push(name);
  if (bootstrap.length && opts.denseDir) {
    const skip = (suiteId: string) => (metric: string, reason: string) => {
      out.bootstrapSkipped.push({ suiteId, metric, reason });
      ctx.log(`no ${metric} bootstrap vs dense on ${suiteId}: ${reason}`);
    };
    out.seeds.bootstrap = { ...DENSE_BOOTSTRAP };
    const stored = await storedDenseRows(ctx, header(true));
    const scored: SampleSet[] = [];
    const missing = bootstrap.filter((b) => {
      const rows = stored.get(denseKey(b));
      if (!rows) return true;
      const dense: SuiteResult = { ...b.pruned, predictions: rows, metrics: {}, n: rows.length };
      out.scores.push(...bootstrapRows(b.suiteId, b.pruned, dense, b.scoring, skip(b.suiteId)));
      scored.push({ suiteId: b.suiteId, scoring: b.scoring, result: dense });
      denseResults.set(`${b.suiteId}/${b.scoring}`, dense);
      out.denseReused++;
      return false;
    });
    if (missing.length) {
      const dense = await ctx.step('open-dense-model', () =>
        openEvalModel(opts.denseDir!, { device: opts.device, log: ctx.log, graphFile: opts.graphFile, fp16Weights: opts.fp16Weights }),
      );
      try {
        for (const b of missing) {
          const stage = `evaluate dense ${b.format}.${b.lang} ${b.scoring} (bootstrap)`;
          const d = await ctx.step(stage, () =>
            evaluateSuite(dense, b.rows, b.format, b.lang, {
              scoring: b.scoring,
              templateLang: opts.templateLang,
              onProgress: (_s, done, total) => ctx.progress(stage, done, total),
              stage,
            }),
          );
          out.scores.push(...bootstrapRows(b.suiteId, b.pruned, d, b.scoring, skip(b.suiteId)));
          scored.push({ suiteId: b.suiteId, scoring: b.scoring, result: d });
          denseResults.set(`${b.suiteId}/${b.scoring}`, d);
          out.denseScored++;
        }
      } finally {
        await dense.session.release().catch(() => undefined);
      }
      // Stored once, with the reused rows too so that one file covers the job: the next job on these
      // model bytes and suites reads it instead of scoring dense again.
      await ctx.step('upload-dense-samples', () => ctx.upload('dense-samples.jsonl.gz', encodeSamples(header(true), scored)));
      out.artifacts.push('dense-samples.jsonl.gz');
    }
  }
  // From the rows just scored (the same rows samples.jsonl.gz stores): nothing is scored again.
  const rankc = jobRankc(planRankc(described), new Map(own.map((o) => [`${o.suiteId}/${o.scoring}`, o.result])), opts.denseDir ? denseResults : null);
  out.scores.push(...rankc.scores);
  out.rankc = { pairs: rankc.pairs, absent: rankc.absent };
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

/** The upload subset the lease names for a suite (its stats.subset), if any. */
function subsetOf(v: unknown): RankcSuite['subset'] {
  if (!v || typeof v !== 'object') return null;
  const s = v as Record<string, unknown>;
  if (typeof s.n !== 'number' || typeof s.seed !== 'number') return null;
  return { n: s.n, seed: s.seed, ...(typeof s.of === 'number' ? { of: s.of } : {}) };
}

/**
 * Dense per-row results the lease offered (role dense-samples), keyed as `denseKey`; only
 * those scored with the same model bytes, template language, row limit and suite bytes count,
 * whatever the server thought: anything else would pair rows that are not the same rows.
 */
async function storedDenseRows(ctx: JobContext, want: SamplesHeader): Promise<Map<string, SuiteResult['predictions']>> {
  const out = new Map<string, SuiteResult['predictions']>();
  for (const input of ctx.inputs.filter((i) => i.role === 'dense-samples')) {
    try {
      const { header, rows, text } = decodeSamples(new Uint8Array(await readFile(await ctx.input(input.name))));
      if (!sameDenseRows(header, want)) continue;
      for (const [k, list] of rows) {
        const suiteId = k.slice(0, k.lastIndexOf('/'));
        if (want.suites[suiteId] && header.suites[suiteId] === want.suites[suiteId] && !out.has(k)) out.set(k, list);
      }
      for (const [suiteId, list] of text) {
        if (want.suites[suiteId] && header.suites[suiteId] === want.suites[suiteId] && !out.has(suiteId)) out.set(suiteId, list);
      }
    } catch (err) {
      ctx.log(`ignoring dense samples ${input.name}: ${(err as Error).message}`);
    }
  }
  return out;
}
