/**
 * The statistic Wanda needs per input channel j of a linear: Σ over tokens of x_j², accumulated in
 * Float64 across batches, later divided by the number of samples.
 */
export { asFloat32 } from '../onnx/fp16.js';

/**
 * Adds Σ_t x[t, j]² into `acc` for a captured activation whose rows are the batch's tokens in
 * order ([batch, seqLen, d] or [batch*seqLen, d]). With `mask`, rows whose attention mask is 0
 * (padding) are skipped. Returns the number of rows added.
 */
export function accumulateSquares(acc: Float64Array, x: Float32Array, mask?: BigInt64Array): number {
  const d = acc.length;
  const rows = x.length / d;
  if (!Number.isInteger(rows)) throw new Error(`activation of ${x.length} values is not a multiple of width ${d}`);
  if (mask && mask.length !== rows) throw new Error(`attention mask has ${mask.length} positions, activation has ${rows} rows`);
  let used = 0;
  for (let r = 0; r < rows; r++) {
    if (mask && mask[r] === 0n) continue;
    const base = r * d;
    for (let j = 0; j < d; j++) {
      const v = x[base + j]!;
      acc[j]! += v * v;
    }
    used++;
  }
  return used;
}
