/**
 * Prunable weights held in JS in their stored layout and element type (fp16 as raw halves), wrapped
 * as onnxruntime feeds sharing that memory, so zeroing a masked entry changes what the next run sees.
 * fp16 weights named in `widen` are held and fed widened to fp32 instead (a graph rewritten by
 * onnx/cpu-fp16.ts feedFp32 takes them so on CPU): widened once here, not cast by every run.
 */
import { float16Tensor, float32Tensor, type Tensor } from '../ort.js';
import { zeroMaskedStored } from '../onnx/apply-mask.js';
import { fp16ToFp32 } from '../onnx/fp16.js';
import { DataType, dimsOf } from '../onnx/proto.js';
import { bytesToFloat32, readTensorBytes, type OnnxModel } from '../onnx/read.js';
import type { LayerMask, PrunableLinear } from '../types.js';

export interface FeedWeight {
  /** stored layout; stored element type, or fp32 for a widened fp16 weight */
  data: Float32Array | Uint16Array;
  tensor: Tensor;
}

export async function loadFeedWeights(model: OnnxModel, linears: PrunableLinear[], widen: ReadonlySet<string> = new Set()): Promise<Map<string, FeedWeight>> {
  const out = new Map<string, FeedWeight>();
  for (const l of linears) {
    if (out.has(l.weightName)) continue;
    const t = model.initializers.get(l.weightName)!;
    const bytes = await readTensorBytes(model, t);
    const dims = dimsOf(t);
    if (t.dataType === DataType.FLOAT16) {
      const data = new Uint16Array(bytes.byteLength / 2);
      new Uint8Array(data.buffer).set(bytes);
      if (widen.has(l.weightName)) {
        const wide = fp16ToFp32(data);
        out.set(l.weightName, { data: wide, tensor: float32Tensor(wide, dims) });
      } else out.set(l.weightName, { data, tensor: float16Tensor(data, dims) });
    } else {
      const data = bytesToFloat32(bytes, 'float32');
      out.set(l.weightName, { data, tensor: float32Tensor(data, dims) });
    }
  }
  return out;
}

/** Zeroes the masked entries of a block's feed weights; returns the masks in linear order. */
export function applyBlockMasks(weights: Map<string, FeedWeight>, linears: PrunableLinear[], block: number, masks: LayerMask[]): LayerMask[] {
  const out: LayerMask[] = [];
  for (const l of linears) {
    const m = masks.find((x) => x.id === l.id);
    if (!m) throw new Error(`maskBlock(${block}) returned no mask for ${l.id}`);
    zeroMaskedStored(weights.get(l.weightName)!.data, l, m);
    out.push(m);
  }
  return out;
}

/** Feeds for the weights, only those among `declared` (a session's inputs) when given. */
export function feedsOf(weights: Map<string, FeedWeight>, declared?: Set<string>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, w] of weights) if (!declared || declared.has(name)) feeds[name] = w.tensor;
  return feeds;
}
