/**
 * Token log-probabilities from a logits buffer. Logits stay float32 (as the graph returns them);
 * the log-sum-exp is accumulated in float64 so long vocabularies (250k for XGLM/BLOOM) lose no
 * precision in the normaliser.
 */

/** log softmax(logits[offset .. offset+vocab))[target], float64 accumulation. */
export function logProbAt(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  const end = offset + vocab;
  for (let i = offset; i < end; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = offset; i < end; i++) sum += Math.exp(logits[i]! - max);
  return logits[offset + target]! - max - Math.log(sum);
}

/** Index of the largest logit in one row (first on ties, so decoding is deterministic). */
export function argmaxAt(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const v = logits[offset + i]!;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return best;
}

/**
 * Writes log p(tokens[p] | tokens[<p]) for p in [from, to) into out[outOffset + p - from], reading
 * the logits of one batch row of a run whose first fed token sits at absolute position `runStart`
 * (the past length when a KV cache precedes the run). Position p is predicted by run step p-1-runStart.
 */
export function writeTokenLogProbs(
  logits: Float32Array,
  row: number,
  runLength: number,
  vocab: number,
  runStart: number,
  tokens: Int32Array,
  from: number,
  to: number,
  out: Float64Array,
  outOffset: number,
): void {
  for (let p = from; p < to; p++) {
    const step = p - 1 - runStart;
    if (step < 0 || step >= runLength) throw new Error(`position ${p} is not predicted by this run (start ${runStart}, length ${runLength})`);
    out[outOffset + p - from] = logProbAt(logits, (row * runLength + step) * vocab, vocab, tokens[p]!);
  }
}

export function sum(values: Float64Array, from = 0, to = values.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += values[i]!;
  return s;
}
