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

/** A pass's logits: [batch, runLength, vocab], or only some rows of it (rowOf: see forward.ts), or the target log-probs the graph computed instead. */
export interface LogitsView {
  logits: Float32Array;
  runLength: number;
  vocab: number;
  rowOf?: Int32Array;
  /** values[r * k + j] = log p(targets[r * k + j]) at logits row r, in place of the logits */
  tokenLogProbs?: { values: Float32Array; targets: Int32Array; k: number };
}

/**
 * What forward's `targetsOf` should ask for when batch row `row` is read for the sequences
 * `seqs[row]`, each starting at the row's first fed token (several: a shared prefix's members, which
 * part after it): the distinct tokens that follow each step.
 */
export function nextTokenTargets(seqs: ReadonlyArray<ReadonlyArray<Int32Array>>): (row: number, step: number) => number[] {
  return (row, step) => {
    const out: number[] = [];
    for (const s of seqs[row] ?? []) if (step + 1 < s.length && !out.includes(s[step + 1]!)) out.push(s[step + 1]!);
    return out;
  };
}

function computedLogProb(view: LogitsView, r: number, target: number): number {
  const { values, targets, k } = view.tokenLogProbs!;
  for (let j = r * k; j < (r + 1) * k; j++) if (targets[j] === target) return values[j]!;
  throw new Error(`the pass computed no log-prob for token ${target} at logits row ${r}`);
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
    out[outOffset + p - from] = view.tokenLogProbs ? computedLogProb(view, r, tokens[p]!) : logProbAt(logits, r * vocab, vocab, tokens[p]!);
  }
}
