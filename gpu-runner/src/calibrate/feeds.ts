/**
 * The token feeds a decoder export expects, built from a calibration batch. Exports differ in
 * which of input_ids / attention_mask / position_ids they take; anything else is an error rather
 * than a guess.
 */
import { int64Tensor, type Tensor } from '../ort.js';
import type { ModelBatch } from './batches.js';

/** position_ids as HF computes them from the mask: cumulative count of real tokens, minus one. */
export function positionIds(batch: ModelBatch): BigInt64Array {
  const out = new BigInt64Array(batch.size * batch.seqLen);
  for (let b = 0; b < batch.size; b++) {
    let seen = 0n;
    for (let t = 0; t < batch.seqLen; t++) {
      const k = b * batch.seqLen + t;
      if (batch.attentionMask[k] !== 0n) seen++;
      out[k] = seen > 0n ? seen - 1n : 0n;
    }
  }
  return out;
}

export function tokenFeeds(inputNames: readonly string[], batch: ModelBatch, skip: Set<string>): Record<string, Tensor> {
  const dims = [batch.size, batch.seqLen];
  const feeds: Record<string, Tensor> = {};
  for (const name of inputNames) {
    if (skip.has(name)) continue;
    if (name === 'input_ids') feeds[name] = int64Tensor(batch.inputIds, dims);
    else if (name === 'attention_mask') feeds[name] = int64Tensor(batch.attentionMask, dims);
    else if (name === 'position_ids') feeds[name] = int64Tensor(positionIds(batch), dims);
    else if (name === 'token_type_ids') feeds[name] = int64Tensor(new BigInt64Array(batch.size * batch.seqLen), dims);
    else throw new Error(`model input "${name}" not understood: expected input_ids, attention_mask, position_ids (a decoder export without past key values)`);
  }
  return feeds;
}
