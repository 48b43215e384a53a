/**
 * Zero-shot multiple choice: render → encode → score every choice in shared batches → pick the
 * best choice per example → accuracy and macro-F1. Each example's choices form one prefix-sharing group.
 */
import type { ScoreRequest } from './batch-plan.js';
import { scoreRequests, type BatchOptions, type ScoreStats } from './batching.js';
import { accuracy, macroF1 } from './metrics.js';
import type { EvalModel } from './model.js';
import { argmax, choiceScores, encodeChoices, scoreFrom, type EncodedChoice, type Scoring } from './scoring.js';
import { classCount, renderExample, type McFormat } from './templates.js';

export interface MultipleChoiceOptions extends BatchOptions {
  scoring?: Scoring;
  /** language of the template words (default English, as the reference) */
  templateLang?: string;
  bosId?: number;
}

export interface McPrediction {
  /** row index in the suite */
  index: number;
  label: number;
  pred: number;
  correct: boolean;
  scores: number[];
  /** per choice: summed log-likelihood of the continuation and the number of tokens it spans (logged samples) */
  logLikelihoods?: number[];
  tokens?: number[];
  /** harness only: acc_norm's choice and scores */
  predNorm?: number;
  correctNorm?: boolean;
  scoresNorm?: number[];
}

export interface McMetrics {
  accuracy: number;
  macroF1: number;
  n: number;
  /** rows the format dropped (MARC 3-star) */
  dropped: number;
  accNorm?: number;
  macroF1Norm?: number;
}

export async function evaluateMultipleChoice(
  model: EvalModel,
  rows: unknown[],
  format: McFormat,
  opts: MultipleChoiceOptions = {},
): Promise<{ scoring: Scoring; metrics: McMetrics; predictions: McPrediction[]; stats: ScoreStats }> {
  const scoring = opts.scoring ?? 'paper';
  const rendered = rows.map((r) => renderExample(format, r, opts.templateLang));
  const kept = rendered.flatMap((ex, index) => (ex ? [{ ex, index }] : []));
  const encodeOpts = { bosId: opts.bosId, emptyContextId: model.tokenizer.eosId, contextLength: model.contextLength };
  const encoded: EncodedChoice[][] = kept.map(({ ex }) => encodeChoices(model.tokenizer, ex, encodeOpts));
  const requests: ScoreRequest[] = [];
  encoded.forEach((choices, group) => {
    for (const c of choices) requests.push({ tokens: c.tokens, scoreFrom: scoreFrom(c, scoring), group });
  });
  const { logprobs, stats } = await scoreRequests(model, requests, { ...opts, stage: opts.stage ?? `score ${format}` });

  let r = 0;
  const predictions: McPrediction[] = kept.map(({ ex, index }, k) => {
    const choices = encoded[k]!;
    const lp = choices.map(() => logprobs[r++]!);
    const s = choiceScores(choices, lp, scoring);
    const pred = argmax(s.scores);
    const p: McPrediction = {
      index,
      label: ex.label,
      pred,
      correct: pred === ex.label,
      scores: s.scores,
      logLikelihoods: lp.map((x) => x.reduce((a, b) => a + b, 0)),
      tokens: lp.map((x) => x.length),
    };
    if (s.scoresNorm) {
      p.predNorm = argmax(s.scoresNorm);
      p.correctNorm = p.predNorm === ex.label;
      p.scoresNorm = s.scoresNorm;
    }
    return p;
  });
  const classes = classCount(
    format,
    kept.map((k) => k.ex),
  );
  const gold = predictions.map((p) => p.label);
  const pred = predictions.map((p) => p.pred);
  const metrics: McMetrics = {
    accuracy: accuracy(gold, pred),
    macroF1: macroF1(gold, pred, classes),
    n: predictions.length,
    dropped: rows.length - kept.length,
  };
  if (scoring === 'harness') {
    const predNorm = predictions.map((p) => p.predNorm!);
    metrics.accNorm = accuracy(gold, predNorm);
    metrics.macroF1Norm = macroF1(gold, predNorm, classes);
  }
  return { scoring, metrics, predictions, stats };
}
