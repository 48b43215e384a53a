/** What evaluating one suite returns (index.ts), in a module of its own: compare.ts reads it too. */
import type { SuiteFormat } from '@polyprune/shared/suites';
import type { ScoreStats } from './batching.js';
import type { McPrediction } from './multipleChoice.js';
import type { TextScore } from './perplexity.js';
import type { Scoring } from './scoring.js';
import type { DecodeStats, TranslationPrediction } from './translate.js';

export type ResultScoring = Scoring | 'perplexity' | 'chrf';

export interface SuiteResult {
  format: SuiteFormat;
  lang: string;
  scoring: ResultScoring;
  metrics: Record<string, number>;
  n: number;
  predictions: McPrediction[] | TextScore[] | TranslationPrediction[];
  /** work done: forward tokens, batches, tokens saved by dedupe / prefix sharing */
  stats: ScoreStats | DecodeStats;
  /** template language (multiple choice) or target language (mt) */
  templateLang?: string;
  tgtLang?: string;
  /** mt: each corpus metric's settings in sacreBLEU's signature notation ({ bleu }) */
  signatures?: Record<string, string>;
}
