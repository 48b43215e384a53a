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
import { readTensorInto, type OnnxModel } from '../onnx/read.js';
import { sharedArray } from '../prune/wasm-heap.js';
import type { LayerMask, PrunableLinear } from '../types.js';

export interface FeedWeight {
  /** stored layout; stored element type, or fp32 for a widened fp16 weight */
  data: Float32Array | Uint16Array;
  tensor: Tensor;
}

/**
 * Arrays of one block's feed weights handed on to the next block's, which has the same shapes:
 * allocating them anew every block cost as much as filling them (the fresh pages are faulted in
 * and zeroed by the kernel first: a third of reading a LLaMA block's weights, measured). Also holds
 * the one scratch array fp16 weights are read into before widening.
 */
export class FeedBuffers {
  private free: Array<Float32Array | Uint16Array> = [];
  private scratch = new Uint16Array(0);

  /**
   * `inHeap`: new arrays go in the shared WebAssembly heap, where mask selection's kernel reads and
   * zeroes them in place (prune/wasm-heap.ts) — for a caller that hands them on block after block
   * (the heap never shrinks until it is dropped); otherwise each is a SharedArrayBuffer of its own,
   * freed with its last reference.
   */
  constructor(private readonly inHeap = false) {}

  /**
   * A free array of this type and length, else a new one (contents undefined), in shared memory:
   * mask selection's threads read the weights in place (in the heap with `inHeap`).
   */
  take<T extends Float32Array | Uint16Array>(
    kind: { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
    length: number,
  ): T {
    const i = this.free.findIndex((a) => a instanceof kind && a.length === length);
    if (i >= 0) return this.free.splice(i, 1)[0] as T;
    return this.inHeap ? sharedArray(kind, length) : new kind(new SharedArrayBuffer(length * kind.BYTES_PER_ELEMENT), 0, length);
  }

  /** `length` halves of scratch, valid until the next call. */
  halves(length: number): Uint16Array {
    if (this.scratch.length < length) this.scratch = new Uint16Array(length);
    return this.scratch.subarray(0, length);
  }

  /** A block's weights back once nothing reads them any more (its session released, its masks chosen). */
  giveBack(weights: Map<string, FeedWeight>): void {
    for (const w of weights.values()) this.free.push(w.data);
  }
}

/**
 * `buffers`: where to take the arrays from (and the caller gives them back), for a caller that
 * loads block after block; new arrays otherwise.
 */
export async function loadFeedWeights(
  model: OnnxModel,
  linears: PrunableLinear[],
  widen: ReadonlySet<string> = new Set(),
  buffers = new FeedBuffers(),
): Promise<Map<string, FeedWeight>> {
  const out = new Map<string, FeedWeight>();
  const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const l of linears) {
    if (out.has(l.weightName)) continue;
    const t = model.initializers.get(l.weightName)!;
    const dims = dimsOf(t);
    const n = dims.reduce((a, b) => a * b, 1);
    if (t.dataType === DataType.FLOAT16) {
      if (widen.has(l.weightName)) {
        const halves = buffers.halves(n);
        await readTensorInto(model, t, bytesOf(halves));
        const wide = fp16ToFp32(halves, buffers.take(Float32Array, n));
        out.set(l.weightName, { data: wide, tensor: float32Tensor(wide, dims) });
      } else {
        const data = buffers.take(Uint16Array, n);
        await readTensorInto(model, t, bytesOf(data));
        out.set(l.weightName, { data, tensor: float16Tensor(data, dims) });
      }
    } else {
      const data = buffers.take(Float32Array, n);
      await readTensorInto(model, t, bytesOf(data));
      out.set(l.weightName, { data, tensor: float32Tensor(data, dims) });
    }
  }
  return out;
}

/**
 * Zeroes the masked entries of a block's feed weights, except those named in `applied` (zeroed
 * during selection); returns the masks in linear order.
 */
export function applyBlockMasks(
  weights: Map<string, FeedWeight>,
  linears: PrunableLinear[],
  block: number,
  masks: LayerMask[],
  applied: ReadonlySet<string> = new Set(),
): LayerMask[] {
  const out: LayerMask[] = [];
  for (const l of linears) {
    const m = masks.find((x) => x.id === l.id);
    if (!m) throw new Error(`maskBlock(${block}) returned no mask for ${l.id}`);
    if (!applied.has(l.weightName)) zeroMaskedStored(weights.get(l.weightName)!.data, l, m);
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
