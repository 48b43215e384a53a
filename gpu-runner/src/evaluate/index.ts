/**
 * The evaluation engine's entry point: one suite (rows of one format, one language) against one model,
 * returning a JSON-serialisable result that names its scoring and keeps per-example predictions for
 * the paired bootstrap against the dense model.
 */
import { suiteRowSchemas, type MtRow, type PplRow, type SuiteFormat } from '@polyprune/shared/suites';
import type { EvalModel } from './model.js';
import { evaluateMultipleChoice, type MultipleChoiceOptions } from './multipleChoice.js';
import { evaluatePerplexity, type PerplexityOptions } from './perplexity.js';
import type { McFormat } from './templates.js';
import { resolveTemplateLang } from '@polyprune/shared/template-words';
import type { SuiteResult } from './suite-result.js';
import { evaluateTranslation, translationSignatures, type TranslationOptions } from './translate.js';

export type { SuiteResult };

export interface EvaluateOptions extends MultipleChoiceOptions, PerplexityOptions, TranslationOptions {
  /** mt suites: target language (default English: the paper evaluates X→En) */
  tgtLang?: string;
}

function parseRows(format: SuiteFormat, rows: unknown[]): unknown[] {
  const schema = suiteRowSchemas[format];
  return rows.map((row, i) => {
    const r = schema.safeParse(row);
    if (!r.success) throw new Error(`${format} row ${i} is invalid: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    return r.data;
  });
}

export async function evaluateSuite(model: EvalModel, rows: unknown[], format: SuiteFormat, lang: string, opts: EvaluateOptions = {}): Promise<SuiteResult> {
  const parsed = parseRows(format, rows);
  if (format === 'ppl') {
    const r = await evaluatePerplexity(
      model,
      (parsed as PplRow[]).map((x) => x.text),
      opts,
    );
    return { format, lang, scoring: 'perplexity', metrics: { ...r.metrics }, n: parsed.length, predictions: r.perText, stats: r.stats };
  }
  if (format === 'mt') {
    const tgtLang = opts.tgtLang ?? 'en';
    const r = await evaluateTranslation(model, parsed as MtRow[], lang, tgtLang, opts);
    return {
      format,
      lang,
      tgtLang,
      scoring: 'chrf',
      metrics: { ...r.metrics },
      n: r.metrics.n,
      predictions: r.predictions,
      stats: r.stats,
      signatures: { ...translationSignatures },
    };
  }
  // "auto" and fallbacks resolve here, so the result records the words actually used.
  const templateLang = resolveTemplateLang(opts.templateLang ?? 'en', format, lang);
  const r = await evaluateMultipleChoice(model, parsed, format as McFormat, { ...opts, templateLang });
  return {
    format,
    lang,
    templateLang,
    scoring: r.scoring,
    metrics: { ...r.metrics },
    n: r.metrics.n,
    predictions: r.predictions,
    stats: r.stats,
  };
}

// What the runner's service and the tests use of the engine, beyond evaluateSuite.
export { compareToDense, metricInterval, MissingRowData } from './compare.js';
export { describeGraph, openEvalModel, type EvalModel } from './model.js';
export type { ScoreStats } from './batching.js';
export type { BootstrapResult } from './bootstrap.js';
