import { afterAll, describe, expect, it } from 'vitest';
import { cholesky, Gemm, inverseUpperCholesky, lowerInverse, type Mat } from '@polyprune/gpu-runner/prune/linalg64';
import { fasterprune, type SparseGptOptions } from '@polyprune/gpu-runner/prune/sparsegpt';
import { lcg } from './reference.js';

const gemm = new Gemm();
afterAll(() => gemm.release());

/** X·Xᵀ/k + a little: a symmetric positive definite n × n matrix with a spread of eigenvalues. */
function spd(n: number, seed: number): Mat {
  const r = lcg(seed);
  const k = n + 8;
  const x = Float64Array.from({ length: n * k }, () => r() - 0.5);
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += x[i * k + t]! * x[j * k + t]!;
      h[i * n + j] = s / k + (i === j ? 1e-3 : 0);
    }
  return { rows: n, cols: n, data: h };
}

// ---- straightforward references: textbook loops on nested arrays, as torch.linalg would compute ----

function refChol(a: number[][]): number[][] {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let s = a[j]![j]!;
    for (let k = 0; k < j; k++) s -= l[j]![k]! ** 2;
    l[j]![j] = Math.sqrt(s);
    for (let i = j + 1; i < n; i++) {
      let t = a[i]![j]!;
      for (let k = 0; k < j; k++) t -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = t / l[j]![j]!;
    }
  }
  return l;
}

/** Gauss–Jordan inverse with partial pivoting. */
function refInverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    for (let j = 0; j < 2 * n; j++) m[c]![j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return m.map((row) => row.slice(n));
}

const nested = (m: Mat) => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
const transpose = (a: number[][]) => a[0]!.map((_, j) => a.map((r) => r[j]!));

function maxRelDiff(a: number[][], b: ArrayLike<number>): number {
  let scale = 0;
  let diff = 0;
  a.flat().forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    diff = Math.max(diff, Math.abs(v - b[i]!));
  });
  return diff / scale;
}

/** Upstream fasterprune, line by line, on W[rows=dOut][cols=dIn] with the reference factorisations. */
function refFasterprune(wIn: number[][], hIn: number[][], o: SparseGptOptions): { w: number[][]; pruned: boolean[][] } {
  const rows = wIn.length;
  const cols = wIn[0]!.length;
  const W = wIn.map((r) => [...r]);
  const H = hIn.map((r) => [...r]);
  for (let i = 0; i < cols; i++)
    if (H[i]![i] === 0) {
      H[i]![i] = 1;
      for (let r = 0; r < rows; r++) W[r]![i] = 0;
    }
  const damp = (o.percdamp * H.reduce((s, r, i) => s + r[i]!, 0)) / cols;
  for (let i = 0; i < cols; i++) H[i]![i]! += damp;
  const Hinv = transpose(refChol(refInverse(H))); // cholesky(H⁻¹, upper=True)
  const pruned = W.map((r) => r.map(() => false));
  for (let i1 = 0; i1 < cols; i1 += o.blocksize) {
    const i2 = Math.min(i1 + o.blocksize, cols);
    const count = i2 - i1;
    const W1 = W.map((r) => r.slice(i1, i2));
    const Err1 = W.map(() => new Array<number>(count).fill(0));
    const d = (i: number) => Hinv[i1 + i]![i1 + i]!;
    const mask1 = W.map(() => new Array<boolean>(count).fill(false));
    if (o.prunen === 0) {
      const tmp = W1.map((r) => r.map((v, i) => v ** 2 / d(i) ** 2));
      const sorted = tmp.flat().sort((a, b) => a - b);
      const thresh = sorted[Math.floor(sorted.length * o.sparsity)]!;
      tmp.forEach((r, ri) => r.forEach((v, i) => (mask1[ri]![i] = v <= thresh)));
    }
    for (let i = 0; i < count; i++) {
      if (o.prunen !== 0 && i % o.prunem === 0) {
        for (let r = 0; r < rows; r++) {
          const group = Array.from({ length: o.prunem }, (_, j) => ({ j, s: W1[r]![i + j]! ** 2 / d(i + j) ** 2 }));
          group.sort((a, b) => a.s - b.s || a.j - b.j);
          for (const g of group.slice(0, o.prunen)) mask1[r]![i + g.j] = true;
        }
      }
      for (let r = 0; r < rows; r++) {
        const w = W1[r]![i]!;
        const q = mask1[r]![i] ? 0 : w;
        W[r]![i1 + i] = q;
        const err = (w - q) / d(i);
        for (let j = i; j < count; j++) W1[r]![j]! -= err * Hinv[i1 + i]![i1 + j]!;
        Err1[r]![i] = err;
        pruned[r]![i1 + i] = mask1[r]![i]!;
      }
    }
    for (let r = 0; r < rows; r++)
      for (let j = i2; j < cols; j++) {
        let s = 0;
        for (let i = 0; i < count; i++) s += Err1[r]![i]! * Hinv[i1 + i]![j]!;
        W[r]![j]! -= s;
      }
  }
  return { w: W, pruned };
}

