/**
 * The feeds a decoder export expects for one calibration batch, built from the session's declared
 * inputs: token ids, mask and positions in the integer type the graph declares, an empty cache
 * (past length 0) in the declared layout for graphs exported with past key/values, and
 * `use_cache_branch = false` for optimum's merged decoders. Anything else is an error, not a guess.
 */
import { cacheShape, parsePast, positionIdsFromMask, type ModelConfig } from '../onnx/graph-io.js';
import { intTensor, ort, zeroTensor, type Session, type Tensor } from '../ort.js';
import type { ModelBatch } from './batches.js';

const intType = (name: string, type: string): 'int64' | 'int32' => {
  if (type === 'int64' || type === 'int32') return type;
  throw new Error(`graph input "${name}" is ${type}; expected int64 or int32`);
};

export function tokenFeeds(session: Session, batch: ModelBatch, skip: Set<string>, config: ModelConfig = {}): Record<string, Tensor> {
  const dims = [batch.size, batch.seqLen];
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const name = meta.name;
    if (skip.has(name)) continue;
    const type = meta.isTensor ? meta.type : 'unknown';
    if (name === 'input_ids') feeds[name] = intTensor(intType(name, type), batch.inputIds, dims);
    else if (name === 'attention_mask') feeds[name] = intTensor(intType(name, type), batch.attentionMask, dims);
    else if (name === 'position_ids') feeds[name] = intTensor(intType(name, type), positionIdsFromMask(batch.attentionMask, batch.size, batch.seqLen), dims);
    else if (name === 'token_type_ids') feeds[name] = intTensor(intType(name, type), new BigInt64Array(batch.size * batch.seqLen), dims);
    else if (name === 'use_cache_branch') feeds[name] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    else if (parsePast(name) && meta.isTensor) {
      if (type !== 'float32' && type !== 'float16') throw new Error(`cache input ${name} is ${type}; expected float32 or float16`);
      const s = cacheShape(name, meta.shape, config, parsePast(name)!.kind === 'stacked');
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
