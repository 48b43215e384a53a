/**
 * Masks from scores (docs/design.md §3.4). Scores and masks use the canonical [dIn, dOut] layout
 * (index i*dOut + o); the paper's "row" — one output neuron — is column o here.
 *
 * Order of pruning, shared by every pattern: weights are dropped in ascending (score, input index)
 * order, i.e. among equal scores the LOWER input index is dropped first. This is what a stable
 * ascending sort of each row (the reference's torch.sort(stable=True) + first k) gives, so ties never
 * depend on the selection algorithm. `dropTop` drops in descending score order instead, and keeps the
 * same tie rule (lower index dropped first among equal scores).
 *
 * How many: a row of dIn inputs at sparsity p loses exactly ⌊dIn·p⌋ weights, computed as
 * Math.floor(dIn * p) in double precision — the reference's int(d_in * ratio), float quirks included.
 */
import type { LayerMask } from '../types.js';
import { kernelOver, scratchIn, selectInPlace, type HeapLayer } from './mask-tile.js';
import { theHeap } from './wasm-heap.js';
import { assertNoNaN, kthSmallest } from './select.js';

export type MaskPattern =
  /** Per output neuron: drop ⌊dIn·p⌋ of its dIn weights (Wanda). */
  | { kind: 'unstructured'; sparsity: number }
  /** One threshold for the whole matrix (the classic magnitude baseline): drop ⌊dIn·dOut·p⌋. */
  | { kind: 'unstructured-matrix'; sparsity: number }
  /** In each group of m consecutive inputs of an output neuron keep the n best (2:4, 4:8). */
  | { kind: 'nm'; n: number; m: number };

export interface MaskSpec {
  pattern: MaskPattern;
  /** Ablation: drop the highest-scoring weights instead of the lowest. */
  dropTop?: boolean;
}

export interface LayerShape {
  dIn: number;
  dOut: number;
}

function checkDims(dIn: number, dOut: number): void {
  if (!Number.isInteger(dIn) || !Number.isInteger(dOut) || dIn < 1 || dOut < 1) {
    throw new Error(`invalid layer shape [${dIn}, ${dOut}]`);
  }
}

export function checkShape(scores: Float32Array, dIn: number, dOut: number): void {
  checkDims(dIn, dOut);
  if (scores.length !== dIn * dOut) throw new Error(`scores have ${scores.length} values, expected ${dIn}·${dOut}`);
  assertNoNaN(scores);
}

function checkSparsity(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`sparsity must be in [0, 1], got ${p}`);
}

/** Weights an output neuron with dIn inputs loses at sparsity p. */
export function prunedPerRow(dIn: number, sparsity: number): number {
  checkSparsity(sparsity);
  return Math.floor(dIn * sparsity);
}

/**
 * A layer's scores as a weight and a factor per input: score[i*dOut + o] = |W[i, o]|·factor[i],
 * computed in double and rounded to float32, which is what scores.ts computes for magnitude, Wanda
 * and mt-contrast (rowFactors). Per-neuron selection computes each score as it reads the weight:
 * no matrix of scores is written, then read, then checked for NaN in a pass of its own.
 */
export interface ScaledWeight {
  /** canonical [dIn, dOut] */
  weight: Float32Array;
  /** dIn finite values ≥ 0 (scores.ts checks the statistics they come from) */
  factor: Float64Array;
  /**
   * Also zero, in `weight`, the entries the mask drops, tile by tile while they are in cache: for a
   * weight that is fed to the next pass as it is (sequential calibration), on the selecting threads
   * instead of in a pass of its own on the main thread.
   */
  zeroMasked?: boolean;
}

/** What per-neuron selection reads: the scores, or the weight they are computed from. */
export type RowScores = Float32Array | ScaledWeight;

/**
 * Per-output-neuron mask (Wanda): in each column o, drop the ⌊dIn·p⌋ lowest scores (highest with
 * dropTop). Finds the k-th order statistic by radix selection on the scores' float bits (in
 * WebAssembly: mask-tile.ts), drops everything strictly below it, then the remaining count among the
 * values equal to it in input-index order — exact stable-sort semantics in O(dIn) per neuron instead
 * of O(dIn log dIn). Columns are independent: mask-threads.ts splits them across worker threads.
 */
export function selectRowMask(scores: RowScores, shape: LayerShape, sparsity: number, dropTop = false): Uint8Array {
  const { dIn, dOut } = shape;
  checkRowScores(scores, dIn, dOut);
  const k = prunedPerRow(dIn, sparsity);
  const keep = new Uint8Array(dIn * dOut);
  selectRowMaskInto(scores, shape, k, dropTop, keep);
  return keep;
}

