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
import type { ResultScoring, SuiteResult } from './suite-result.js';
import { evaluateTranslation, translationSignatures, type TranslationOptions } from './translate.js';

export type { ResultScoring, SuiteResult };

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

export {
  compareToDense,
  metricInterval,
  MissingRowData,
  translationBleuStats,
  weightedBleu,
  weightedChrf,
  weightedPerplexity,
  type MtMetric,
} from './compare.js';
export { describeGraph, openEvalModel, contextLengthOf, type EvalModel, type GraphIO } from './model.js';
export { scoreRequests, type ScoreStats, type BatchOptions } from './batching.js';
export { planBatches, commonPrefixLength, type ScoreRequest } from './batch-plan.js';
export { pairedBootstrap, pairedBootstrapBy, bootstrapInterval, seededRandom, type BootstrapResult, type BootstrapOptions } from './bootstrap.js';
export { chrfStats, chrfFromStats, sentenceChrf, corpusChrf } from './chrf.js';
export { BLEU_SIGNATURE, bleuStats, bleuFromStats, sentenceBleu, corpusBleu, tokenize13a, type BleuStats } from './bleu.js';
export { accuracy, macroF1, confusionMatrix } from './metrics.js';
export { evaluatePerplexity, slidingWindows } from './perplexity.js';
export { evaluateMultipleChoice } from './multipleChoice.js';
export { renderExample, firstWords, templateLanguages, type McFormat, type RenderedExample } from './templates.js';
export { encodeChoices, choiceScores, scorings, type Scoring } from './scoring.js';
export { evaluateTranslation, greedyDecode, translationPromptText, translationPromptTokens } from './translate.js';
