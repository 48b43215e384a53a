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

/** A pass's logits: [batch, runLength, vocab], or only some rows of it (rowOf: see forward.ts). */
export interface LogitsView {
  logits: Float32Array;
  runLength: number;
  vocab: number;
  rowOf?: Int32Array;
}

/** Run steps of a row that predict positions [from, to) when the run starts at `runStart`: what writeTokenLogProbs reads. */
export function predictingSteps(runStart: number, from: number, to: number): [number, number] {
  return [from - 1 - runStart, to - 1 - runStart];
}

/**
 * Writes log p(tokens[p] | tokens[<p]) for p in [from, to) into out[outOffset + p - from], reading
 * the logits of one batch row of a run whose first fed token sits at absolute position `runStart`
 * (the past length when a KV cache precedes the run). Position p is predicted by run step p-1-runStart.
 */
export function writeTokenLogProbs(
  view: LogitsView,
  row: number,
  runStart: number,
  tokens: Int32Array,
  from: number,
  to: number,
  out: Float64Array,
  outOffset: number,
): void {
  const { logits, runLength, vocab, rowOf } = view;
  for (let p = from; p < to; p++) {
    const step = p - 1 - runStart;
    if (step < 0 || step >= runLength) throw new Error(`position ${p} is not predicted by this run (start ${runStart}, length ${runLength})`);
    const r = rowOf ? rowOf[row * runLength + step]! : row * runLength + step;
    if (r < 0) throw new Error(`position ${p} of row ${row} got no logits in this run`);
    out[outOffset + p - from] = logProbAt(logits, r * vocab, vocab, tokens[p]!);
  }
}