/**
 * checkShape for either form. Scores are checked for NaN here; a scaled weight's scores as they are
 * computed (selectRowMaskInto), the pass over them that would find one being the selection's own.
 */
export function checkRowScores(scores: RowScores, dIn: number, dOut: number): void {
  if (scores instanceof Float32Array) {
    checkShape(scores, dIn, dOut);
    return;
  }
  checkDims(dIn, dOut);
  if (scores.weight.length !== dIn * dOut) throw new Error(`weight has ${scores.weight.length} values, expected ${dIn}·${dOut}`);
  if (scores.factor.length !== dIn) throw new Error(`factor has ${scores.factor.length} values, expected dIn=${dIn}`);
}

/**
 * selectRowMask into `keep` (every entry written), k weights dropped per neuron, on the calling
 * thread. Plain scores are not checked here; a scaled weight's are checked for NaN as they are
 * computed.
 */
export function selectRowMaskInto(scores: RowScores, shape: LayerShape, k: number, dropTop: boolean, keep: Uint8Array): void {
  const { dIn } = shape;
  if (k === 0 || k === dIn) {
    keep.fill(k === 0 ? 1 : 0);
    if (k === dIn && !(scores instanceof Float32Array) && scores.zeroMasked) scores.weight.fill(0);
    return;
  }
  selectTiles(scores, shape, k, dropTop, keep);
}

/**
 * selectRowMaskInto for 0 < k < dIn, on the calling thread's kernel (mask-tile.ts); arrays outside
 * the heap are copied in for it and back.
 */
function selectTiles(scores: RowScores, shape: LayerShape, k: number, dropTop: boolean, keep: Uint8Array): void {
  const { dIn, dOut } = shape;
  const heap = theHeap();
  const scaled = !(scores instanceof Float32Array);
  const data = scaled ? scores.weight : scores;
  const zero = scaled && scores.zeroMasked === true;
  const lent: Uint8Array[] = [];
  /** `a`'s offset in the heap, copied in first (`copy`) when it lies elsewhere. */
  const inHeap = (a: Float32Array | Uint8Array, copy: boolean): number => {
    const at = heap.offsetOf(a);
    if (at !== undefined) return at;
    const region = heap.take(a.byteLength);
    if (!region) throw new Error(`mask selection: no room in the heap for a [${dIn}, ${dOut}] layer`);
    if (copy) region.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    lent.push(region);
    return region.byteOffset;
  };
  try {
    const weightAt = inHeap(data, true);
    const keepAt = inHeap(keep, false); // every entry is written
    const layer: HeapLayer = { weightAt, keepAt, factor: scaled ? scores.factor : undefined, zero, dIn, dOut, k, dropTop };
    selectInPlace(kernelOver(heap.id, heap.memory), heap.memory, layer, scratchIn(heap, dIn), 0, dOut);
    // Copies back: the mask, and the weight where its dropped entries were zeroed.
    const back = (a: Float32Array | Uint8Array, at: number) => {
      if (at !== heap.offsetOf(a)) new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(new Uint8Array(heap.buffer(), at, a.byteLength));
    };
    back(keep, keepAt);
    if (zero) back(data, weightAt);
  } finally {
    for (const region of lent) heap.give(region);
  }
}

/**
 * N:M mask: for each output neuron and each group of m consecutive inputs [g·m, g·m+m), keep the n
 * best and drop the m−n others (lowest first, lower index first among ties). n counts KEPT weights,
 * the NVIDIA sparse-tensor-core convention (2:4 = at most 2 non-zeros in every 4). dIn must be a
 * multiple of m: a partial last group has no defined N:M meaning and would not run on sparse kernels.
 */
export function selectNmMask(scores: Float32Array, shape: LayerShape, n: number, m: number, dropTop = false): Uint8Array {
  const { dIn, dOut } = shape;
  checkShape(scores, dIn, dOut);
  if (!Number.isInteger(n) || !Number.isInteger(m) || m < 1 || n < 0 || n > m) {
    throw new Error(`N:M pattern needs integers 0 ≤ n ≤ m, m ≥ 1; got ${n}:${m}`);
  }
  if (dIn % m !== 0) throw new Error(`N:M ${n}:${m} needs dIn divisible by ${m}, got dIn=${dIn}`);
  const keep = new Uint8Array(dIn * dOut).fill(1);
  const drop = m - n;
  if (drop === 0) return keep;
  const sign = dropTop ? -1 : 1;
  const vals = new Float32Array(m);
  const gone = new Uint8Array(m);
  for (let i0 = 0; i0 < dIn; i0 += m) {
    // o innermost: each of the m input rows is read contiguously across neurons.
    for (let o = 0; o < dOut; o++) {
      for (let r = 0; r < m; r++) {
        vals[r] = sign * scores[(i0 + r) * dOut + o]!;
        gone[r] = 0;
      }
      // m ≤ 8 in practice: repeated minimum (strict <, scanning upward) is the stable choice.
      for (let d = 0; d < drop; d++) {
        let best = -1;
        for (let r = 0; r < m; r++) {
          if (gone[r] === 0 && (best < 0 || vals[r]! < vals[best]!)) best = r;
        }
        gone[best] = 1;
        keep[(i0 + best) * dOut + o] = 0;
      }
    }
  }
  return keep;
}

