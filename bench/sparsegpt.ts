/**
 * SparseGPT's linear algebra (`npm run bench -- sparsegpt`): the float64 upper Cholesky factor of H⁻¹
 * (prune/linalg64.ts: panels of 128 in JS, the rest onnxruntime Gemms) at d = 1024 and 4096, and one
 * fasterprune of a 4096 × 4096 layer, each against a plain float64 n×n×n Gemm (2n³ flops) in the same
 * run as the ratio base. Figures only, no asserts.
 */
import { pathToFileURL } from 'node:url';
import { Gemm, inverseUpperCholesky, type Mat } from '@polyprune/gpu-runner/prune/linalg64';
import { fasterprune } from '@polyprune/gpu-runner/prune/sparsegpt';

function uniform(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  });
}

/** A Hessian-like matrix: (2/k)·X·Xᵀ of k random tokens, k > d so that it is positive definite. */
async function hessian(gemm: Gemm, d: number): Promise<Mat> {
  const k = d + 256;
  const x: Mat = { rows: d, cols: k, data: uniform(d * k, d) };
  return gemm.run(x, x, { transB: true, alpha: 2 / k });
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function run(): Promise<void> {
  const gemm = new Gemm();
  try {
    for (const d of [1024, 4096]) {
      const h = await hessian(gemm, d);
      const a: Mat = { rows: d, cols: d, data: uniform(d * d, 7) };
      await gemm.run(a, a); // session warm-up
      const base = await time(() => gemm.run(a, a));
      const chol = await time(() => inverseUpperCholesky(gemm, h));
      console.log(
        `d=${d}: float64 Gemm ${base.toFixed(2)} s; Cholesky(J·H·J) + triangular inverse ${chol.toFixed(2)} s (${(chol / base).toFixed(2)}× the Gemm)`,
      );
      if (d === 4096) {
        const w = { dIn: d, dOut: d, data: Float32Array.from(uniform(d * d, 11)) };
        const fp = await time(() => fasterprune(gemm, w, Float64Array.from(h.data), { sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 128, percdamp: 0.01 }));
        console.log(`fasterprune 4096×4096 (unstructured 50%, blocksize 128): ${fp.toFixed(2)} s (${(fp / base).toFixed(2)}× the Gemm)`);
      }
    }
  } finally {
    await gemm.release();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
