/**
 * Zeroing pruned weights in the layout and element type the model stores them in, and writing
 * the pruned model. Masks are in the canonical [dIn, dOut] layout (types.LayerMask); a weight
 * stored transposed ([dOut, dIn]: Gemm transB=1 or a Transpose in front) is indexed accordingly.
 */
import type { LayerMask, PrunableLinear } from '../types.js';
import { bytesPerElement, weightDType } from './proto.js';
import type { OnnxModel } from './read.js';
import { saveModel, type SaveOptions, type SavedModel } from './write.js';

function checkShape(linear: PrunableLinear, mask: LayerMask, length: number): void {
  if (mask.dIn !== linear.dIn || mask.dOut !== linear.dOut || mask.keep.length !== length || length !== linear.dIn * linear.dOut) {
    throw new Error(
      `mask ${mask.id} is ${mask.dIn}x${mask.dOut} (${mask.keep.length}), linear ${linear.id} is ${linear.dIn}x${linear.dOut} (${length} stored)`,
    );
  }
}

/** zeroMaskedStored for a weight laid out as its mask (canonical [dIn, dOut]): +0 where `keep` is 0. */
function zeroDropped(data: Float32Array | Uint16Array, keep: Uint8Array): void {
  const bits = data instanceof Float32Array ? new Int32Array(data.buffer, data.byteOffset, data.length) : data;
  for (let k = 0; k < keep.length; k++) bits[k]! &= (keep[k]! | -keep[k]!) >> 31;
}

/**
 * Zeroes, in place, the masked entries of a weight in stored layout (fp32 values or fp16 halves).
 * The bits of each entry are ANDed with all ones where the mask is non-zero and with 0 where it is 0
 * (`(m | −m) >> 31`), not zeroed behind a branch: half the entries go, unpredictably, and the
 * mispredicted branches cost twice the loop. Same result: +0 (all bits clear) where the mask is 0.
 */
export function zeroMaskedStored(data: Float32Array | Uint16Array, linear: PrunableLinear, mask: LayerMask): void {
  checkShape(linear, mask, data.length);
  const { dIn, dOut } = linear;
  const keep = mask.keep;
  if (!linear.storedTransposed) {
    zeroDropped(data, keep);
    return;
  }
  const bits = data instanceof Float32Array ? new Int32Array(data.buffer, data.byteOffset, data.length) : data;
  // Stored [dOut, dIn]: walk the stored entries in order, reading the mask across its rows.
  for (let o = 0; o < dOut; o++) {
    const row = o * dIn;
    for (let i = 0; i < dIn; i++) {
      const m = keep[i * dOut + o]!;
      bits[row + i]! &= (m | -m) >> 31;
    }
  }
}

/** Stored little-endian bytes with the masked entries zeroed (a copy; fp16 zero is 0x0000 too). */
export function zeroMaskedBytes(bytes: Uint8Array, dataType: number, linear: PrunableLinear, mask: LayerMask): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return zeroMaskedInPlace(copy, dataType, linear, mask);
}

/** zeroMaskedBytes without the copy: `bytes` themselves, or a zeroed copy where they are not aligned to their element size. */
export function zeroMaskedInPlace(bytes: Uint8Array, dataType: number, linear: PrunableLinear, mask: LayerMask): Uint8Array {
  const dtype = weightDType(dataType);
  const size = bytesPerElement(dtype);
  if (bytes.byteOffset % size !== 0) return zeroMaskedBytes(bytes, dataType, linear, mask);
  const n = bytes.byteLength / size;
  const view = dtype === 'float32' ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  zeroMaskedStored(view, linear, mask);
  return bytes;
}

/**
 * Writes the model with every masked weight zeroed, streaming tensor by tensor. Each weight name
 * must be masked by at most one linear's mask.
 */
export async function writePrunedModel(
  model: OnnxModel,
  linears: PrunableLinear[],
  masks: LayerMask[],
  outPath: string,
  opts: Omit<SaveOptions, 'transform'> = {},
): Promise<SavedModel> {
  const byWeight = new Map<string, { linear: PrunableLinear; mask: LayerMask }>();
  const byId = new Map(linears.map((l) => [l.id, l]));
  for (const mask of masks) {
    const linear = byId.get(mask.id);
    if (!linear) throw new Error(`mask ${mask.id} names no prunable linear of this model`);
    if (byWeight.has(linear.weightName)) throw new Error(`weight ${linear.weightName} is masked twice`);
    byWeight.set(linear.weightName, { linear, mask });
  }
  const applied = new Set<string>();
  const saved = await saveModel(model, outPath, {
    ...opts,
    transforms: (t) => byWeight.has(t.name ?? ''),
    transform: (t, bytes) => {
      const m = byWeight.get(t.name ?? '');
      if (!m) return undefined;
      applied.add(t.name!);
      // The writer's own copy (SaveOptions.transform): zeroed where it lies.
      return zeroMaskedInPlace(bytes, t.dataType!, m.linear, m.mask);
    },
  });
  // A weight that is not a main-graph initializer of this model (e.g. one local to a subgraph) would
  // silently stay dense.
  const missed = [...byWeight.keys()].filter((w) => !applied.has(w));
  if (missed.length) throw new Error(`masks for ${missed.length} weight(s) (${missed.slice(0, 3).join(', ')}) found no initializer of the graph to apply to`);
  return saved;
}