/**
 * One threshold for the whole matrix: drop the ⌊dIn·dOut·p⌋ lowest scores. Ties at the threshold are
 * dropped in PyTorch row-major order (output neuron, then input index) so the result does not depend
 * on how the weight is stored. (Wanda's magnitude code prunes `score <= sorted[k]`, which removes at
 * least one weight too many; polyprune removes exactly k.)
 */
export function selectMatrixMask(scores: Float32Array, shape: LayerShape, sparsity: number, dropTop = false): Uint8Array {
  const { dIn, dOut } = shape;
  checkShape(scores, dIn, dOut);
  checkSparsity(sparsity);
  const total = dIn * dOut;
  const k = Math.floor(total * sparsity);
  const keep = new Uint8Array(total).fill(1);
  if (k === 0) return keep;
  if (k === total) return keep.fill(0);
  const sign = dropTop ? -1 : 1;
  const work = new Float32Array(total);
  for (let x = 0; x < total; x++) work[x] = sign * scores[x]!;
  const t = kthSmallest(work, k - 1);
  let below = 0;
  let equal = 0;
  for (let x = 0; x < total; x++) {
    const v = sign * scores[x]!;
    if (v < t) {
      below++;
      keep[x] = 0;
    } else if (v === t) equal++;
  }
  const ties = k - below;
  if (ties === 0) return keep;
  // Tie positions as PyTorch flat indices o·dIn + i; only sorted when some ties must survive.
  const keys = new Float64Array(equal);
  let e = 0;
  for (let x = 0; x < total; x++) {
    if (sign * scores[x]! === t) keys[e++] = (x % dOut) * dIn + Math.floor(x / dOut);
  }
  if (ties < equal) keys.sort();
  for (let q = 0; q < ties; q++) {
    const key = keys[q]!;
    const o = Math.floor(key / dIn);
    const i = key - o * dIn;
    keep[i * dOut + o] = 0;
  }
  return keep;
}

/** Mask of one layer for a pattern (the function the pruning pipeline calls). */
export function selectMask(id: string, scores: Float32Array, shape: LayerShape, spec: MaskSpec): LayerMask {
  const { pattern } = spec;
  const dropTop = spec.dropTop ?? false;
  let keep: Uint8Array;
  switch (pattern.kind) {
    case 'unstructured':
      keep = selectRowMask(scores, shape, pattern.sparsity, dropTop);
      break;
    case 'unstructured-matrix':
      keep = selectMatrixMask(scores, shape, pattern.sparsity, dropTop);
      break;
    case 'nm':
      keep = selectNmMask(scores, shape, pattern.n, pattern.m, dropTop);
      break;
  }
  return { id, dIn: shape.dIn, dOut: shape.dOut, keep };
}

export interface LayerSparsity {
  id: string;
  dIn: number;
  dOut: number;
  total: number;
  pruned: number;
  /** pruned / total */
  sparsity: number;
}

export interface SparsityReport {
  layers: LayerSparsity[];
  total: number;
  pruned: number;
  /** Over all prunable weights (weighted by layer size), not the mean of the layers' sparsities. */
  sparsity: number;
}

export function countPruned(mask: LayerMask): number {
  let pruned = 0;
  for (let x = 0; x < mask.keep.length; x++) if (mask.keep[x] === 0) pruned++;
  return pruned;
}

export function sparsityReport(masks: Iterable<LayerMask>): SparsityReport {
  const layers: LayerSparsity[] = [];
  let total = 0;
  let pruned = 0;
  for (const mask of masks) {
    const n = mask.dIn * mask.dOut;
    if (mask.keep.length !== n) throw new Error(`mask ${mask.id} has ${mask.keep.length} entries, expected ${n}`);
    const p = countPruned(mask);
    layers.push({ id: mask.id, dIn: mask.dIn, dOut: mask.dOut, total: n, pruned: p, sparsity: p / n });
    total += n;
    pruned += p;
  }
  return { layers, total, pruned, sparsity: total === 0 ? 0 : pruned / total };
}
