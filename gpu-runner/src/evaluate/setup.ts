/**
 * How evaluation puts rows into forward passes, for the run record (`extra.evaluationSetup`): a
 * model's scores can move with batching (padding, summation order), so a run says what it used.
 */
import type { EvaluationSetup } from '@polyprune/shared/api/run-provenance';
import { BATCH_DEFAULTS, batchTokens, gatheredHeadBudgets } from './batching.js';
import type { EvalModel } from './model.js';

/** The setup of the default budgets (those the service uses) on this model. */
export function evaluationSetup(model: EvalModel): EvaluationSetup {
  const setup: EvaluationSetup = {
    padding: 'right',
    order: 'length-sorted',
    maxBatchTokens: batchTokens(model),
    maxBatchSize: { scoring: BATCH_DEFAULTS.scoring, decoding: BATCH_DEFAULTS.decoding },
    kvCache: { prefix: model.cache.prefix, step: model.cache.step, padded: model.cache.padded },
  };
  const gathered = gatheredHeadBudgets(model);
  if (gathered) setup.gatheredHead = { maxBatchTokens: gathered.tokens, maxHeadRows: gathered.headRows };
  return setup;
}
