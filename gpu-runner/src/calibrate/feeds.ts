/**
 * The feeds a decoder export expects for one calibration batch, built from the session's declared
 * inputs: token ids, mask and positions in the integer type the graph declares, an empty cache
 * (past length 0) in the declared layout for graphs exported with past key/values, and
 * `use_cache_branch = false` for optimum's merged decoders. Anything else is an error, not a guess.
 *
 * What calibration shows the graph of its padding (the rule, stated once in docs/design.md §3.2):
 * with maskPadding false the graph gets what the reference's `model(input_ids)`
 * amounts to — an attention mask of ones and positions 0…T−1 — so pads are attended like tokens
 * and count in the statistics; with maskPadding true it gets the padding mask and positions derived
 * from it, and pad rows are left out of the statistics. Evaluation feeds its own (real) masks.
 */
import type { CalibrationFeeds } from '@polyprune/shared/api/run-provenance';
import { cacheShape, parsePast, positionIdsFromMask, type ModelConfig } from '../onnx/graph-io.js';
import { intTensor, ort, zeroTensor, type Session, type Tensor } from '../ort.js';
import type { ModelBatch } from './batches.js';

export interface FeedRule {
  /** true: the graph sees the padding mask and pad rows are dropped; false: the reference's call. */
  maskPadding: boolean;
  /** the model's side files (head counts resolve symbolic cache dims) */
  config?: ModelConfig;
}

const intType = (name: string, type: string): 'int64' | 'int32' => {
  if (type === 'int64' || type === 'int32') return type;
  throw new Error(`graph input "${name}" is ${type}; expected int64 or int32`);
};

/** The attention mask the graph is fed: the batch's padding mask, or ones (the reference's call). */
export function fedMask(batch: ModelBatch, maskPadding: boolean): BigInt64Array {
  return maskPadding ? batch.attentionMask : new BigInt64Array(batch.attentionMask.length).fill(1n);
}

/** The mask of the rows that count in the statistics: undefined when every position counts. */
export function statisticsMask(batch: ModelBatch, maskPadding: boolean): BigInt64Array | undefined {
  return maskPadding ? batch.attentionMask : undefined;
}

export function tokenFeeds(session: Session, batch: ModelBatch, skip: Set<string>, rule: FeedRule): Record<string, Tensor> {
  const dims = [batch.size, batch.seqLen];
  const mask = fedMask(batch, rule.maskPadding);
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const name = meta.name;
    if (skip.has(name)) continue;
    const type = meta.isTensor ? meta.type : 'unknown';
    if (name === 'input_ids') feeds[name] = intTensor(intType(name, type), batch.inputIds, dims);
    else if (name === 'attention_mask') feeds[name] = intTensor(intType(name, type), mask, dims);
    // From a mask of ones this is 0…T−1, what transformers computes for a call without a mask.
    else if (name === 'position_ids') feeds[name] = intTensor(intType(name, type), positionIdsFromMask(mask, batch.size, batch.seqLen), dims);
    else if (name === 'token_type_ids') feeds[name] = intTensor(intType(name, type), new BigInt64Array(batch.size * batch.seqLen), dims);
    else if (name === 'use_cache_branch') feeds[name] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    else if (parsePast(name) && meta.isTensor) {
      if (type !== 'float32' && type !== 'float16') throw new Error(`cache input ${name} is ${type}; expected float32 or float16`);
      const s = cacheShape(name, meta.shape, rule.config ?? {}, parsePast(name)!.kind === 'stacked');
      feeds[name] = zeroTensor(
        type,
        s.shape.map((d) => (d === -1 ? batch.size * s.rowsPerSequence : d === -2 ? 0 : d)),
      );
    } else {
      throw new Error(
        `model input "${name}" not understood: expected input_ids, attention_mask, position_ids, token_type_ids, use_cache_branch or past key/value caches`,
      );
    }
  }
  return feeds;
}

/**
 * What calibration fed a graph with these inputs, for the run record. A graph without an
 * attention_mask cannot have pads masked as keys; calibration rows are right-padded and attention
 * is causal, so no real token attends to a pad either way and only the pad rows themselves differ,
 * which maskPadding leaves out of the statistics: the statistics are those a mask would give.
 */
export function calibrationFeeds(inputs: readonly string[], maskPadding: boolean): CalibrationFeeds {
  const has = new Set(inputs);
  const takesMask = has.has('attention_mask');
  const record: CalibrationFeeds = {
    maskPadding,
    padding: 'right',
    attentionMask: !takesMask ? 'not-an-input' : maskPadding ? 'padding' : 'ones',
    positionIds: !has.has('position_ids') ? 'not-an-input' : maskPadding ? 'from-padding' : 'arange',
    maskFed: takesMask && maskPadding,
    padsInStatistics: !maskPadding,
  };
  if (maskPadding && !takesMask) {
    record.note =
      'the graph takes no attention_mask, so pads were not masked as attention keys; rows are right-padded and attention is causal, so no real token attends to a pad and the pad rows, which are the only ones that differ, are left out of the statistics';
  }
  return record;
}