describe('linalg64', () => {
  it('blocked Cholesky and triangular inverse match the textbook loops (n=150, panels of 32)', async () => {
    const h = spd(150, 1);
    const l = await cholesky(gemm, h, 32);
    expect(maxRelDiff(refChol(nested(h)), l.data)).toBeLessThan(1e-12);
    const li = await lowerInverse(gemm, l, 32);
    expect(maxRelDiff(refInverse(nested(l)), li.data)).toBeLessThan(1e-10);
  });

  it("the upper Cholesky factor of H⁻¹ equals cholesky(inverse(H), upper) (upstream's three steps)", async () => {
    const h = spd(97, 2);
    const u = await inverseUpperCholesky(gemm, h, 16);
    const ref = transpose(refChol(refInverse(nested(h))));
    expect(maxRelDiff(ref, u.data)).toBeLessThan(1e-9);
    for (let i = 0; i < 97; i++) for (let j = 0; j < i; j++) expect(u.data[i * 97 + j]).toBe(0);
  });

  it('refuses a matrix that is not positive definite', async () => {
    const h: Mat = { rows: 2, cols: 2, data: Float64Array.from([1, 2, 2, 1]) };
    await expect(cholesky(gemm, h)).rejects.toThrow(/not positive definite/);
  });
});

describe('fasterprune', () => {
  const dIn = 48;
  const dOut = 20;
  const r = lcg(9);
  const w = Float32Array.from({ length: dIn * dOut }, () => (r() - 0.5) * 2);
  const base = spd(dIn, 3);
  // One dead input (never active): its row and column of H are zero.
  for (let j = 0; j < dIn; j++) base.data[5 * dIn + j] = base.data[j * dIn + 5] = 0;
  const canonicalToRows = () => Array.from({ length: dOut }, (_, o) => Array.from({ length: dIn }, (_, i) => w[i * dOut + o]!));

  for (const o of [
    { sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 16, percdamp: 0.01 },
    { sparsity: 0.3, prunen: 0, prunem: 0, blocksize: 128, percdamp: 0.1 },
    { sparsity: 0.5, prunen: 2, prunem: 4, blocksize: 16, percdamp: 0.01 },
    { sparsity: 0.5, prunen: 4, prunem: 8, blocksize: 24, percdamp: 0.01 },
  ] as SparseGptOptions[]) {
    it(`matches upstream's loops line by line (${o.prunen ? `${o.prunen}:${o.prunem}` : `unstructured ${o.sparsity}`}, blocksize ${o.blocksize})`, async () => {
      const ref = refFasterprune(canonicalToRows(), nested(base), o);
      const got = await fasterprune(gemm, { dIn, dOut, data: w }, Float64Array.from(base.data), o);
      let agree = 0;
      let maxRel = 0;
      let scale = 0;
      for (let i = 0; i < dIn; i++)
        for (let c = 0; c < dOut; c++) {
          const k = got.keep[i * dOut + c] === 1;
          if (k === !ref.pruned[c]![i]) agree++;
          scale = Math.max(scale, Math.abs(ref.w[c]![i]!));
          maxRel = Math.max(maxRel, Math.abs(ref.w[c]![i]! - got.weight[i * dOut + c]!));
          if (!k) expect(got.weight[i * dOut + c]).toBe(0);
        }
      expect(agree).toBe(dIn * dOut);
      expect(maxRel / scale).toBeLessThan(1e-5);
      // The dead input is pruned and zero.
      for (let c = 0; c < dOut; c++) expect(got.weight[5 * dOut + c]).toBe(0);
      if (o.prunen) {
        for (let c = 0; c < dOut; c++)
          for (let g = 0; g < dIn; g += o.prunem) {
            let kept = 0;
            for (let j = g; j < g + o.prunem; j++) kept += got.keep[j * dOut + c]!;
            expect(kept).toBe(o.prunem - o.prunen);
          }
      }
    });
  }
});
