/**
 * SparseGPT (Frantar & Alistarh 2023), `fasterprune` of IST-DASLab/sparsegpt: prunes the columns of
 * W (d_out × d_in upstream) block by block in input order, choosing each block's mask by
 * w² / [H⁻¹]_ii² and spreading each pruned column's error over the later columns through the upper
 * Cholesky factor of H⁻¹ (optimal brain surgeon updates).
 *
 * Here W is the canonical [dIn, dOut] layout (types.DenseWeight), i.e. upstream's Wᵀ: upstream's
 * column i is our contiguous row i, which is what the inner loop walks. The factorisations are
 * float64 (linalg64.ts); W, as upstream, is float32 and its cross-block update
 * W[:, i2:] −= Err1·Hinv[i1:i2, i2:] is an fp32 onnxruntime Gemm.
 */
import type { DenseWeight } from '../types.js';
import { type Gemm, inverseUpperCholesky, type Mat } from './linalg64.js';
import { kthSmallest } from './select.js';

export interface SparseGptOptions {
  sparsity: number;
  /** N:M pattern (prunen of every prunem pruned); 0 for unstructured. */
  prunen: number;
  prunem: number;
  blocksize: number;
  percdamp: number;
}

export interface SparseGptResult {
  /** updated weights, canonical [dIn, dOut] */
  weight: Float32Array;
  /** keep[i*dOut + o] = 0 where pruned */
  keep: Uint8Array;
}

/**
 * Dampens H in place as upstream (dead inputs — diag 0 — get 1 on the diagonal and their weights
 * zeroed; percdamp·mean(diag) is added to the diagonal) and returns the dead inputs.
 */
export function dampen(h: Float64Array, n: number, percdamp: number): Uint8Array {
  const dead = new Uint8Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (h[i * n + i] === 0) {
      dead[i] = 1;
      h[i * n + i] = 1;
    }
    sum += h[i * n + i]!;
  }
  const damp = (percdamp * sum) / n;
  for (let i = 0; i < n; i++) h[i * n + i]! += damp;
  return dead;
}

/**
 * fasterprune on one layer. `h` (dIn × dIn, row-major, float64) is overwritten. The mask is upstream's
 * mask1 (True = pruned) negated; pruned weights are exactly 0 in `weight`.
 */
export async function fasterprune(gemm: Gemm, w: DenseWeight, h: Float64Array, o: SparseGptOptions): Promise<SparseGptResult> {
  const { dIn: cols, dOut: rows } = w;
  if (h.length !== cols * cols) throw new Error(`Hessian has ${h.length} values, expected ${cols}²`);
  const W = Float32Array.from(w.data);
  const dead = dampen(h, cols, o.percdamp);
  for (let i = 0; i < cols; i++) if (dead[i]) W.fill(0, i * rows, (i + 1) * rows);
  const hinv = await inverseUpperCholesky(gemm, { rows: cols, cols, data: h });
  const keep = new Uint8Array(cols * rows).fill(1);

  for (let i1 = 0; i1 < cols; i1 += o.blocksize) {
    const i2 = Math.min(i1 + o.blocksize, cols);
    const count = i2 - i1;
    // W1 (upstream's W[:, i1:i2]) as rows of our layout, in float64 within the block.
    const W1 = new Float64Array(count * rows);
    for (let x = 0; x < count * rows; x++) W1[x] = W[i1 * rows + x]!;
    const Err1 = new Float32Array(count * rows);
    const pruned = new Uint8Array(count * rows);
    const dg = (i: number) => hinv.data[(i1 + i) * cols + i1 + i]!;
    if (o.prunen === 0) {
      const tmp = new Float64Array(count * rows);
      for (let i = 0; i < count; i++) {
        const d2 = dg(i) * dg(i);
        for (let r = 0; r < rows; r++) tmp[i * rows + r] = (W1[i * rows + r]! * W1[i * rows + r]!) / d2;
      }
      // tmp ≤ sort(tmp)[⌊numel·sparsity⌋] is pruned (ties included), as upstream.
      const k = Math.floor(tmp.length * o.sparsity);
      if (k < tmp.length) {
        const thresh = kthSmallest(Float64Array.from(tmp), k);
        for (let x = 0; x < tmp.length; x++) if (tmp[x]! <= thresh) pruned[x] = 1;
      }
    }
    for (let i = 0; i < count; i++) {
      const d = dg(i);
      if (o.prunen !== 0 && i % o.prunem === 0) nmGroup(W1, pruned, rows, i, Math.min(o.prunem, count - i), o.prunen, dg);
      const base = i * rows;
      for (let r = 0; r < rows; r++) {
        const wv = W1[base + r]!;
        const q = pruned[base + r] ? 0 : wv;
        const err = (wv - q) / d;
        W[(i1 + i) * rows + r] = q;
        Err1[base + r] = err;
      }
      // W1[:, i:] −= err1 ⊗ Hinv1[i, i:] (column i itself is final already).
      const hrow = (i1 + i) * cols + i1;
      for (let j = i + 1; j < count; j++) {
        const c = hinv.data[hrow + j]!;
        if (c === 0) continue;
        const jb = j * rows;
        for (let r = 0; r < rows; r++) W1[jb + r]! -= Err1[base + r]! * c;
      }
    }
    for (let x = 0; x < count * rows; x++) if (pruned[x]) keep[i1 * rows + x] = 0;
    if (i2 < cols) {
      // W[:, i2:] −= Err1·Hinv[i1:i2, i2:], i.e. our rows i2.. −= Hinv[i1:i2, i2:]ᵀ·Err1ᵀ.
      const hblock = new Float32Array(count * (cols - i2));
      for (let i = 0; i < count; i++) for (let j = i2; j < cols; j++) hblock[i * (cols - i2) + j - i2] = hinv.data[(i1 + i) * cols + j]!;
      const rest: Mat<Float32Array> = { rows: cols - i2, cols: rows, data: W.slice(i2 * rows) };
      const upd = await gemm.run(
        { rows: count, cols: cols - i2, data: hblock },
        { rows: count, cols: rows, data: Err1 },
        { transA: true, alpha: -1, beta: 1, c: rest },
      );
      W.set(upd.data, i2 * rows);
    }
  }
  return { weight: W, keep };
}

/**
 * N:M within a block: for each output r, the prunen inputs of W1[i : i+width] with the smallest
 * w² / [H⁻¹]_ii² (current, updated values) are pruned; among equal scores the lower index goes first.
 */
function nmGroup(W1: Float64Array, pruned: Uint8Array, rows: number, i: number, width: number, n: number, dg: (i: number) => number): void {
  const s = new Float64Array(width);
  const idx = new Int32Array(width);
  const d2 = Array.from({ length: width }, (_, j) => dg(i + j) * dg(i + j));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) {
      const v = W1[(i + j) * rows + r]!;
      s[j] = (v * v) / d2[j]!;
      idx[j] = j;
    }
    // insertion sort of a group of m ≤ 8 by (score, index)
    for (let a = 1; a < width; a++) {
      const t = idx[a]!;
      let b = a - 1;
      while (b >= 0 && s[idx[b]!]! > s[t]!) {
        idx[b + 1] = idx[b]!;
        b--;
      }
      idx[b + 1] = t;
    }
    for (let k = 0; k < Math.min(n, width); k++) pruned[(i + idx[k]!) * rows + r] = 1;
  }
}
